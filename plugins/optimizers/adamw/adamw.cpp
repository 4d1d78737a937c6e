// AdamW: decoupled weight decay, then Adam with exact bias correction (algorithms.md 2.4):
//   W <- (1 - eta_t wd) W
//   m = b1 m + (1-b1) G;  v = b2 v + (1-b2) G^2;   t = 1, 2, ... counts the steps taken
//   W <- W - eta_t * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
#include <muonlab/plugin.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../common/optimizer_common.hpp"

namespace {

using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::ParamType;
namespace optim = muonlab::optim;

constexpr const char* kName = "adamw";

class AdamW final : public muonlab::Optimizer {
 public:
  AdamW(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : schedule_(optim::StepSchedule::from_params(params, kName)),
        beta1_(params.real("beta1")),
        beta2_(params.real("beta2")),
        eps_(params.real("eps")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    blocks_ = blocks;
    first_moment_.clear();
    second_moment_.clear();
    for (const muonlab::BlockSpec& block : blocks) {
      first_moment_.push_back(Matrix::Zero(block.rows, block.cols));
      second_moment_.push_back(Matrix::Zero(block.rows, block.cols));
    }
    steps_taken_ = 0;
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    optim::check_block_shapes(kName, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
    // The bias correction counts the updates folded into m and v (t = 1 on the first step).
    ++steps_taken_;
    const double t = static_cast<double>(steps_taken_);
    const BiasCorrection correction{1.0 - std::pow(beta1_, t), 1.0 - std::pow(beta2_, t)};
    for (std::size_t b = 0; b < params.size(); ++b) {
      update_block(params[b], grads[b], first_moment_[b], second_moment_[b], correction);
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step"}};
  }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  struct BiasCorrection {
    double first;   // 1 - beta1^t
    double second;  // 1 - beta2^t
  };

  // One fused element-wise pass: decay, the two moment updates, the Adam step.
  void update_block(muonlab::MatrixMap w, muonlab::ConstMatrixMap grad, Matrix& m, Matrix& v,
                    const BiasCorrection& correction) const {
    // (1 - eta wd) is exactly 1 for wd = 0, so W is not perturbed then.
    const double shrink = 1.0 - eta_ * weight_decay_;
    double* wd = w.data();
    const double* gd = grad.data();
    double* md = m.data();
    double* vd = v.data();
    const Eigen::Index size = w.size();
    for (Eigen::Index i = 0; i < size; ++i) {
      const double g = gd[i];
      md[i] = beta1_ * md[i] + (1.0 - beta1_) * g;
      vd[i] = beta2_ * vd[i] + (1.0 - beta2_) * g * g;
      const double m_hat = md[i] / correction.first;
      const double v_hat = vd[i] / correction.second;
      wd[i] *= shrink;
      // As in adam: m_hat = 0 takes no Adam step, so eps = 0 with a zero gradient stays 0.
      if (m_hat != 0.0) wd[i] -= eta_ * m_hat / (std::sqrt(v_hat) + eps_);
    }
  }

  const optim::StepSchedule schedule_;
  const double beta1_, beta2_, eps_, weight_decay_;
  std::vector<muonlab::BlockSpec> blocks_;
  std::vector<Matrix> first_moment_, second_moment_;  // m and v, one per block
  std::int64_t steps_taken_ = 0;
  double eta_ = 0.0;
};

constexpr std::uint32_t kBelowHigh = muonlab::kParamHighExclusive;

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("1e-3", "base step size eta_0"),
    {"beta1", ParamType::Real, "0.9", 0.0, 1.0, kBelowHigh, nullptr, "first-moment EMA factor"},
    {"beta2", ParamType::Real, "0.999", 0.0, 1.0, kBelowHigh, nullptr, "second-moment EMA factor"},
    {"eps", ParamType::Real, "1e-8", 0.0, kUnbounded, 0, nullptr, "added to sqrt(v_hat) in the denominator"},
    optim::weight_decay_param("1e-2", "decoupled: W <- (1 - eta_t * weight_decay) W before the Adam step"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
};

}  // namespace

MUONLAB_PLUGIN(AdamW, "adamw", "1.0.0", "AdamW: decoupled weight decay and bias-corrected Adam step", kParams)
