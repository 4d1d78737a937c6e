// The last step of most matrix optimizers here (docs/algorithms.md 0):
//
//   W <- (1 - eta_t weight_decay) W - step D        (step = eta_t s, eta_t / divisor, eta_t nu, ...)
//
// Decoupled weight decay uses eta_t, not the scaled step, as in every implementation read;
// with weight_decay = 0 the factor is exactly 1 and W is not perturbed. One pass, no
// allocation; the expression is the one the plugins wrote inline, so results are unchanged.
#pragma once

#include <muonlab/types.hpp>

namespace muonlab::optim {

inline void decoupled_update(MatrixMap w, double eta, double weight_decay, double step, const Matrix& direction) {
  w = (1.0 - eta * weight_decay) * w - step * direction;
}

}  // namespace muonlab::optim
