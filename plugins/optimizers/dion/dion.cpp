// Dion (docs/algorithms.md 2.13): rank-r amortized power iteration with error feedback. For each
// m x n block, with Q (n x r) persisting across steps:
//   B = M + G                          (M accumulates what the low-rank steps left out)
//   P = orth(B Q)                      (m x r, orthonormal columns)
//   R = B^T P                          (n x r)
//   M = B - (1 - mu) P R^T             (error feedback)
//   Q = R / (column norms of R + eps)  (eps = 1e-8)
//   W <- (1 - eta_t wd) W - eta_t s P Q^T
// Q_0 has i.i.d. N(0, 1) entries drawn from muonlab::Rng(seed) (std::mt19937_64) by one
// muonlab::NormalSampler(0, 1), block after block, column-major (docs/random.md). Everything is sized in initialize();
// step() allocates nothing.
#include <muonlab/plugin.hpp>
#include <muonlab/random.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::ParamType;
using muonlab::Vector;
namespace optim = muonlab::optim;

constexpr const char* kName = "dion";

// Guard of the column normalization Q = R / (||R_j|| + eps), as in the reference code.
constexpr double kColumnNormEps = 1e-8;

// A column of B Q whose part outside the span of the previous columns is below this fraction
// of its norm is numerically dependent: it is set to zero instead of amplifying rounding.
constexpr double kDependentColumn = 1e-12;

struct BlockState {
  double scale = 1.0;   // s
  Matrix error;         // M (m x n), also holds B during a step
  Matrix basis;         // Q (n x r)
  Matrix left;          // P (m x r)
  Matrix right;         // R (n x r)
  Matrix update;        // P Q^T (m x n)
  Vector coefficients;  // r, Gram-Schmidt projections
};

// Columns of p made orthonormal in place by classical Gram-Schmidt with one
// reorthogonalization pass (CGS2: orthogonal to working precision); dependent or zero
// columns become zero.
void orthonormalize_columns(Matrix& p, Vector& coefficients) {
  for (Eigen::Index j = 0; j < p.cols(); ++j) {
    auto v = p.col(j);
    const double original = v.norm();
    for (int pass = 0; pass < 2 && j > 0; ++pass) {
      coefficients.head(j).noalias() = p.leftCols(j).transpose() * v;
      v.noalias() -= p.leftCols(j) * coefficients.head(j);
    }
    const double remaining = v.norm();
    if (remaining == 0.0 || remaining <= kDependentColumn * original) {
      v.setZero();
    } else {
      v /= remaining;
    }
  }
}

class Dion final : public optim::BlockwiseOptimizer<BlockState> {
 public:
  Dion(const muonlab::Params& params, const muonlab::CreateContext& context)
      : BlockwiseOptimizer(params, kName),
        mu_(params.real("momentum")),
        rank_(params.integer("rank")),
        scaling_(optim::parse_shape_scaling(params.text("scaling"), kName)),
        weight_decay_(params.real("weight_decay")),
        seed_(context.seed) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    muonlab::Rng rng(seed_);
    muonlab::NormalSampler normal(0.0, 1.0);  // one stream of draws for all blocks, one cache
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const std::int64_t m = blocks[b].rows, n = blocks[b].cols;
      const std::int64_t r = block_rank(m, n);
      BlockState& s = state_[b];
      s.scale = optim::shape_scale(scaling_, m, n);
      s.error = Matrix::Zero(m, n);
      s.basis = gaussian(n, r, normal, rng);
      s.left = Matrix::Zero(m, r);
      s.right = Matrix::Zero(n, r);
      s.update = Matrix::Zero(m, n);
      s.coefficients = Vector::Zero(r);
    }
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      BlockState& s = state_[b];
      s.error += grads[b];  // B
      power_iteration(s);
      optim::decoupled_update(params[b], eta_, weight_decay_, eta_ * s.scale, s.update);
    }
  }

 private:
  // r = rank capped at min(m, n); rank 0 means min(m, n) (rank_fraction 1 of the reference).
  std::int64_t block_rank(std::int64_t m, std::int64_t n) const {
    const std::int64_t full = std::min(m, n);
    return rank_ == 0 ? full : std::min(rank_, full);
  }

  static Matrix gaussian(std::int64_t rows, std::int64_t cols, muonlab::NormalSampler& normal, muonlab::Rng& rng) {
    Matrix q(rows, cols);
    for (Eigen::Index j = 0; j < cols; ++j)
      for (Eigen::Index i = 0; i < rows; ++i) q(i, j) = normal(rng);
    return q;
  }

  // One warm-started power-iteration step on B (held in s.error); leaves the error feedback
  // in s.error, the new Q in s.basis and P Q^T in s.update. A column of R that is exactly
  // zero (B Q had no new direction there, e.g. B = 0) keeps its previous Q column, so the
  // iteration can pick the direction up again once B has one.
  void power_iteration(BlockState& s) const {
    s.left.noalias() = s.error * s.basis;
    orthonormalize_columns(s.left, s.coefficients);
    s.right.noalias() = s.error.transpose() * s.left;
    s.error.noalias() -= (1.0 - mu_) * s.left * s.right.transpose();
    for (Eigen::Index j = 0; j < s.right.cols(); ++j) {
      const double norm = s.right.col(j).norm();
      if (norm > 0.0) s.basis.col(j) = s.right.col(j) / (norm + kColumnNormEps);
    }
    s.update.noalias() = s.left * s.basis.transpose();
  }

  const double mu_;
  const std::int64_t rank_;
  const optim::ShapeScaling scaling_;
  const double weight_decay_;
  const std::uint64_t seed_;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.01"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "error-feedback factor mu: M = B - (1 - mu) P R^T"),
    muonlab::integer("rank", "0")
        .at_least(0.0)
        .doc("rank r of the update per block, capped at min(m, n); 0 means min(m, n)"),
    optim::scaling_param("spectral",
                         "update factor s: 1, sqrt(max(1, m/n)), 0.2 sqrt(max(m, n)), or sqrt(m/n) (reference)",
                         "none|shape|rms|spectral"),
    optim::decoupled_weight_decay_param("0.01"),
};

}  // namespace

MUONLAB_PLUGIN(Dion, "dion", "1.0.0",
               "Dion: rank-r amortized power iteration with error feedback, W <- W - eta_t s P Q^T", kParams)
