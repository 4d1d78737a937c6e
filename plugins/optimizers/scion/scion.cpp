// Scion (Pethick et al., arXiv 2502.07529; reference LIONS-EPFL/scion scion.py, docs/algorithms.md 2.11):
//   D_t = (1 - alpha) D_{t-1} + alpha G_t       (alpha < 1; alpha = 1 means D_t = G_t, no state)
//   d_t = radius * LMO(D_t)
//     spectral: LMO(D) = s * orthogonalizer(D),  s = sqrt(m/n) (normalized) or sqrt(m), optionally max(1, s)
//     sign:     LMO(D) = c * sign(D),            c = 1/n (normalized) or 1
//   constrained:    W <- (1 - eta_t) W - eta_t d_t      (conditional-gradient / Frank-Wolfe step)
//   unconstrained:  W <- W - eta_t d_t
// m = rows = d_out, n = cols = d_in, as for a PyTorch Linear weight.
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
namespace optim = muonlab::optim;

constexpr const char* kName = "scion";

enum class Lmo { Spectral, Sign };

Lmo parse_lmo(const std::string& name) {
  if (name == "spectral") return Lmo::Spectral;
  if (name == "sign") return Lmo::Sign;
  throw std::invalid_argument(std::string(kName) + ": unknown lmo '" + name + "' (expected spectral|sign)");
}

// Buffers of one block, sized in initialize() so that step() allocates nothing.
struct BlockState {
  double lmo_scale = 1.0;  // s (spectral) or c (sign)
  Matrix average;          // D (empty when alpha == 1)
  Matrix direction;        // LMO(D) / lmo_scale
};

class Scion final : public optim::BlockwiseOptimizer<BlockState> {
 public:
  Scion(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        alpha_(params.real("alpha")),
        radius_(params.real("radius")),
        lmo_(parse_lmo(params.text("lmo"))),
        normalized_(params.boolean("normalized")),
        max_scale_(params.boolean("max_scale")),
        unconstrained_(params.boolean("unconstrained")),
        orthogonalizer_(params.orthogonalizer("orthogonalizer")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      BlockState& s = state_[b];
      s.lmo_scale = lmo_scale(blocks[b].rows, blocks[b].cols);
      s.direction = Matrix::Zero(blocks[b].rows, blocks[b].cols);
      if (averages()) s.average = Matrix::Zero(blocks[b].rows, blocks[b].cols);
    }
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      BlockState& s = state_[b];
      if (averages()) {
        s.average = (1.0 - alpha_) * s.average + alpha_ * grads[b];  // the reference's buf.mul_(1-a).add_(g, alpha=a)
        unscaled_lmo(s.average, s.direction);
      } else {
        unscaled_lmo(grads[b], s.direction);
      }
      apply_update(params[b], s);
    }
  }

 private:
  bool averages() const { return alpha_ < 1.0; }

  // The LMO's shape factor (scion.py Spectral / Sign with normalized and max options).
  double lmo_scale(std::int64_t rows, std::int64_t cols) const {
    const double m = static_cast<double>(rows);
    const double n = static_cast<double>(cols);
    if (lmo_ == Lmo::Sign) return normalized_ ? 1.0 / n : 1.0;
    const double s = normalized_ ? std::sqrt(m / n) : std::sqrt(m);
    return max_scale_ ? std::max(1.0, s) : s;
  }

  // out = msign(D) (spectral, through the orthogonalizer) or sign(D), before the factor.
  void unscaled_lmo(const Eigen::Ref<const Matrix>& d, Matrix& out) const {
    if (lmo_ == Lmo::Spectral) {
      orthogonalizer_.apply(d, out);
    } else {
      out = d.cwiseSign();
    }
  }

  // W <- (1 - eta) W - eta radius c LMO (constrained) or W - eta radius c LMO.
  void apply_update(muonlab::MatrixMap w, const BlockState& s) const {
    const double step = eta_ * radius_ * s.lmo_scale;
    if (unconstrained_) {
      w -= step * s.direction;
    } else {
      optim::decoupled_update(w, eta_, 1.0, step, s.direction);  // (1 - eta_t * 1) W - step LMO
    }
  }

  const double alpha_, radius_;
  const Lmo lmo_;
  const bool normalized_, max_scale_, unconstrained_;
  const muonlab::OrthogonalizerRef orthogonalizer_;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("1e-3"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    muonlab::real("alpha", "1.0")
        .above(0.0)
        .at_most(1.0)
        .doc(
            "Scion's 'momentum' (one minus the usual momentum): D_t = (1-alpha) D_{t-1} + alpha G_t; 1 = no averaging"),
    muonlab::real("radius", "1.0").above(0.0).doc("norm-ball radius rho (scion.py 'scale') multiplying the LMO"),
    muonlab::choice("lmo", "spectral", "spectral|sign")
        .doc("linear minimization oracle: spectral (orthogonalizer) or sign"),
    muonlab::boolean("normalized", "true").doc("LMO factor: spectral sqrt(m/n) (else sqrt(m)); sign 1/n (else 1)"),
    muonlab::boolean("max_scale", "false").doc("spectral LMO: use max(1, factor) (scion.py Spectral(max=True))"),
    muonlab::boolean("unconstrained", "false")
        .doc("false: W <- (1 - eta_t) W - eta_t d_t (constrained); true: W <- W - eta_t d_t"),
    optim::orthogonalizer_param("svd", "polar-factor routine of the spectral LMO"),
};

}  // namespace

MUONLAB_PLUGIN(Scion, "scion", "1.0.0", "Scion: LMO steps over a norm ball, W <- (1 - eta_t) W - eta_t rho LMO(D_t)",
               kParams)
