// Freon (Shumaylov et al., "Muon is Not That Special", arXiv 2605.11181; docs/algorithms.md 2.16):
// steepest descent under a Schatten-q (quasi-)norm, with momentum.
//   B_t = mu B_{t-1} + G_t                               (sum form, as summarized in docs/algorithms.md)
//   B_t = U diag(s) V^T  (thin SVD),  r = #{ s_i > rank_threshold * s_1 }
//   O_t = (B_n B_n^T)^{-c} B_n = U_r diag((s_i / ||s_r||_q)^(q-1)) V_r^T,   B_n = B_t / ||B_t||_{S_q}
//   W  <- (1 - eta_t wd) W - eta_t O_t                   c = 1 - q/2
// q = 2 (c = 0) is normalized gradient descent B / ||B||_F, q = 1 (c = 1/2) is Muon's polar
// factor, q < 1 inverts the spectrum. The fractional power is computed exactly from the SVD
// (the paper's QDWH-based approximation is not reproduced), so the normalization and the
// power share one decomposition.
#include <muonlab/linalg.hpp>
#include <muonlab/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::Matrix;
using muonlab::ParamType;
using muonlab::Vector;
namespace optim = muonlab::optim;

constexpr const char* kName = "freon";

// Buffers of one block, sized in initialize() so that step() allocates nothing.
struct BlockState {
  Matrix momentum;       // B
  Matrix scaled_u;       // U_r diag(f)
  Matrix update;         // O
  Vector factors;        // f_i = (s_i / N)^(q - 1)
  muonlab::ThinSvd svd;  // keeps its LAPACK workspace between steps
};

class Freon final : public optim::BlockwiseOptimizer<BlockState> {
 public:
  Freon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        beta_(params.real("momentum")),
        q_(params.real("q")),
        rank_threshold_(params.real("rank_threshold")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const std::int64_t p = std::min(blocks[b].rows, blocks[b].cols);
      state_[b].momentum = Matrix::Zero(blocks[b].rows, blocks[b].cols);
      state_[b].update = Matrix::Zero(blocks[b].rows, blocks[b].cols);
      state_[b].scaled_u = Matrix::Zero(blocks[b].rows, p);
      state_[b].factors = Vector::Zero(p);
    }
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      BlockState& s = state_[b];
      optim::accumulate_momentum(optim::MomentumForm::Sum, beta_, s.momentum, grads[b]);
      schatten_direction(s);
      optim::decoupled_update(params[b], eta_, weight_decay_, eta_, s.update);
    }
  }

 private:
  // Singular values kept: above rank_threshold * s_1 (none for a zero buffer). For q < 1 the
  // power q - 1 is negative, so an unthresholded tiny s_i would blow up the step.
  Eigen::Index active_rank(const Vector& s) const {
    Eigen::Index r = 0;
    while (r < s.size() && s(r) > rank_threshold_ * s(0) && s(r) > 0.0) ++r;
    return r;
  }

  // O = U_r diag((s_i / ||s_r||_q)^(q-1)) V_r^T from the SVD of the momentum buffer.
  void schatten_direction(BlockState& s) const {
    s.svd.compute(s.momentum, true);
    const Vector& sv = s.svd.singular_values();
    const Eigen::Index r = active_rank(sv);
    if (r == 0) {
      s.update.setZero();
      return;
    }
    // ||s||_q through s_1 (s_i / s_1 <= 1) so that large q-th powers cannot overflow.
    const double top = sv(0);
    const double norm = top * std::pow((sv.head(r) / top).array().pow(q_).sum(), 1.0 / q_);
    s.factors.head(r) = (sv.head(r) / norm).array().pow(q_ - 1.0);
    s.scaled_u.leftCols(r) = s.svd.u().leftCols(r) * s.factors.head(r).asDiagonal();
    s.update.noalias() = s.scaled_u.leftCols(r) * s.svd.vt().topRows(r);
  }

  const double beta_;
  const double q_;
  const double rank_threshold_;
  const double weight_decay_;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.02"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "factor mu of the sum-form buffer B_t = mu B_{t-1} + G_t (scale-free here)"),
    muonlab::real("q", "1.0")
        .above(0.0)
        .at_most(2.0)
        .doc("Schatten exponent: 2 = normalized GD, 1 = Muon, < 1 = quasi-norm regime (c = 1 - q/2)"),
    muonlab::real("rank_threshold", "1e-8")
        .at_least(0.0)
        .below(1.0)
        .doc("singular values <= rank_threshold * s_1 are treated as zero"),
    optim::decoupled_weight_decay_param("0"),
};

}  // namespace

MUONLAB_PLUGIN(Freon, "freon", "1.0.0",
               "Freon: Schatten-q steepest descent, W <- W - eta_t U diag((s/||s||_q)^(q-1)) V^T of the momentum",
               kParams)
