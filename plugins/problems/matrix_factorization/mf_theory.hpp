// Spectral observables and scalar-recursion predictions for matrix factorization
// (README.md next to this file, "Observables" and "Theory"; docs/theory.md 1.2, 2, 6, 7).
//
// On an aligned iterate X = U* diag(d) R (and Y = V* diag(y) R) the gradient stays in the
// same frame, so exact simplified Muon and GD reduce to one scalar recursion per mode of
// the target. The observer measures those mode coordinates on a real run; predict() runs
// the recursions with the step sizes the optimizer reported.
#pragma once

#include <muonlab/linalg.hpp>
#include <muonlab/plugin.hpp>

#include <cstdint>
#include <vector>

namespace mf_theory {

using muonlab::ConstMatrixMap;
using muonlab::Matrix;
using muonlab::Vector;

// The target's singular structure M = U* diag(sigma) V*^T.
struct TargetFrame {
  const Matrix& u;      // U* (n x r), orthonormal columns
  const Matrix& v;      // V* (m x r); equal to u when symmetric
  const Vector& sigma;  // singular values, descending (r)
  bool symmetric;
};

// One factor F (rows x k) seen from an orthonormal basis B (rows x r): its coordinates
// B^T F and the norm of the part F - B B^T F outside span(B). B is the problem's own U* or
// V* (not copied: the problem owns both and outlives its observer), and the outside part
// is formed a block of rows at a time, so observing adds no rows x k matrix to a cell.
class FactorProjection {
 public:
  FactorProjection() = default;
  FactorProjection(const Matrix& basis, std::int64_t k);

  void compute(const ConstMatrixMap& factor);
  // ||b_i^T F|| for i = 1..r, in the basis's (mode) order.
  Vector mode_magnitudes() const;
  // Singular values of B^T F, descending.
  Vector aligned_singular_values();
  // ||F - B B^T F||_F^2, formed explicitly (a difference of norms would cancel near 0).
  double residual_squared() const { return residual_squared_; }

 private:
  static constexpr Eigen::Index kRowBlock = 256;

  const Matrix* basis_ = nullptr;
  Matrix along_;  // B^T F                          (r x k)
  Matrix off_;    // F - B along, kRowBlock rows at a time
  double residual_squared_ = 0.0;
  muonlab::ThinSvd svd_;
};

// The observables recorded on the spectra schedule, in observables() order.
class SpectralObserver {
 public:
  SpectralObserver() = default;
  SpectralObserver(const TargetFrame& frame, std::int64_t k);

  std::vector<muonlab::ScalarSpec> specs() const;
  std::vector<Vector> observe(const muonlab::ConstBlocks& params);

 private:
  bool symmetric_ = true;
  FactorProjection x_, y_;
};

// Scalar-recursion predictions for a finished run (theory/<name>), or {} when the
// optimizer has no decoupled theory (anything but gd and momentum-free, decay-free muon).
// O(T r) for T = the last requested step.
std::vector<muonlab::NamedArray> predict(const muonlab::TheoryRequest& request, const TargetFrame& frame);

}  // namespace mf_theory
