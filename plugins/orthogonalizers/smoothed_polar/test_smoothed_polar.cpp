// Tests of the smoothed polar factor against closed forms on diagonal inputs and an
// independent oracle: (G G^T + lambda^2 I)^{-1/2} G from Eigen's symmetric eigensolver.
#include <catch2/catch.hpp>

#include <muonlab/linalg.hpp>

#include <Eigen/SVD>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "test_support.hpp"

#include "../common/polar_test_support.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;
using muonlab::orth_test::apply;

Matrix gaussian(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix g(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) g(i, j) = normal(rng);
  return g;
}

// (G G^T + lambda^2 I)^{-1/2} G through the eigendecomposition of the regularized Gram
// matrix: no SVD involved.
Matrix regularized_oracle(const Matrix& g, double lambda) {
  const Matrix a = g * g.transpose() + lambda * lambda * Matrix::Identity(g.rows(), g.rows());
  Eigen::SelfAdjointEigenSolver<Matrix> eigen(a);
  const Matrix inverse_root = eigen.eigenvectors() * eigen.eigenvalues().array().rsqrt().matrix().asDiagonal() *
                              eigen.eigenvectors().transpose();
  return inverse_root * g;
}

double smoothed(double s, double lambda) { return s / std::sqrt(s * s + lambda * lambda); }

}  // namespace

TEST_CASE("smoothed_polar maps a diagonal input entrywise by s / sqrt(s^2 + lambda^2)", "[smoothed_polar]") {
  // Signed "diagonal" inputs (one nonzero per row and column): singular values |d_i|, and
  // the map is odd, so each entry d maps to sign(d) |d| / sqrt(d^2 + lambda^2).
  Matrix tall = Matrix::Zero(5, 3);
  tall(0, 0) = 4.0;
  tall(1, 1) = -3.0;
  tall(2, 2) = 0.5;
  Matrix wide = Matrix::Zero(3, 5);  // the same values scattered over a wide matrix
  wide(0, 4) = 4.0;
  wide(1, 0) = -3.0;
  wide(2, 2) = 0.5;
  SECTION("absolute lambda 1") {
    auto smooth = muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda: 1.0, lambda_scale: absolute}");
    for (const Matrix& g : {tall, wide}) {
      Matrix expected = Matrix::Zero(g.rows(), g.cols());
      for (Eigen::Index j = 0; j < g.cols(); ++j)
        for (Eigen::Index i = 0; i < g.rows(); ++i)
          if (g(i, j) != 0.0) expected(i, j) = std::copysign(smoothed(std::abs(g(i, j)), 1.0), g(i, j));
      // The SVD of a permuted diagonal matrix is exact up to rounding of the values.
      CHECK((apply(*smooth, g) - expected).norm() < 1e-14);
    }
    // Spot values: 4 / sqrt(17), -3 / sqrt(10), 0.5 / sqrt(1.25).
    const Matrix o = apply(*smooth, tall);
    CHECK(o(0, 0) == Approx(4.0 / std::sqrt(17.0)).epsilon(1e-14));
    CHECK(o(1, 1) == Approx(-3.0 / std::sqrt(10.0)).epsilon(1e-14));
    CHECK(o(2, 2) == Approx(0.5 / std::sqrt(1.25)).epsilon(1e-14));
  }
  SECTION("relative lambda 0.5 is lambda = 0.5 * s_1 = 2") {
    auto smooth = muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda: 0.5, lambda_scale: relative}");
    const Matrix o = apply(*smooth, wide);
    CHECK(o(0, 4) == Approx(4.0 / std::sqrt(20.0)).epsilon(1e-14));
    CHECK(o(1, 0) == Approx(-3.0 / std::sqrt(13.0)).epsilon(1e-14));
    CHECK(o(2, 2) == Approx(0.5 / std::sqrt(4.25)).epsilon(1e-14));
    CHECK(o.squaredNorm() == Approx(16.0 / 20.0 + 9.0 / 13.0 + 0.25 / 4.25).epsilon(1e-14));
  }
}

TEST_CASE("smoothed_polar equals (G G^T + lambda^2 I)^{-1/2} G", "[smoothed_polar]") {
  const Matrix tall = gaussian(20, 12, 1);
  const Matrix wide = gaussian(9, 25, 2);
  for (const Matrix& g : {tall, wide}) {
    CAPTURE(g.rows(), g.cols());
    // Both routes are backward stable and the regularized Gram matrix has condition number
    // at most (s_1^2 + lambda^2) / lambda^2 ~ 100 here: differences ~1e-14, observed 3e-15 to 8e-15.
    auto absolute = muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda: 0.7, lambda_scale: absolute}");
    CHECK((apply(*absolute, g) - regularized_oracle(g, 0.7)).norm() < 1e-12);
    auto relative = muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda: 0.3}");
    const double s1 = Eigen::JacobiSVD<Matrix>(g).singularValues()(0);
    CHECK((apply(*relative, g) - regularized_oracle(g, 0.3 * s1)).norm() < 1e-12);
  }
}

TEST_CASE("smoothed_polar with lambda 0 is the exact polar factor", "[smoothed_polar]") {
  auto smooth = muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda: 0.0}");
  const Matrix g = gaussian(30, 12, 3);
  // Two backward-stable SVDs of a Gaussian 30 x 12 (kappa ~ 5): ~1e-14 apart.
  CHECK((apply(*smooth, g) - muonlab::testing::exact_polar(g)).norm() < 1e-12);
}

TEST_CASE("smoothed_polar with absolute lambda is G / lambda for small G and scale invariant when relative",
          "[smoothed_polar]") {
  const Matrix base = gaussian(15, 10, 4);
  const double s1 = Eigen::JacobiSVD<Matrix>(base).singularValues()(0);
  const Matrix small = base * (1e-6 / s1);  // s_1 = 1e-6
  auto absolute = muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda: 1.0, lambda_scale: absolute}");
  // s / sqrt(s^2 + 1) = s (1 - s^2 / 2 + ...): relative deviation from s at most 5e-13.
  CHECK((apply(*absolute, small) - small).norm() / small.norm() < 1e-12);
  // Relative lambda: f(t s; lambda t s_1) = f(s; lambda s_1), so scaling G changes nothing
  // beyond rounding.
  auto relative = muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda: 0.1}");
  const Matrix reference = apply(*relative, base);
  CHECK((apply(*relative, small) - reference).norm() / reference.norm() < 1e-12);
  CHECK((apply(*relative, 1e6 * base) - reference).norm() / reference.norm() < 1e-12);
}

TEST_CASE("smoothed_polar of a rank-3 input keeps the null space at zero", "[smoothed_polar]") {
  std::mt19937_64 rng(5);
  const Matrix u = muonlab::haar_orthonormal(20, 3, rng), v = muonlab::haar_orthonormal(10, 3, rng);
  Vector s(3);
  s << 2.0, 1.0, 0.25;
  const Matrix g = u * s.asDiagonal() * v.transpose();
  auto smooth = muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda: 0.5, lambda_scale: absolute}");
  Vector mapped(3);
  for (Eigen::Index i = 0; i < 3; ++i) mapped(i) = smoothed(s(i), 0.5);
  // Closed form U_3 f(S) V_3^T; the kept singular pairs are separated by gaps >= 0.25, so
  // their vectors are accurate to ~p eps s_1 / 0.25 ~ 2e-14.
  CHECK((apply(*smooth, g) - u * mapped.asDiagonal() * v.transpose()).norm() < 1e-12);
}

TEST_CASE("smoothed_polar maps zero to zero and costs one SVD and one GEMM", "[smoothed_polar]") {
  auto smooth = muonlab::testing::make_orthogonalizer("smoothed_polar");
  CHECK((apply(*smooth, Matrix::Zero(6, 4)).array() == 0.0).all());
  CHECK(smooth->last_cost().gemms == 0);
  apply(*smooth, gaussian(50, 20, 6));
  // As svd: R-SVD path 6 * 50 * 20^2 + 20 * 20^3 = 280000 plus U_r diag(f) V_r^T 2 * 50 * 20 * 20.
  CHECK(smooth->last_cost().flops == Approx(320000.0));
  CHECK(smooth->last_cost().gemms == 1);
}

TEST_CASE("smoothed_polar rejects invalid parameters", "[smoothed_polar]") {
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda: -1.0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("smoothed_polar", "{lambda_scale: frobenius}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("smoothed_polar", "{rank_threshold: 1.0}"));
}
