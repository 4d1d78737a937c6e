// Test matrices and drivers shared by the orthogonalizer plugins' tests (test code only:
// include it from a test_<name>.cpp). The expected values (exact polar factors, closed
// forms) stay in each test.
//
//   haar_factors(rows, cols, rank, seed)   U (rows x rank), V (cols x rank) Haar-distributed, one mt19937_64 stream
//   compose(f, s)                          U diag(s) V^T
//   geometric_spectrum(p, kappa)           singular values from 1 down to 1 / kappa
//   apply(orthogonalizer, G)               the plugin's output, pre-filled with NaN
//   orthonormality_defect(O)               ||O^T O - I||_F (tall) or ||O O^T - I||_F (wide)
//   check_exact_polar_on_shapes(...)       tall, wide and square inputs against the exact polar factor
#pragma once

#include <muonlab/linalg.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <utility>

#include <catch2/catch.hpp>

#include "test_support.hpp"

namespace muonlab::orth_test {

struct Factors {
  Matrix u, v;  // orthonormal columns
};

inline Factors haar_factors(Eigen::Index rows, Eigen::Index cols, Eigen::Index rank, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return Factors{haar_orthonormal(rows, rank, rng), haar_orthonormal(cols, rank, rng)};
}

inline Matrix compose(const Factors& f, const Vector& s) { return f.u * s.asDiagonal() * f.v.transpose(); }

// Singular values geometrically spaced from 1 down to 1 / kappa.
inline Vector geometric_spectrum(Eigen::Index p, double kappa) {
  Vector s(p);
  for (Eigen::Index i = 0; i < p; ++i) s(i) = std::pow(kappa, -static_cast<double>(i) / static_cast<double>(p - 1));
  return s;
}

// Output pre-filled with NaN so that an entry the plugin forgets to write is caught.
inline Matrix apply(OrthogonalizerHandle& orthogonalizer, const Matrix& gradient) {
  Matrix output = Matrix::Constant(gradient.rows(), gradient.cols(), std::numeric_limits<double>::quiet_NaN());
  orthogonalizer.apply(gradient, output);
  return output;
}

inline double orthonormality_defect(const Matrix& o) {
  const Matrix gram = o.rows() >= o.cols() ? Matrix(o.transpose() * o) : Matrix(o * o.transpose());
  return (gram - Matrix::Identity(gram.rows(), gram.cols())).norm();
}

// On a tall 50 x 20, a wide 20 x 50 and a square 30 x 30 input G = input(rows, cols):
// ||O - polar(G)||_F < tolerance against muonlab::testing::exact_polar (Jacobi SVD), and, when
// defect_tolerance > 0, orthonormality_defect(O) < defect_tolerance. The caller states why
// its tolerances hold.
inline void check_exact_polar_on_shapes(OrthogonalizerHandle& orthogonalizer,
                                        const std::function<Matrix(Eigen::Index rows, Eigen::Index cols)>& input,
                                        double tolerance, double defect_tolerance = 0.0) {
  const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{50, 20}, {20, 50}, {30, 30}};
  for (const auto& [rows, cols] : shapes) {
    CAPTURE(rows, cols);
    const Matrix g = input(rows, cols);
    const Matrix o = apply(orthogonalizer, g);
    CHECK((o - testing::exact_polar(g)).norm() < tolerance);
    if (defect_tolerance > 0.0) CHECK(orthonormality_defect(o) < defect_tolerance);
  }
}

}  // namespace muonlab::orth_test
