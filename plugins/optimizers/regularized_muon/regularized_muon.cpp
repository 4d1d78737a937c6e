// Regularized Muon: Muon with the polar factor replaced by the smoothed (regularized) map
//   O = (N N^T + lambda^2 I)^{-1/2} N = U diag(s_i / sqrt(s_i^2 + lambda^2)) V^T
// of the smoothed spectral gradient flows analysed in the literature (docs/theory.md section 8,
// Kang et al.; their exact smoothing is not verified). With momentum, as in muon:
//   M_t = beta M_{t-1} + (1 - beta) G_t     (only when beta > 0)
//   N_t = (1 - beta) G_t + beta M_t  (nesterov)   else N_t = M_t   (N_t = G_t when beta = 0)
//   W  <- (1 - eta_t wd) W - eta_t s O_t
// lambda_scale relative: lambda = lambda * s_1 (scale invariant, a soft rank threshold);
// absolute: lambda as given (O ~ N / lambda for small N, the polar factor for large N).
// Computed exactly through the thin SVD. Since lambda > 0 the map sends s = 0 to 0 smoothly,
// so no rank threshold is needed.
#include <muonlab/linalg.hpp>
#include <muonlab/plugin.hpp>

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

constexpr const char* kName = "regularized_muon";

// Buffers of one block, sized in initialize() so that step() allocates nothing.
struct BlockState {
  double scale = 1.0;               // s
  optim::MomentumBuffers momentum;  // M and N (none when momentum == 0)
  Matrix scaled_u;                  // U diag(f)
  Matrix update;                    // O
  Vector factors;                   // f_i = s_i / hypot(s_i, lambda)
  muonlab::ThinSvd svd;             // keeps its LAPACK workspace between steps
};

class RegularizedMuon final : public optim::BlockwiseOptimizer<BlockState> {
 public:
  RegularizedMuon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        momentum_(optim::MomentumSettings::from_params(params, optim::MomentumForm::Ema, /*optional=*/true)),
        lambda_(params.real("lambda")),
        relative_(params.text("lambda_scale") == "relative"),
        scaling_(optim::parse_shape_scaling(params.text("scaling"), kName)),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const std::int64_t m = blocks[b].rows, n = blocks[b].cols, p = std::min(m, n);
      BlockState& s = state_[b];
      s.scale = optim::shape_scale(scaling_, m, n);
      s.momentum.allocate(momentum_, m, n);
      s.scaled_u = Matrix::Zero(m, p);
      s.update = Matrix::Zero(m, n);
      s.factors = Vector::Zero(p);
    }
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      BlockState& s = state_[b];
      // N_t: the gradient, the EMA buffer, or its Nesterov look-ahead (Keller's convention).
      smoothed_polar(s.momentum.direction(momentum_, grads[b]), s);
      optim::decoupled_update(params[b], eta_, weight_decay_, eta_ * s.scale, s.update);
    }
  }

 private:
  // s.update = U diag(s_i / hypot(s_i, lambda)) V^T; zero for a zero input.
  void smoothed_polar(const Eigen::Ref<const Matrix>& input, BlockState& s) const {
    s.svd.compute(input, true);
    const Vector& sv = s.svd.singular_values();
    const double lambda = relative_ ? lambda_ * (sv.size() > 0 ? sv(0) : 0.0) : lambda_;
    if (sv.size() == 0 || sv(0) == 0.0) {
      s.update.setZero();
      return;
    }
    for (Eigen::Index i = 0; i < sv.size(); ++i) s.factors(i) = sv(i) / std::hypot(sv(i), lambda);
    s.scaled_u.noalias() = s.svd.u() * s.factors.asDiagonal();
    s.update.noalias() = s.scaled_u * s.svd.vt();
  }

  const optim::MomentumSettings momentum_;
  const double lambda_;
  const bool relative_;
  const optim::ShapeScaling scaling_;
  const double weight_decay_;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.1"),
    MUONLAB_STEP_SCHEDULE_PARAMS("geometric", "0.9"),
    optim::momentum_param("0", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t; 0 = no momentum"),
    optim::nesterov_param("false", "smooth (1-beta) G_t + beta M_t instead of M_t"),
    muonlab::real("lambda", "1e-3")
        .above(0.0)
        .doc("smoothing: each singular value s maps to s / sqrt(s^2 + lambda^2) (lambda scaled by s_1 when relative)"),
    muonlab::choice("lambda_scale", "relative", "relative|absolute")
        .doc("relative: lambda * s_1 (scale invariant); absolute: lambda as given"),
    optim::scaling_param("none"),
    optim::decoupled_weight_decay_param("0"),
};

}  // namespace

MUONLAB_PLUGIN(RegularizedMuon, "regularized_muon", "1.0.0",
               "Regularized Muon: W <- W - eta_t U diag(s / sqrt(s^2 + lambda^2)) V^T of the (momentum) gradient",
               kParams)
