// Closed-form population loss of the linear self-attention (LSA) model and its exact
// gradient, for the merged parametrization (Gamma) and the separate one (W^KQ, W^PV).
// Derivation: README.md "Population loss". Every quantity is computed in Lambda's
// eigenbasis, where Lambda is diagonal, and rotated back once.
#pragma once

#include "icl_model.hpp"

namespace muonlab_icl {

using MatrixMap = muonlab::MatrixMap;
using ConstMatrixMap = muonlab::ConstMatrixMap;

// Separate parametrization, as it enters the prediction:
//   yhat = (1/N) sum_{j=1}^{N+1} (v^T x_j + u y_j)(x_j^T W x_q + y_j c^T x_q)
// with W = W^KQ[0:d, 0:d], c^T = W^KQ[d, 0:d], v^T = W^PV[d, 0:d], u = W^PV[d, d]; no other
// entry of W^KQ or W^PV reaches the prediction.
//
// Effective merged matrix of the LSA blocks: Gamma = u W^T + c v^T (yhat's part odd in w).
void effective_gamma(const ConstMatrixMap& kq, const ConstMatrixMap& pv, Matrix& out);

class PopulationLoss {
 public:
  explicit PopulationLoss(const DataModel& model);

  // L(Gamma) - L* = 1/2 sum_ij H_ij (Q^T (Gamma - Gamma*) Q)_ij^2, a sum of non-negative
  // terms (no cancellation near the optimum); grad = Q (H o Delta~) Q^T.
  double merged(const ConstMatrixMap& gamma, MatrixMap grad);

  // L(W^KQ, W^PV) - L*: the merged gap at Gamma = u W^T + c v^T plus the part even in w
  // (zero when c = v = 0). Gradients are (d+1) x (d+1), zero where the prediction does not
  // depend on an entry.
  double separate(const ConstMatrixMap& kq, const ConstMatrixMap& pv, MatrixMap grad_kq, MatrixMap grad_pv);

 private:
  // Merged part in the eigenbasis: gap from gamma_tilde_, gradient into grad_tilde_.
  double merged_tilde();
  // Part of the loss even in w, in the eigenbasis (w_, c_, v_, u); adds its gradient to
  // dw_, dc_, dv_, du_ and returns its value.
  double even_part(double u, double& du);

  const DataModel& model_;
  // Workspace, sized once.
  Matrix rotated_;                           // scratch of a rotation
  Matrix gamma_tilde_;                       // Q^T Gamma Q
  Matrix grad_tilde_;                        // H o (Gamma~ - diag(gamma*))
  Matrix w_, dw_, m_;                        // W~, its gradient, (W~ + W~^T) / 2
  Vector c_, v_, dc_, dv_, dp_;              // c~, v~, their gradients, gradient through p
  Vector p_, q_, wp_, wtp_, mp_, wq_, wtq_;  // Lambda v~, Lambda c~, W~ p, W~^T p, M p, W~ q, W~^T q
  Vector lam_wp_, lam_wtp_, lam_mp_, phi_, phi_v_, work_, work2_;
};

}  // namespace muonlab_icl
