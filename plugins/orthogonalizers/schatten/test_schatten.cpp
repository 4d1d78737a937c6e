// Tests of the Schatten-q (Freon) direction against closed forms on diagonal inputs, the
// exact polar factor at c = 1/2 and the duality identities of the Schatten-q normalization.
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

std::unique_ptr<muonlab::OrthogonalizerHandle> make(double c, const std::string& normalization) {
  return muonlab::testing::make_orthogonalizer("schatten",
                                               "{c: " + std::to_string(c) + ", normalization: " + normalization + "}");
}

Matrix gaussian(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix g(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) g(i, j) = normal(rng);
  return g;
}

Vector singular_values(const Matrix& m) { return Eigen::JacobiSVD<Matrix>(m).singularValues(); }

// 5 x 3 with entries 4, -3, 0.5 on the diagonal: singular values 4, 3, 0.5.
Matrix diagonal_input() {
  Matrix g = Matrix::Zero(5, 3);
  g(0, 0) = 4.0;
  g(1, 1) = -3.0;
  g(2, 2) = 0.5;
  return g;
}

// Expected output on diagonal_input(): sign(d_i) (|d_i| / scale)^{1 - 2c}.
Matrix expected_diagonal(double c, double scale) {
  const double e = 1.0 - 2.0 * c;
  Matrix o = Matrix::Zero(5, 3);
  o(0, 0) = std::pow(4.0 / scale, e);
  o(1, 1) = -std::pow(3.0 / scale, e);
  o(2, 2) = std::pow(0.5 / scale, e);
  return o;
}

double schatten_norm(const Vector& s, double q) { return std::pow(s.array().pow(q).sum(), 1.0 / q); }

}  // namespace

TEST_CASE("schatten with c = 1/2 is the polar factor for every normalization", "[schatten]") {
  const Matrix g = gaussian(30, 12, 1);
  for (const std::string normalization : {"schatten_q", "spectral", "none"}) {
    CAPTURE(normalization);
    // s^0 = 1 exactly, so this is U V^T from one SVD against the Jacobi oracle (kappa ~ 5):
    // ~1e-14 apart.
    CHECK((apply(*make(0.5, normalization), g) - muonlab::testing::exact_polar(g)).norm() < 1e-12);
  }
}

TEST_CASE("schatten with c = 0 is the gradient divided by its scale", "[schatten]") {
  const Matrix g = gaussian(12, 30, 2);
  const double s1 = singular_values(g)(0);
  // The SVD reconstructs G to ~p eps ||G||: relative differences ~1e-15.
  CHECK((apply(*make(0.0, "schatten_q"), g) - g / g.norm()).norm() < 1e-13);  // q = 2: ||G||_F
  CHECK((apply(*make(0.0, "spectral"), g) - g / s1).norm() < 1e-13);
  CHECK((apply(*make(0.0, "none"), g) - g).norm() / g.norm() < 1e-13);
}

TEST_CASE("schatten maps a diagonal input by the closed form (s / N)^{1 - 2c}", "[schatten]") {
  const Matrix g = diagonal_input();
  Vector s(3);
  s << 4.0, 3.0, 0.5;
  for (const double c : {0.25, 0.75}) {
    CAPTURE(c);
    const double q = 2.0 - 2.0 * c;
    // The SVD of a diagonal matrix is exact up to rounding of the values: ~1e-15.
    CHECK((apply(*make(c, "schatten_q"), g) - expected_diagonal(c, schatten_norm(s, q))).norm() < 1e-13);
    CHECK((apply(*make(c, "spectral"), g) - expected_diagonal(c, 4.0)).norm() < 1e-13);
    CHECK((apply(*make(c, "none"), g) - expected_diagonal(c, 1.0)).norm() < 1e-13);
  }
  // c = 1 (inverted spectrum) is available with the spectral normalization: s_1 / s_i.
  CHECK((apply(*make(1.0, "spectral"), g) - expected_diagonal(1.0, 4.0)).norm() < 1e-13);
  const Matrix inverted = apply(*make(1.0, "spectral"), g);
  CHECK(inverted(2, 2) == Approx(8.0));
}

TEST_CASE("schatten_q normalization gives the unit-dual-norm steepest-descent direction", "[schatten]") {
  // For q > 1 (c < 1/2): O = U diag((s / ||s||_q)^{q-1}) V^T satisfies <G, O> = ||G||_{S_q}
  // and ||O||_{S_p} = 1 with 1/p + 1/q = 1 (Freon's Schatten-q steepest descent).
  const Matrix g = gaussian(20, 8, 3);
  const double c = 0.25, q = 1.5, p = 3.0;
  const Matrix o = apply(*make(c, "schatten_q"), g);
  const Vector s = singular_values(g);
  // Sums of 8 terms in double: ~1e-15 relative.
  CHECK((g.array() * o.array()).sum() == Approx(schatten_norm(s, q)).epsilon(1e-13));
  CHECK(schatten_norm(singular_values(o), p) == Approx(1.0).epsilon(1e-13));
}

TEST_CASE("schatten without normalization scales as t^{1 - 2c}", "[schatten]") {
  const Matrix g = gaussian(10, 16, 4);
  for (const double c : {0.25, 0.75}) {
    CAPTURE(c);
    auto schatten = make(c, "none");
    const Matrix reference = apply(*schatten, g);
    const double t = 1e3;
    // (G G^T)^{-c} G is homogeneous of degree 1 - 2c; rounding only.
    CHECK((apply(*schatten, t * g) - std::pow(t, 1.0 - 2.0 * c) * reference).norm() / reference.norm() < 1e-12);
    // The normalized variants are scale invariant.
    auto normalized = make(c, "schatten_q");
    const Matrix normalized_reference = apply(*normalized, g);
    CHECK((apply(*normalized, t * g) - normalized_reference).norm() / normalized_reference.norm() < 1e-12);
  }
}

TEST_CASE("schatten with c > 1/2 keeps a rank-deficient input's null space at zero", "[schatten]") {
  std::mt19937_64 rng(5);
  const Matrix u = muonlab::haar_orthonormal(15, 3, rng), v = muonlab::haar_orthonormal(9, 3, rng);
  Vector s(3);
  s << 2.0, 1.0, 0.5;
  const Matrix g = u * s.asDiagonal() * v.transpose();
  // Null-space singular values are rounding noise ~1e-16 s_1, below the rank threshold; a
  // power -1/2 would otherwise lift them to ~1e8.
  const Matrix o = apply(*make(0.75, "spectral"), g);
  Vector mapped(3);
  for (Eigen::Index i = 0; i < 3; ++i) mapped(i) = std::pow(s(i) / 2.0, -0.5);
  // Gaps >= 0.5 between the kept pairs: vectors accurate to ~1e-14; mapped values <= 2.
  CHECK((o - u * mapped.asDiagonal() * v.transpose()).norm() < 1e-12);
}

TEST_CASE("schatten maps zero to zero and costs one SVD and one GEMM", "[schatten]") {
  auto schatten = make(0.75, "none");
  CHECK((apply(*schatten, Matrix::Zero(4, 6)).array() == 0.0).all());
  CHECK(schatten->last_cost().gemms == 0);
  apply(*schatten, gaussian(20, 50, 6));
  CHECK(schatten->last_cost().flops == Approx(320000.0));  // as svd at 50 x 20
  CHECK(schatten->last_cost().gemms == 1);
}

TEST_CASE("schatten rejects c = 1 with the Schatten-q normalization and out-of-range c", "[schatten]") {
  CHECK_THROWS_WITH(make(1.0, "schatten_q"), Catch::Contains("c < 1"));
  CHECK_NOTHROW(make(1.0, "none"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("schatten", "{c: 1.5}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("schatten", "{c: -0.1}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("schatten", "{normalization: nuclear}"));
}
