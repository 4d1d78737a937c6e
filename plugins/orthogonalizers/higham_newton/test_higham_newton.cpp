// Tests of Higham's scaled Newton iteration against the exact polar factor (Eigen's
// JacobiSVD through muonlab::testing::exact_polar), closed forms, and its clear error on
// singular or numerically rank-deficient input.
#include <catch2/catch.hpp>

#include <muonlab/linalg.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>

#include "test_support.hpp"

#include "../common/polar_test_support.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;
using muonlab::orth_test::apply;
using muonlab::orth_test::compose;
using muonlab::orth_test::Factors;
using muonlab::orth_test::geometric_spectrum;
using muonlab::orth_test::haar_factors;
using muonlab::orth_test::orthonormality_defect;

}  // namespace

TEST_CASE("higham_newton equals the exact polar factor on tall, wide and square inputs", "[higham_newton]") {
  auto newton = muonlab::testing::make_orthogonalizer("higham_newton");
  const auto input = [](Eigen::Index rows, Eigen::Index cols) {
    const Eigen::Index p = std::min(rows, cols);
    return compose(haar_factors(rows, cols, p, 7 + static_cast<std::uint64_t>(cols)), geometric_spectrum(p, 100.0));
  };
  // Scaled Newton is forward stable for the polar factor in practice (Higham, Functions
  // of Matrices, section 8.9): error ~ kappa p eps = 100 * 30 * 2.2e-16 ~ 7e-13 at most,
  // and the Jacobi oracle has the same order. Observed ~3e-14. The last step averages X and
  // X^{-T} of an almost orthogonal X: orthonormal to a few eps (1e-13).
  muonlab::orth_test::check_exact_polar_on_shapes(*newton, input, 1e-12, 1e-13);
}

TEST_CASE("higham_newton converges in few iterations on a kappa 1e8 input", "[higham_newton]") {
  auto newton = muonlab::testing::make_orthogonalizer("higham_newton");
  const Eigen::Index p = 30;
  const Factors f = haar_factors(p, p, p, 13);
  const Matrix g = compose(f, geometric_spectrum(p, 1e8));
  const Matrix o = apply(*newton, g);
  // Square input: the cost is 2 p^3 per iteration and nothing else.
  const double iterations = newton->last_cost().flops / (2.0 * std::pow(static_cast<double>(p), 3));
  CHECK(iterations == Approx(std::round(iterations)));
  // With optimal scaling the spread of the singular values goes 1e8 -> 5e3 -> 35 -> 3.0 ->
  // 1.16 -> 1 + 3e-3 -> 1 + 1e-6 -> 1 + 4e-13, so the change drops below the 1e-8
  // tolerance at the 8th step; the (1, inf)-norm scaling approximates the optimal one
  // within a factor p^{1/2} in zeta, worth at most one more step.
  CHECK(iterations <= 9);
  CHECK(newton->last_cost().gemms == 0);
  // Accuracy is limited by the conditioning of the polar factor, ~ kappa p eps ~ 1e-6;
  // observed ~1e-9. Orthonormality is not affected by kappa.
  CHECK((o - muonlab::testing::exact_polar(g)).norm() < 1e-6);
  CHECK(orthonormality_defect(o) < 1e-13);
}

TEST_CASE("higham_newton maps an orthogonal matrix to itself and a diagonal one to its signs", "[higham_newton]") {
  auto newton = muonlab::testing::make_orthogonalizer("higham_newton");
  std::mt19937_64 rng(3);
  const Matrix q = muonlab::haar_orthonormal(12, 12, rng);
  // polar(3 Q) = Q: the first scaled step already gives Q up to rounding.
  CHECK((apply(*newton, 3.0 * q) - q).norm() < 1e-14);
  // polar(D) = sign(D) for a diagonal D.
  Vector d(4);
  d << 4.0, -1e-3, 2.5, -7.0;
  const Matrix expected = d.array().sign().matrix().asDiagonal();
  CHECK((apply(*newton, Matrix(d.asDiagonal())) - expected).norm() < 1e-14);
}

TEST_CASE("higham_newton rejects singular and rank-deficient input with a clear error", "[higham_newton]") {
  auto newton = muonlab::testing::make_orthogonalizer("higham_newton");
  Vector s(3);
  s << 3.0, 2.0, 1.0;
  const auto check_rejected = [&](const Matrix& g) {
    Matrix o(g.rows(), g.cols());
    CHECK_THROWS_WITH(newton->apply(g, o), Catch::Contains("singular or numerically rank-deficient") &&
                                               Catch::Contains("qdwh") && Catch::Contains("svd"));
  };
  SECTION("square of rank 3") { check_rejected(compose(haar_factors(10, 10, 3, 17), s)); }
  SECTION("tall of rank 3 (rank-deficient R after the QR)") { check_rejected(compose(haar_factors(20, 8, 3, 19), s)); }
  SECTION("wide of rank 3") { check_rejected(compose(haar_factors(8, 20, 3, 23), s)); }
  SECTION("an exactly zero column (an exactly zero pivot)") {
    Matrix g = Matrix::Identity(5, 5);
    g(3, 3) = 0.0;
    check_rejected(g);
  }
  SECTION("full rank in exact arithmetic but kappa 1e14, beyond min_rcond 1e-12") {
    check_rejected(compose(haar_factors(16, 16, 16, 29), geometric_spectrum(16, 1e14)));
  }
}

TEST_CASE("higham_newton min_rcond 0 accepts what the default rejects as rank-deficient", "[higham_newton]") {
  auto newton = muonlab::testing::make_orthogonalizer("higham_newton", "{min_rcond: 0.0}");
  const Factors f = haar_factors(16, 16, 16, 29);
  const Matrix g = compose(f, geometric_spectrum(16, 1e14));
  const Matrix o = apply(*newton, g);
  // Still a backward-stable polar factor: orthonormal, even though it agrees with the exact
  // factor only to ~kappa eps ~ 1e-2 in the weakest directions (observed 7e-3).
  CHECK(o.allFinite());
  CHECK(orthonormality_defect(o) < 1e-13);
}

TEST_CASE("higham_newton maps the zero matrix to exactly zero", "[higham_newton]") {
  auto newton = muonlab::testing::make_orthogonalizer("higham_newton");
  const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{7, 3}, {3, 7}, {4, 4}, {1, 1}};
  for (const auto& [rows, cols] : shapes) {
    CAPTURE(rows, cols);
    CHECK((apply(*newton, Matrix::Zero(rows, cols)).array() == 0.0).all());
    CHECK(newton->last_cost().flops == 0.0);
  }
}

TEST_CASE("higham_newton reports the QR, the Newton steps and one GEMM on a tall input", "[higham_newton]") {
  auto newton = muonlab::testing::make_orthogonalizer("higham_newton");
  apply(*newton, compose(haar_factors(40, 10, 10, 31), geometric_spectrum(10, 10.0)));
  // QR and thin Q 2 (2 q p^2 - 2 p^3 / 3), product Q U_R 2 q p^2, then 2 p^3 per step.
  const double q = 40, p = 10;
  const double fixed = 2 * (2 * q * p * p - 2 * p * p * p / 3) + 2 * q * p * p;
  const double steps = (newton->last_cost().flops - fixed) / (2 * p * p * p);
  CHECK(steps == Approx(std::round(steps)));  // a whole number up to rounding of the sums
  CHECK(steps >= 1);
  CHECK(newton->last_cost().gemms == 1);
}

TEST_CASE("higham_newton rejects NaN input and out-of-range parameters", "[higham_newton]") {
  auto newton = muonlab::testing::make_orthogonalizer("higham_newton");
  Matrix g = Matrix::Identity(4, 4);
  g(0, 1) = std::numeric_limits<double>::infinity();
  Matrix o(4, 4);
  CHECK_THROWS_WITH(newton->apply(g, o), Catch::Contains("NaN or Inf"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("higham_newton", "{min_rcond: 1.0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("higham_newton", "{tolerance: 0.0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("higham_newton", "{max_iterations: 0}"));
}
