// Momentum buffers in the two conventions of docs/algorithms.md 2.0, and their Nesterov forms:
//
//   EMA:  M_t = beta M_{t-1} + (1 - beta) G_t     Nesterov: N_t = (1 - beta) G_t + beta M_t
//   sum:  M_t = beta M_{t-1} + G_t                Nesterov: N_t = G_t + beta M_t
//
// (EMA: Keller's Muon, AdaMuon, NorMuon, PolarGrad, MARS-M; sum: PyTorch SGD, Moonlight, dion.)
// The two are proportional (ratio 1 / (1 - beta)), so a scale-invariant map such as msign
// cannot tell them apart; a scale-sensitive one (nuclear-norm factor, second moments,
// absolute clipping) can. All functions write into preallocated buffers and allocate nothing.
#pragma once

#include <muonlab/params.hpp>
#include <muonlab/types.hpp>

#include <stdexcept>
#include <string>

namespace muonlab::optim {

enum class MomentumForm { Ema, Sum };

inline MomentumForm parse_momentum_form(const std::string& name, const std::string& plugin) {
  if (name == "ema") return MomentumForm::Ema;
  if (name == "sum") return MomentumForm::Sum;
  throw std::invalid_argument(plugin + ": unknown momentum form '" + name + "' (expected ema|sum)");
}

// Weight of the new gradient in the buffer update: 1 - beta (EMA) or 1 (sum).
inline double gradient_weight(MomentumForm form, double beta) { return form == MomentumForm::Ema ? 1.0 - beta : 1.0; }

// buffer <- beta * buffer + w * grad, with w from gradient_weight. One fused pass.
template <class Buffer, class Grad>
void accumulate_momentum(MomentumForm form, double beta, Eigen::MatrixBase<Buffer>& buffer,
                         const Eigen::MatrixBase<Grad>& grad) {
  buffer.derived() = beta * buffer + gradient_weight(form, beta) * grad;
}

// out <- w * grad + beta * buffer (the Nesterov look-ahead of the updated buffer).
template <class Buffer, class Grad, class Out>
void nesterov_direction(MomentumForm form, double beta, const Eigen::MatrixBase<Buffer>& buffer,
                        const Eigen::MatrixBase<Grad>& grad, Eigen::MatrixBase<Out>& out) {
  out.derived() = gradient_weight(form, beta) * grad + beta * buffer;
}

// How a Muon-type method turns G_t into the direction N_t it orthogonalizes:
//   inactive (beta = 0 and the momentum is optional):  N_t = G_t, no state
//   else:  M_t = accumulate_momentum(form, beta, M_{t-1}, G_t);  N_t = M_t, or with nesterov
//          N_t = nesterov_direction(form, beta, M_t, G_t)
struct MomentumSettings {
  MomentumForm form = MomentumForm::Ema;
  double beta = 0.0;
  bool nesterov = false;
  bool optional = true;  // false: the buffer is kept (and accumulated) even for beta = 0

  // Reads "momentum" and, when declared, "nesterov" from a plugin's parameters.
  static MomentumSettings from_params(const Params& params, MomentumForm form, bool optional) {
    MomentumSettings s;
    s.form = form;
    s.beta = params.real("momentum");
    s.nesterov = params.has("nesterov") && params.boolean("nesterov");
    s.optional = optional;
    return s;
  }

  bool active() const { return beta > 0.0 || !optional; }
};

// The buffers of one block for MomentumSettings: M when active, N when also nesterov.
class MomentumBuffers {
 public:
  // Sized here so that direction() allocates nothing.
  void allocate(const MomentumSettings& settings, Eigen::Index rows, Eigen::Index cols) {
    momentum_ = settings.active() ? Matrix::Zero(rows, cols) : Matrix();
    nesterov_ = settings.active() && settings.nesterov ? Matrix::Zero(rows, cols) : Matrix();
  }

  // Updates the buffers with grad and returns N_t (a view of grad, M or N; no copy).
  Eigen::Ref<const Matrix> direction(const MomentumSettings& settings, ConstMatrixMap grad) {
    if (!settings.active()) return grad;
    accumulate_momentum(settings.form, settings.beta, momentum_, grad);
    if (!settings.nesterov) return momentum_;
    nesterov_direction(settings.form, settings.beta, momentum_, grad, nesterov_);
    return nesterov_;
  }

  const Matrix& momentum() const { return momentum_; }

 private:
  Matrix momentum_;  // M (empty when inactive)
  Matrix nesterov_;  // N (empty unless active with nesterov)
};

}  // namespace muonlab::optim
