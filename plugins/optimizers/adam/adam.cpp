// Adam with exact bias correction and coupled L2 weight decay (algorithms.md 2.4), with the
// shared step-size schedules (constant, geometric, cosine, list; optional linear warmup).
#include <muonlab/plugin.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../common/optimizer_common.hpp"

namespace {

using muonlab::kUnbounded;
using muonlab::ParamType;
namespace optim = muonlab::optim;

constexpr const char* kName = "adam";

class Adam final : public muonlab::Optimizer {
 public:
  Adam(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
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
      first_moment_.push_back(muonlab::Matrix::Zero(block.rows, block.cols));
      second_moment_.push_back(muonlab::Matrix::Zero(block.rows, block.cols));
    }
    steps_taken_ = 0;
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    optim::check_block_shapes(kName, blocks_, params, grads);
    lr_used_ = schedule_.at(iteration);
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
  void read_diagnostics(double* values) const override { values[0] = lr_used_; }

 private:
  struct BiasCorrection {
    double first;   // 1 - beta1^t
    double second;  // 1 - beta2^t
  };

  // One fused pass over the block: g = G + wd W, the two moment updates, then
  // W -= lr_t * m_hat / (sqrt(v_hat) + eps). Element-wise, so a plain loop touches each
  // array once instead of once per Eigen expression.
  void update_block(muonlab::MatrixMap w, muonlab::ConstMatrixMap grad, muonlab::Matrix& m,
                    muonlab::Matrix& v, const BiasCorrection& correction) const {
    double* wd = w.data();
    const double* gd = grad.data();
    double* md = m.data();
    double* vd = v.data();
    const Eigen::Index size = w.size();
    for (Eigen::Index i = 0; i < size; ++i) {
      const double g = gd[i] + weight_decay_ * wd[i];
      md[i] = beta1_ * md[i] + (1.0 - beta1_) * g;
      vd[i] = beta2_ * vd[i] + (1.0 - beta2_) * g * g;
      const double m_hat = md[i] / correction.first;
      const double v_hat = vd[i] / correction.second;
      // m_hat = 0 means no step; skipping it keeps eps = 0 with g = 0 at 0 instead of 0/0,
      // so beta1 = beta2 = eps = 0 is exactly signSGD with sign(0) = 0.
      if (m_hat != 0.0) wd[i] -= lr_used_ * m_hat / (std::sqrt(v_hat) + eps_);
    }
  }

  const optim::StepSchedule schedule_;
  const double beta1_, beta2_, eps_, weight_decay_;
  std::vector<muonlab::BlockSpec> blocks_;
  std::vector<muonlab::Matrix> first_moment_, second_moment_;  // m and v, one per block
  std::int64_t steps_taken_ = 0;
  double lr_used_ = 0.0;
};

constexpr std::uint32_t kBelowHigh = muonlab::kParamHighExclusive;

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("1e-3", "base step size eta_0"),
    {"beta1", ParamType::Real, "0.9", 0.0, 1.0, kBelowHigh, nullptr, "first-moment EMA factor"},
    {"beta2", ParamType::Real, "0.999", 0.0, 1.0, kBelowHigh, nullptr, "second-moment EMA factor"},
    {"eps", ParamType::Real, "1e-8", 0.0, kUnbounded, 0, nullptr,
     "added to sqrt(v_hat) in the denominator"},
    optim::weight_decay_param("0", "coupled L2 factor: g <- g + weight_decay * W"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
};

}  // namespace

MUONLAB_PLUGIN(Adam, "adam", "1.1.0", "Adam with bias correction, coupled L2 and step-size schedules",
               kParams)
