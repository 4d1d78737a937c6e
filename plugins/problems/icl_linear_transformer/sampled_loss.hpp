// Empirical loss over a batch of real prompts, (1/B) sum_b 1/2 (yhat_b - y_b)^2, with the
// LSA forward pass on each prompt embedding Z_b and its exact gradient (README.md "Sampled
// loss"). Allocation-free after construction.
#pragma once

#include "icl_model.hpp"

namespace muonlab_icl {

class SampledLoss {
 public:
  SampledLoss(std::int64_t d, std::int64_t context_length, std::int64_t batch);

  // Merged: yhat_b = x_q^T Gamma h_b with h_b = (1/N) sum_j y_j x_j, which is the LSA output
  // for W^KQ = [[Gamma^T, 0], [0, 0]] and W^PV = [[0, 0], [0, 1]].
  double merged(const PromptBatch& batch, const muonlab::ConstMatrixMap& gamma, muonlab::MatrixMap grad);

  // Separate: yhat_b = [Z_b + W^PV Z_b (Z_b^T W^KQ Z_b) / N]_{d+1, N+1}, the full LSA.
  double separate(const PromptBatch& batch, const muonlab::ConstMatrixMap& kq, const muonlab::ConstMatrixMap& pv,
                  muonlab::MatrixMap grad_kq, muonlab::MatrixMap grad_pv);

 private:
  std::int64_t d_, n_, b_;
  Matrix queries_;     // merged: d x B query covariates; separate: (d+1) x B query columns z_q
  Matrix context_;     // merged: d x B, h_b; separate: (d+1) x B, W^KQ z_q
  Matrix product_;     // merged: d x B, Gamma h_b; separate: (d+1) x B, r_b Z_b a_b / (N B)
  Vector residual_;    // B: yhat_b - y_b
  Vector values_;      // B (N + 1): a = Z^T rho for every column
  Vector scores_;      // N + 1: s_b = Z_b^T W^KQ z_q, the attention scores of the query
  Vector value_grad_;  // d + 1: gradient in the last row of W^PV
};

}  // namespace muonlab_icl
