// Exact predictions for matrix_least_squares (README.md next to this file, "Theory").
//
// GD on a quadratic is linear: in the eigenbasis of the Hessian every coordinate of
// D = X - X* shrinks by (1 - eta_t c) per step, c the curvature of its direction, whatever
// the target. Muon decouples only on the shared basis (X* and X_0 diagonal in (Q, P)): there
// the polar factor of the gradient is Q diag(sign) P^T and mode i moves by -eta_t s sign(e_i).
// A constant-step Muon run on a Hessian acting on the short side (n <= m) ends in a 2-cycle
// whose mean nuclear gradient norm is eta s tr(H) / 2.
#pragma once

#include <muonlab/plugin.hpp>

#include <vector>

namespace mls_theory {

using muonlab::Matrix;
using muonlab::Vector;

// What the recursions need to know about the instance.
struct Frame {
  // Independent directions of D with their curvature and initial squared coordinate:
  // one-sided, row i of Q^T D_0 (curvature h_i, weight ||q_i^T D_0||^2); two-sided, entry
  // (i, j) of Q^T D_0 R (curvature h_i g_j, weight its square).
  Vector curvature;
  Vector weight;
  // Shared basis with an aligned X_0 only (else empty): per-mode curvature c_i, target
  // coordinate x*_i and initial coordinate z_i(0) = q_i^T X_0 p_i.
  Vector mode_curvature;
  Vector mode_target;
  Vector mode_start;
  double hessian_trace = 0.0;  // tr(H) (one-sided)
  bool one_sided = true;
  bool deterministic = true;  // noise: none
  std::int64_t rows = 0;      // n (the shape of X, for Muon's scale factor)
  std::int64_t cols = 0;      // m
};

// theory/<name> arrays for this run, or {} when the optimizer has no exact theory here.
std::vector<muonlab::NamedArray> predict(const muonlab::TheoryRequest& request, const Frame& frame);

}  // namespace mls_theory
