// Spectral maps through the thin SVD: O = U_r diag(phi(s_1), ..., phi(s_r)) V_r^T for a map
// phi of the retained singular values, r = #{s_i > rank_threshold * s_1}. Shared by the
// orthogonalizers that replace sign(s) by another function of the spectrum
// (smoothed_polar, schatten). Include from a plugin as <muonlab/orth/spectral_map.hpp>.
#pragma once

#include <muonlab/linalg.hpp>
#include <muonlab/types.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "muonlab/orth/shape_cache.hpp"

namespace muonlab::orth {

// Flops of a thin SVD with vectors, textbook estimates from Golub & Van Loan (3rd ed.,
// Fig. 5.4.1). LAPACK dgesdd first reduces by QR when the long side is at least 11/6 of the
// short one (its MNTHR): the R-SVD count; otherwise it bidiagonalizes directly: the
// Golub-Reinsch count. (The same estimate as the svd orthogonalizer's.)
inline double thin_svd_flops(Eigen::Index rows, Eigen::Index cols) {
  const Eigen::Index short_side = std::min(rows, cols);
  const Eigen::Index long_side = std::max(rows, cols);
  const bool qr_first = long_side >= short_side * 11 / 6;  // dgesdd: MNTHR = INT(MINMN*11/6)
  const double p = static_cast<double>(short_side);
  const double q = static_cast<double>(long_side);
  return qr_first ? 6.0 * q * p * p + 20.0 * p * p * p : 14.0 * q * p * p + 8.0 * p * p * p;
}

// r = #{s_i > threshold * s_1}; s sorted in descending order. Zero when s_1 = 0.
inline Eigen::Index retained_rank(const Vector& s, double threshold) {
  if (s.size() == 0) return 0;
  const double cutoff = threshold * s(0);
  Eigen::Index r = 0;
  while (r < s.size() && s(r) > cutoff) ++r;
  return r;
}

// "%.3g" of a double, for error messages.
inline std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", value);
  return text;
}

class SpectralMap {
 public:
  // phi is called as phi(kept, mapped) with kept (const Eigen::Ref<const Vector>&) the r
  // retained singular values (descending, all > 0) and mapped (Eigen::Ref<Vector>, size r)
  // to receive phi of each. Singular values at or below the threshold map to
  // 0, so the zero matrix maps to exactly zero and phi is never called on it.
  template <class Phi>
  void apply(ConstMatrixMap gradient, MatrixMap output, double rank_threshold, Phi&& phi) {
    Workspace& w = workspaces_.get(gradient.rows(), gradient.cols());
    w.svd.compute(gradient, /*with_vectors=*/true);
    const Eigen::Index r = retained_rank(w.svd.singular_values(), rank_threshold);
    rank_ = r;
    cost_.gemms = r > 0 ? 1 : 0;
    cost_.flops = thin_svd_flops(gradient.rows(), gradient.cols()) +
                  2.0 * static_cast<double>(gradient.rows() * gradient.cols() * r);
    if (r == 0) {
      output.setZero();
      return;
    }
    auto mapped = w.mapped.head(r);
    phi(w.svd.singular_values().head(r), mapped);
    if (!mapped.allFinite()) {
      throw std::runtime_error("the spectral map overflowed on singular values between " +
                               format_number(w.svd.singular_values()(r - 1)) + " and " +
                               format_number(w.svd.singular_values()(0)));
    }
    // U_r diag(phi) first (an O(m r) column scaling), then one GEMM into the output.
    w.scaled_u.leftCols(r).noalias() = w.svd.u().leftCols(r) * mapped.asDiagonal();
    output.noalias() = w.scaled_u.leftCols(r) * w.svd.vt().topRows(r);
  }

  OrthogonalizerCost last_cost() const { return cost_; }
  Eigen::Index last_rank() const { return rank_; }

 private:
  struct Workspace {
    Workspace(Eigen::Index rows, Eigen::Index cols)
        : scaled_u(rows, std::min(rows, cols)), mapped(std::min(rows, cols)) {}
    ThinSvd svd;
    Matrix scaled_u;  // U_r diag(phi), m x r used of m x p
    Vector mapped;    // phi(s_i), r used of p
  };

  ShapeCache<Workspace> workspaces_;
  OrthogonalizerCost cost_;
  Eigen::Index rank_ = 0;
};

}  // namespace muonlab::orth
