// Kaon (Shumaylov et al., "Muon is Not That Special", arXiv 2605.11181; docs/algorithms.md 2.17):
// keep the singular vectors of the momentum, scramble its singular values with a chaotic
// polynomial map.
//   B_t = mu B_{t-1} + G_t
//   X_0 = B_t / ||B_t||_F,   X_k = a (I - X_{k-1} X_{k-1}^T)^2 X_{k-1}   (k = 1..T)
//   O_t = X_T / divisor,     W <- (1 - eta_t wd) W - eta_t O_t
// On singular values: s <- a s (1 - s^2)^2, iterated T times (a = 4.1 makes it chaotic on
// [0, 1]); divisor 1.175 ~ the map's maximum a (1/sqrt 5)(4/5)^2 = 1.1735. The constants
// a = 4.1 and 1.175 come from a secondary summary; T is not documented there (default 5).
// For a tall block the equivalent X (I - X^T X)^2 is used, so the Gram matrix is the small one.
#include <muonlab/plugin.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::ParamType;
namespace optim = muonlab::optim;

constexpr const char* kName = "kaon";

// Buffers of one block, sized in initialize() so that step() allocates nothing.
struct BlockState {
  bool tall = false;  // rows > cols: iterate with the cols x cols Gram matrix
  Matrix momentum;    // B
  Matrix iterate;     // X_k
  Matrix next;        // X_{k+1}
  Matrix gram;        // I - X X^T (wide/square) or I - X^T X (tall)
  Matrix gram_sq;     // its square
};

class Kaon final : public optim::BlockwiseOptimizer<BlockState> {
 public:
  Kaon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        beta_(params.real("momentum")),
        iterations_(params.integer("iterations")),
        gain_(params.real("gain")),
        divisor_(params.real("divisor")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const std::int64_t m = blocks[b].rows, n = blocks[b].cols, p = std::min(m, n);
      state_[b] = {
          m > n, Matrix::Zero(m, n), Matrix::Zero(m, n), Matrix::Zero(m, n), Matrix::Zero(p, p), Matrix::Zero(p, p)};
    }
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      BlockState& s = state_[b];
      optim::accumulate_momentum(optim::MomentumForm::Sum, beta_, s.momentum, grads[b]);
      scramble_spectrum(s);
      optim::decoupled_update(params[b], eta_, weight_decay_, eta_ / divisor_, s.iterate);
    }
  }

 private:
  // s.iterate <- X_T, starting from B / ||B||_F (a zero buffer stays zero: no step).
  void scramble_spectrum(BlockState& s) const {
    const double norm = s.momentum.norm();
    if (norm == 0.0) {
      s.iterate.setZero();
      return;
    }
    s.iterate = s.momentum / norm;
    for (std::int64_t k = 0; k < iterations_; ++k) {
      chaotic_step(s);
      s.iterate.swap(s.next);
    }
  }

  // next = a (I - X X^T)^2 X, through the smaller Gram matrix.
  void chaotic_step(BlockState& s) const {
    if (s.tall) {
      s.gram.noalias() = -s.iterate.transpose() * s.iterate;
    } else {
      s.gram.noalias() = -s.iterate * s.iterate.transpose();
    }
    s.gram.diagonal().array() += 1.0;
    s.gram_sq.noalias() = s.gram * s.gram;
    if (s.tall) {
      s.next.noalias() = gain_ * s.iterate * s.gram_sq;
    } else {
      s.next.noalias() = gain_ * s.gram_sq * s.iterate;
    }
  }

  const double beta_;
  const std::int64_t iterations_;
  const double gain_;
  const double divisor_;
  const double weight_decay_;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.02"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "factor mu of the sum-form buffer B_t = mu B_{t-1} + G_t (scale-free here)"),
    muonlab::integer("iterations", "5")
        .at_least(0.0)
        .doc("T: applications of s <- gain s (1 - s^2)^2 (unverified; 0 gives B / ||B||_F)"),
    muonlab::real("gain", "4.1")
        .above(0.0)
        .doc("a of the map s <- a s (1 - s^2)^2 (from a secondary summary, unverified)"),
    muonlab::real("divisor", "1.175")
        .above(0.0)
        .doc("O = X_T / divisor; 1.175 ~ maximum of the map for a = 4.1 (unverified)"),
    optim::decoupled_weight_decay_param("0"),
};

}  // namespace

MUONLAB_PLUGIN(Kaon, "kaon", "1.0.0",
               "Kaon: momentum with singular values scrambled by s <- 4.1 s (1 - s^2)^2, vectors kept", kParams)
