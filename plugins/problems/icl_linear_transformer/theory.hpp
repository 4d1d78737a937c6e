// Predicted trajectories of the merged parametrization on the population loss (README.md
// "Theory"; docs/theory.md 3.4). In Lambda's eigenbasis the loss is
//   f(Gamma) - f* = c/2 sum_ij H_ij Delta~_ij^2 ,  Delta~ = Q^T (Gamma - Gamma*) Q,
// with c the loss scale (1, or 1/h_max with normalize: h_max), so
//   gd:   Delta~_ij(t+1) = (1 - lr c H_ij) Delta~_ij(t)            (exact for every init)
//   muon: gamma_i(t+1) = gamma_i(t) - eta_t s sign(gamma_i(t) - gamma*_i)
//         (exact when Gamma_0 commutes with Lambda: every iterate is then Q diag(gamma) Q^T,
//          the gradient is Q diag(c h_i (gamma_i - gamma*_i)) Q^T and its polar factor is
//          Q diag(sign(.)) Q^T).
#pragma once

#include <muonlab/plugin.hpp>

#include <vector>

#include "icl_model.hpp"

namespace muonlab_icl {

struct Prediction {
  Matrix gamma;              // T x d: eigen-coordinates q_i^T Gamma q_i at the requested steps
  Vector loss_gap;           // T: f(Gamma_t) - f*
  Vector off_diagonal_gain;  // T (muon only): growth factor of off-diagonal perturbations so far
};

// Exact GD prediction from the initial Delta~ (d x d) and the steps eta_0, eta_1, ...
Prediction predict_gd(const DataModel& model, double loss_scale, const Matrix& initial_delta_tilde,
                      const std::vector<double>& step_sizes, const std::vector<std::int64_t>& steps);

// Per-eigen sign recursion of simplified Muon (update eta_t * scale) from gamma_i(0), and the
// growth of a perturbation off the commuting set along it. To first order, the entries
// (Delta~_ij, Delta~_ji), i < j, of such a perturbation evolve by the 2 x 2 map
//   M_t = I - alpha [[a, -s b], [-s a, b]],  a = H_ij, b = H_ji, s = sign(e_i e_j),
//   alpha = eta_t scale / (h_i |e_i| + h_j |e_j|),  e_i = gamma_i - gamma*_i
// (the polar factor of diag(g) + E is sign(diag(g)) plus a skew part (E_ij - E_ji)/(|g_i| + |g_j|)
// after the signs are factored out), with eigenvalues 1 and 1 - alpha (a + b): it amplifies
// when |e_i| and |e_j| are both small against eta_t. off_diagonal_gain(t) is the largest
// ||M_{t-1} ... M_0||_2 over pairs and over the steps so far; rounding (~1e-16 relative)
// times this gain estimates how far a real run has left the commuting set.
Prediction predict_muon(const DataModel& model, double loss_scale, const Vector& initial_gamma,
                        const std::vector<double>& step_sizes, double update_scale,
                        const std::vector<std::int64_t>& steps);

}  // namespace muonlab_icl
