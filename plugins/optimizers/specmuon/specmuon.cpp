// SpecMuon: Muon with spectral guidance (muonlab's reading of Lu, Zhang, Lin, arXiv 2602.16167;
// the details are unverified, see README.md). Per block, with E_t = sqrt(max(L_t, 0) + c):
//   G_hat = G / (||G||_F + eps) = sum_j s_j u_j v_j^T                  (thin SVD)
//   first step:  r_j = E_0
//   later steps: r_j <- xi r_j / (1 + eta_t s_j^2 / (2 (E_t^2 + eps))) + (1 - xi) E_t   (relaxed SAV)
//   O = sum_{j<k} (r_j / (E_t + eps)) u_j v_j^T + sum_{j>=k} s_j u_j v_j^T
//   B <- mu B + O,   W <- (1 - eta_t wd) W - eta_t B
// Modes with s_j <= 1e-12 s_1 (including every mode of a zero gradient) get weight 0 in the
// top-k part: their singular vectors are arbitrary, as in the svd orthogonalizer's rank cut.
#include <muonlab/linalg.hpp>
#include <muonlab/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::ParamType;
using muonlab::Vector;
namespace optim = muonlab::optim;

constexpr const char* kName = "specmuon";

// Relative rank cut of the top-k part: the svd orthogonalizer's default rank_threshold.
constexpr double kRankThreshold = 1e-12;

// Buffers of one block, sized in initialize() so that step() allocates nothing.
struct BlockState {
  Eigen::Index k = 0;    // modes with an auxiliary variable: min(rank, m, n)
  Vector aux;            // r_j, j < k
  Vector weights;        // coefficient of u_j v_j^T in O (length min(m, n))
  Matrix normalized;     // G_hat
  Matrix scaled_u;       // U diag(weights)
  Matrix direction;      // O
  Matrix velocity;       // B
  muonlab::ThinSvd svd;  // keeps its LAPACK workspace between steps
};

class SpecMuon final : public optim::BlockwiseOptimizer<BlockState> {
 public:
  SpecMuon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        rank_(params.integer("rank")),
        relaxation_(params.real("relaxation")),
        energy_shift_(params.real("energy_shift")),
        eps_(params.real("eps")),
        mu_(params.real("momentum")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const Eigen::Index m = blocks[b].rows, n = blocks[b].cols, p = std::min(m, n);
      BlockState& s = state_[b];
      s.k = std::min<Eigen::Index>(rank_, p);
      s.aux = Vector::Zero(s.k);
      s.weights = Vector::Zero(p);
      s.normalized = Matrix::Zero(m, n);
      s.scaled_u = Matrix::Zero(m, p);
      s.direction = Matrix::Zero(m, n);
      s.velocity = Matrix::Zero(m, n);
    }
    started_ = false;
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& source) override {
    begin_step(iteration, params, grads);
    energy_ = loss_energy(source);
    ratio_sum_ = 0.0;
    ratio_count_ = 0;
    for (std::size_t b = 0; b < params.size(); ++b) {
      BlockState& s = state_[b];
      normalize(grads[b], s);
      s.svd.compute(s.normalized, true);
      update_aux_and_weights(s);
      s.scaled_u.noalias() = s.svd.u() * s.weights.asDiagonal();
      s.direction.noalias() = s.scaled_u * s.svd.vt();
      optim::accumulate_momentum(optim::MomentumForm::Sum, mu_, s.velocity, s.direction);
      optim::decoupled_update(params[b], eta_, weight_decay_, eta_, s.velocity);
    }
    started_ = true;
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step"},
            {"energy", "1", "loss energy E_t = sqrt(max(L_t, 0) + energy_shift)"},
            {"mean_ratio", "1", "mean over blocks and top-k modes of r_j / (E_t + eps) after this step's update"}};
  }
  void read_diagnostics(double* values) const override {
    values[0] = eta_;
    values[1] = energy_;
    values[2] = ratio_count_ > 0 ? ratio_sum_ / static_cast<double>(ratio_count_) : 0.0;
  }

 private:
  // Losses below -energy_shift are clipped so that the square root stays real.
  double loss_energy(const muonlab::GradientSource& source) const {
    double loss = 0.0;
    try {
      loss = source.loss();
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(kName) + " needs the loss of every step: " + e.what());
    }
    return std::sqrt(std::max(loss, 0.0) + energy_shift_);
  }

  // G_hat = G / (||G||_F + eps); exactly zero for a zero gradient.
  void normalize(muonlab::ConstMatrixMap grad, BlockState& s) const {
    const double norm = grad.norm();
    if (norm == 0.0) {
      s.normalized.setZero();
      return;
    }
    s.normalized = grad * (1.0 / (norm + eps_));
  }

  // SAV shrink and relaxation of each r_j (skipped at the first step, where r_j = E_0), then
  // the coefficients of O: r_j / (E_t + eps) for the top-k modes, s_j for the others.
  void update_aux_and_weights(BlockState& s) {
    const Vector& sv = s.svd.singular_values();
    const double cutoff = kRankThreshold * (sv.size() > 0 ? sv(0) : 0.0);
    const double energy_sq = energy_ * energy_ + eps_;
    for (Eigen::Index j = 0; j < s.k; ++j) {
      if (!started_) {
        s.aux(j) = energy_;
      } else {
        const double shrunk = s.aux(j) / (1.0 + eta_ * sv(j) * sv(j) / (2.0 * energy_sq));
        s.aux(j) = relaxation_ * shrunk + (1.0 - relaxation_) * energy_;
      }
      const double ratio = s.aux(j) / (energy_ + eps_);
      ratio_sum_ += ratio;
      ++ratio_count_;
      s.weights(j) = sv(j) > cutoff ? ratio : 0.0;
    }
    for (Eigen::Index j = s.k; j < sv.size(); ++j) s.weights(j) = sv(j);
  }

  const std::int64_t rank_;
  const double relaxation_;
  const double energy_shift_;
  const double eps_;
  const double mu_;
  const double weight_decay_;
  bool started_ = false;  // r_j initialised (the first step has run)
  double energy_ = 0.0;
  double ratio_sum_ = 0.0;
  std::int64_t ratio_count_ = 0;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.02"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    muonlab::integer("rank", "4")
        .at_least(0.0)
        .doc("k: leading singular modes with a SAV auxiliary variable (clamped to min(m, n)); 0 = none"),
    muonlab::real("relaxation", "0.9")
        .at_least(0.0)
        .at_most(1.0)
        .doc("xi: r_j <- xi * (SAV-shrunk r_j) + (1 - xi) * E_t; 0 = top-k part is msign"),
    muonlab::real("energy_shift", "0")
        .at_least(0.0)
        .doc("c in the loss energy E_t = sqrt(max(L_t, 0) + c) (SAV's constant C)"),
    muonlab::real("eps", "1e-30")
        .above(0.0)
        .doc("guard in G / (||G|| + eps), r_j / (E_t + eps) and E_t^2 + eps (division by zero only)"),
    optim::momentum_param("0.9", "heavy-ball factor mu of B_t = mu B_{t-1} + O_t (sum form); 0 = no momentum"),
    optim::decoupled_weight_decay_param("0"),
};

}  // namespace

MUONLAB_PLUGIN(
    SpecMuon, "specmuon", "1.0.0",
    "SpecMuon: top-k singular modes of G/||G|| scaled by relaxed SAV ratios r_j/sqrt(L), rest kept; heavy ball",
    kParams)
