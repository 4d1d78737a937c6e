// Momentum buffers in the two conventions of algorithms.md 2.0, and their Nesterov forms:
//
//   EMA:  M_t = beta M_{t-1} + (1 - beta) G_t     Nesterov: N_t = (1 - beta) G_t + beta M_t
//   sum:  M_t = beta M_{t-1} + G_t                Nesterov: N_t = G_t + beta M_t
//
// (EMA: Keller's Muon, AdaMuon, NorMuon, PolarGrad, MARS-M; sum: PyTorch SGD, Moonlight, dion.)
// The two are proportional (ratio 1 / (1 - beta)), so a scale-invariant map such as msign
// cannot tell them apart; a scale-sensitive one (nuclear-norm factor, second moments,
// absolute clipping) can. All functions write into preallocated buffers and allocate nothing.
#pragma once

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
inline double gradient_weight(MomentumForm form, double beta) {
  return form == MomentumForm::Ema ? 1.0 - beta : 1.0;
}

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

}  // namespace muonlab::optim
