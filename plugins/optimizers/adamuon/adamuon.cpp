// AdaMuon (Si, Zhang, Shen, arXiv 2507.11005; reference Chongjie-Si/AdaMuon adamuon.py,
// algorithms.md 2.14): Muon's orthogonalized direction with an element-wise second moment of
// it, then a rescale to the Frobenius norm of a full-rank polar factor:
//   M_t = b M_{t-1} + (1-b) G_t;   N_t = (1-b) G_t + b M_t (nesterov) or M_t
//   O_t = orthogonalizer(N_t)
//   V_t = b2 V_{t-1} + (1-b2) O_t^2;   V_hat = V_t / (1 - b2^t)        (t = 1, 2, ...)
//   P_t = O_t / (sqrt(V_hat) + eps);   P_t <- P_t sqrt(min(m, n)) / (||P_t||_F + eps)
//   W  <- (1 - eta_t wd) W - eta_t s P_t                                 (s = 0.2 sqrt(max(m, n)) by default)
#include <muonlab/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../common/adam_moments.hpp"
#include "../common/optimizer_common.hpp"

namespace {

using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::ParamType;
namespace optim = muonlab::optim;

constexpr const char* kName = "adamuon";

// Buffers of one block, all sized in initialize() so that step() allocates nothing.
struct BlockState {
  double scale = 1.0;        // s
  double target_norm = 1.0;  // sqrt(min(m, n)), the Frobenius norm of a full-rank polar factor
  Matrix momentum;           // M
  Matrix nesterov;           // N (empty without nesterov)
  Matrix update;             // O, then P in place
  Matrix second_moment;      // V
};

class AdaMuon final : public muonlab::Optimizer {
 public:
  AdaMuon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : schedule_(optim::StepSchedule::from_params(params, kName)),
        beta_(params.real("momentum")),
        nesterov_(params.boolean("nesterov")),
        beta2_(params.real("beta2")),
        eps_(params.real("eps")),
        orthogonalizer_(params.orthogonalizer("orthogonalizer")),
        scaling_(optim::parse_shape_scaling(params.text("scaling"), kName)),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    blocks_ = blocks;
    state_.assign(blocks.size(), BlockState{});
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const std::int64_t m = blocks[b].rows, n = blocks[b].cols;
      BlockState& s = state_[b];
      s.scale = optim::shape_scale(scaling_, m, n);
      s.target_norm = std::sqrt(static_cast<double>(std::min(m, n)));
      s.momentum = Matrix::Zero(m, n);
      if (nesterov_) s.nesterov = Matrix::Zero(m, n);
      s.update = Matrix::Zero(m, n);
      s.second_moment = Matrix::Zero(m, n);
    }
    steps_taken_ = 0;
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    optim::check_block_shapes(kName, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
    ++steps_taken_;
    const double correction = 1.0 - std::pow(beta2_, static_cast<double>(steps_taken_));
    for (std::size_t b = 0; b < params.size(); ++b) {
      BlockState& s = state_[b];
      orthogonalize_direction(grads[b], s);
      normalize_by_second_moment(s, correction);
      rescale_to_target_norm(s);
      params[b] = (1.0 - eta_ * weight_decay_) * params[b] - (eta_ * s.scale) * s.update;
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step (without the factor s)"}};
  }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  // O = orthogonalizer(N), N from the EMA momentum and its Nesterov look-ahead.
  void orthogonalize_direction(muonlab::ConstMatrixMap grad, BlockState& s) const {
    optim::accumulate_momentum(optim::MomentumForm::Ema, beta_, s.momentum, grad);
    if (!nesterov_) {
      orthogonalizer_.apply(s.momentum, s.update);
      return;
    }
    optim::nesterov_direction(optim::MomentumForm::Ema, beta_, s.momentum, grad, s.nesterov);
    orthogonalizer_.apply(s.nesterov, s.update);
  }

  // V = b2 V + (1 - b2) O^2;  O <- O / (sqrt(V / (1 - b2^t)) + eps), element-wise in one pass.
  void normalize_by_second_moment(BlockState& s, double correction) const {
    double* o = s.update.data();
    double* v = s.second_moment.data();
    const Eigen::Index size = s.update.size();
    for (Eigen::Index i = 0; i < size; ++i) {
      o[i] /= optim::adam_denominator(optim::update_second_moment(v[i], beta2_, o[i]), correction, eps_);
    }
  }

  // P <- P sqrt(min(m, n)) / (||P||_F + eps): the RMS of s P is then that of s U V^T.
  void rescale_to_target_norm(BlockState& s) const {
    s.update *= s.target_norm / (s.update.norm() + eps_);
  }

  const optim::StepSchedule schedule_;
  const double beta_;
  const bool nesterov_;
  const double beta2_, eps_;
  const muonlab::OrthogonalizerRef orthogonalizer_;
  const optim::ShapeScaling scaling_;
  const double weight_decay_;
  std::vector<muonlab::BlockSpec> blocks_;
  std::vector<BlockState> state_;
  std::int64_t steps_taken_ = 0;
  double eta_ = 0.0;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.02"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t"),
    {"nesterov", ParamType::Boolean, "true", -kUnbounded, kUnbounded, 0, nullptr,
     "orthogonalize (1-beta) G_t + beta M_t instead of M_t"},
    {"beta2", ParamType::Real, "0.999", 0.0, 1.0, muonlab::kParamHighExclusive, nullptr,
     "EMA factor of the element-wise second moment of O_t"},
    {"eps", ParamType::Real, "1e-8", 0.0, kUnbounded, muonlab::kParamLowExclusive, nullptr,
     "added to sqrt(V_hat) and to ||P||_F"},
    {"orthogonalizer", ParamType::Orthogonalizer, "svd", -kUnbounded, kUnbounded, 0, nullptr,
     "polar-factor routine applied to each block (the reference uses ns5)"},
    {"scaling", ParamType::Choice, "rms", -kUnbounded, kUnbounded, 0, optim::kMuonScalingChoices,
     "update factor s: 1, sqrt(max(1, m/n)), or 0.2 sqrt(max(m, n))"},
    optim::weight_decay_param("0.01", "decoupled: W <- (1 - eta_t * weight_decay) W"),
};

}  // namespace

MUONLAB_PLUGIN(AdaMuon, "adamuon", "1.0.0", "AdaMuon: Muon direction normalized by its element-wise second moment",
               kParams)
