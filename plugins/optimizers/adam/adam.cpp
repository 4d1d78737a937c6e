// Adam with exact bias correction and coupled L2 weight decay (algorithms.md 2.4), with an
// optional geometric step-size schedule lr_t = lr * decay^t.
#include <muonlab/plugin.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

namespace {

using muonlab::kUnbounded;
using muonlab::ParamType;

class Adam final : public muonlab::Optimizer {
 public:
  Adam(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : lr_(params.real("lr")),
        beta1_(params.real("beta1")),
        beta2_(params.real("beta2")),
        eps_(params.real("eps")),
        weight_decay_(params.real("weight_decay")),
        geometric_(params.text("schedule") == "geometric"),
        decay_(params.real("decay")) {}

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
    check_shapes(params, grads);
    lr_used_ = step_size(iteration);
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

  double step_size(std::int64_t iteration) const {
    return geometric_ ? lr_ * std::pow(decay_, static_cast<double>(iteration)) : lr_;
  }

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

  // The core hands blocks in the order and shapes given to initialize(); anything else is a
  // caller error that would otherwise read or write out of bounds.
  void check_shapes(const muonlab::Blocks& params, const muonlab::ConstBlocks& grads) const {
    if (params.size() != blocks_.size() || grads.size() != blocks_.size()) {
      throw std::invalid_argument("adam: step() got " + std::to_string(params.size()) +
                                  " blocks, initialize() declared " + std::to_string(blocks_.size()));
    }
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      const bool same = params[b].rows() == blocks_[b].rows && params[b].cols() == blocks_[b].cols &&
                        grads[b].rows() == blocks_[b].rows && grads[b].cols() == blocks_[b].cols;
      if (!same) throw std::invalid_argument("adam: block '" + blocks_[b].name + "' has a different shape than declared");
    }
  }

  const double lr_, beta1_, beta2_, eps_, weight_decay_;
  const bool geometric_;
  const double decay_;
  std::vector<muonlab::BlockSpec> blocks_;
  std::vector<muonlab::Matrix> first_moment_, second_moment_;  // m and v, one per block
  std::int64_t steps_taken_ = 0;
  double lr_used_ = 0.0;
};

constexpr std::uint32_t kAboveLow = muonlab::kParamLowExclusive;
constexpr std::uint32_t kBelowHigh = muonlab::kParamHighExclusive;

const muonlab::ParamSpec kParams[] = {
    {"lr", ParamType::Real, "1e-3", 0.0, kUnbounded, kAboveLow, nullptr, "base step size eta"},
    {"beta1", ParamType::Real, "0.9", 0.0, 1.0, kBelowHigh, nullptr, "first-moment EMA factor"},
    {"beta2", ParamType::Real, "0.999", 0.0, 1.0, kBelowHigh, nullptr, "second-moment EMA factor"},
    {"eps", ParamType::Real, "1e-8", 0.0, kUnbounded, 0, nullptr,
     "added to sqrt(v_hat) in the denominator"},
    {"weight_decay", ParamType::Real, "0", 0.0, kUnbounded, 0, nullptr,
     "coupled L2 factor: g <- g + weight_decay * W"},
    {"schedule", ParamType::Choice, "constant", -kUnbounded, kUnbounded, 0, "constant|geometric",
     "step-size schedule: constant lr, or geometric lr * decay^t"},
    {"decay", ParamType::Real, "1.0", 0.0, 1.0, kAboveLow, nullptr,
     "ratio q of the geometric schedule (ignored when constant)"},
};

}  // namespace

MUONLAB_PLUGIN(Adam, "adam", "1.0.0", "Adam with bias correction, coupled L2 and optional geometric schedule",
               kParams)
