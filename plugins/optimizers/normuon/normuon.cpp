// NorMuon (Li, Liu, Liang, Chen, Zhao, arXiv 2510.05491; reference zichongli5/NorMuon
// normuon.py, algorithms.md 2.15): Muon's orthogonalized direction with a per-row (per output
// neuron) second moment, rescaled back to the Frobenius norm it had:
//   M_t = b M_{t-1} + (1-b) G_t;   N_t = (1-b) G_t + b M_t (nesterov) or M_t
//   O_t = orthogonalizer(N_t);     phi = ||O_t||_F
//   v_t = b2 v_{t-1} + (1-b2) rowmean(O_t^2)          (v has one entry per row, no bias correction)
//   P_t = diag(1 / (sqrt(v_t) + eps)) O_t;   P_t <- P_t phi / (||P_t||_F + eps)
//   W  <- (1 - eta_t wd) W - eta_t s P_t               (s = sqrt(max(1, m/n)) by default)
#include <muonlab/plugin.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../common/optimizer_common.hpp"

namespace {

using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::ParamType;
using muonlab::Vector;
namespace optim = muonlab::optim;

constexpr const char* kName = "normuon";

// Buffers of one block, all sized in initialize() so that step() allocates nothing.
struct BlockState {
  double scale = 1.0;  // s
  Matrix momentum;     // M
  Matrix nesterov;     // N (empty without nesterov)
  Matrix update;       // O, then P in place
  Vector row_moment;   // v (m entries)
};

class NorMuon final : public muonlab::Optimizer {
 public:
  NorMuon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
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
      s.momentum = Matrix::Zero(m, n);
      if (nesterov_) s.nesterov = Matrix::Zero(m, n);
      s.update = Matrix::Zero(m, n);
      s.row_moment = Vector::Zero(m);
    }
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    optim::check_block_shapes(kName, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
    for (std::size_t b = 0; b < params.size(); ++b) {
      BlockState& s = state_[b];
      orthogonalize_direction(grads[b], s);
      const double norm_before = s.update.norm();
      normalize_rows(s);
      s.update *= norm_before / (s.update.norm() + eps_);
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

  // v = b2 v + (1 - b2) rowmean(O^2);  row i of O divided by sqrt(v_i) + eps.
  void normalize_rows(BlockState& s) const {
    const double cols = static_cast<double>(s.update.cols());
    s.row_moment = beta2_ * s.row_moment + ((1.0 - beta2_) / cols) * s.update.rowwise().squaredNorm();
    for (Eigen::Index i = 0; i < s.update.rows(); ++i) s.update.row(i) /= std::sqrt(s.row_moment(i)) + eps_;
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
  double eta_ = 0.0;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.02"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t"),
    {"nesterov", ParamType::Boolean, "true", -kUnbounded, kUnbounded, 0, nullptr,
     "orthogonalize (1-beta) G_t + beta M_t instead of M_t"},
    {"beta2", ParamType::Real, "0.95", 0.0, 1.0, muonlab::kParamHighExclusive, nullptr,
     "EMA factor of the per-row mean square of O_t"},
    {"eps", ParamType::Real, "1e-10", 0.0, kUnbounded, muonlab::kParamLowExclusive, nullptr,
     "added to sqrt(v) and to ||P||_F"},
    {"orthogonalizer", ParamType::Orthogonalizer, "svd", -kUnbounded, kUnbounded, 0, nullptr,
     "polar-factor routine applied to each block (the reference uses ns5)"},
    {"scaling", ParamType::Choice, "shape", -kUnbounded, kUnbounded, 0, optim::kMuonScalingChoices,
     "update factor s: 1, sqrt(max(1, m/n)), or 0.2 sqrt(max(m, n))"},
    optim::weight_decay_param("0", "decoupled: W <- (1 - eta_t * weight_decay) W"),
};

}  // namespace

MUONLAB_PLUGIN(NorMuon, "normuon", "1.0.0", "NorMuon: Muon direction with per-row second-moment normalization",
               kParams)
