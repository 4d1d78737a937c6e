// Muon and its simplified form (algorithms.md 2.6 and 2.7, paper-notes.md 1.2):
//   M_t = beta M_{t-1} + (1 - beta) G_t            (only when momentum beta > 0)
//   N_t = (1 - beta) G_t + beta M_t  (nesterov)    else N_t = M_t
//   O_t = orthogonalizer(N_t)                       (each block separately)
//   W  <- (1 - eta_t wd) W - eta_t s O_t            (same eta_t for every block)
// With momentum 0 this is simplified Muon, W <- W - eta_t s msign(G_t), and keeps no state.
#include <muonlab/plugin.hpp>

#include <string>
#include <vector>

#include "../common/optimizer_common.hpp"

namespace {

using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::ParamType;
namespace optim = muonlab::optim;

constexpr const char* kName = "muon";

// Buffers of one block, all sized in initialize() so that step() allocates nothing.
struct BlockState {
  double scale = 1.0;  // s
  Matrix momentum;     // M (empty when momentum == 0)
  Matrix nesterov;     // N (empty unless nesterov with momentum > 0)
  Matrix update;       // O
};

class Muon final : public muonlab::Optimizer {
 public:
  Muon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : schedule_(optim::StepSchedule::from_params(params, kName)),
        beta_(params.real("momentum")),
        nesterov_(params.boolean("nesterov")),
        orthogonalizer_(params.orthogonalizer("orthogonalizer")),
        scaling_(optim::parse_shape_scaling(params.text("scaling"), kName)),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    blocks_ = blocks;
    state_.assign(blocks.size(), BlockState{});
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      BlockState& s = state_[b];
      s.scale = optim::shape_scale(scaling_, blocks[b].rows, blocks[b].cols);
      s.update = Matrix::Zero(blocks[b].rows, blocks[b].cols);
      if (uses_momentum()) s.momentum = Matrix::Zero(blocks[b].rows, blocks[b].cols);
      if (uses_momentum() && nesterov_) s.nesterov = Matrix::Zero(blocks[b].rows, blocks[b].cols);
    }
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    optim::check_block_shapes(kName, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
    for (std::size_t b = 0; b < params.size(); ++b) {
      orthogonalize_direction(grads[b], state_[b]);
      apply_update(params[b], state_[b]);
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step"}};
  }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  bool uses_momentum() const { return beta_ > 0.0; }

  // O = orthogonalizer(N), with N built from the gradient and the momentum buffer.
  void orthogonalize_direction(muonlab::ConstMatrixMap grad, BlockState& s) const {
    if (!uses_momentum()) {
      orthogonalizer_.apply(grad, s.update);  // simplified Muon: N = G, no copy
      return;
    }
    optim::accumulate_momentum(optim::MomentumForm::Ema, beta_, s.momentum, grad);  // Keller convention
    if (!nesterov_) {
      orthogonalizer_.apply(s.momentum, s.update);
      return;
    }
    optim::nesterov_direction(optim::MomentumForm::Ema, beta_, s.momentum, grad, s.nesterov);
    orthogonalizer_.apply(s.nesterov, s.update);
  }

  // W <- (1 - eta_t wd) W - eta_t s O in one pass. The decay uses eta_t, not s eta_t
  // (decoupled weight decay as in every implementation read, algorithms.md 0); with wd = 0
  // the factor is exactly 1 and W is not perturbed.
  void apply_update(muonlab::MatrixMap w, const BlockState& s) const {
    w = (1.0 - eta_ * weight_decay_) * w - (eta_ * s.scale) * s.update;
  }

  const optim::StepSchedule schedule_;
  const double beta_;
  const bool nesterov_;
  const muonlab::OrthogonalizerRef orthogonalizer_;
  const optim::ShapeScaling scaling_;
  const double weight_decay_;
  std::vector<muonlab::BlockSpec> blocks_;
  std::vector<BlockState> state_;
  double eta_ = 0.0;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.1"),
    MUONLAB_STEP_SCHEDULE_PARAMS("geometric", "0.9"),
    optim::momentum_param("0", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t; 0 = simplified Muon"),
    {"nesterov", ParamType::Boolean, "false", -kUnbounded, kUnbounded, 0, nullptr,
     "orthogonalize (1-beta) G_t + beta M_t instead of M_t"},
    {"orthogonalizer", ParamType::Orthogonalizer, "svd", -kUnbounded, kUnbounded, 0, nullptr,
     "polar-factor routine applied to each block"},
    {"scaling", ParamType::Choice, "none", -kUnbounded, kUnbounded, 0, optim::kMuonScalingChoices,
     "update factor s: 1, sqrt(max(1, m/n)), or 0.2 sqrt(max(m, n))"},
    optim::weight_decay_param("0", "decoupled: W <- (1 - eta_t * weight_decay) W"),
};

}  // namespace

MUONLAB_PLUGIN(Muon, "muon", "1.1.0", "Muon: orthogonalized (momentum) steps, W <- W - eta_t s msign(N_t)",
               kParams)
