// Tests of the Gram-eigendecomposition orthogonalizer against the exact polar factor
// (Eigen's JacobiSVD through muonlab::testing::exact_polar) and closed forms for the cutoff.
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
using muonlab::orth_test::haar_factors;

// U_k V_k^T of the first k factors.
Matrix leading_polar(const Factors& f, Eigen::Index k) { return f.u.leftCols(k) * f.v.leftCols(k).transpose(); }

}  // namespace

TEST_CASE("gram_eig equals the exact polar factor on well-conditioned tall, wide and square inputs", "[gram_eig]") {
  auto gram = muonlab::testing::make_orthogonalizer("gram_eig");
  const auto input = [](Eigen::Index rows, Eigen::Index cols) {
    const Eigen::Index p = std::min(rows, cols);
    return compose(haar_factors(rows, cols, p, 3 + static_cast<std::uint64_t>(cols)), Vector::LinSpaced(p, 10.0, 1.0));
  };
  // Forming G^T G squares the condition number: eigenvalues carry an absolute error
  // ~ q eps lambda_max, so lambda^{-1/2} and the result err by ~ q eps kappa^2 / 2
  // = 50 * 2.2e-16 * 100 / 2 ~ 6e-13 at most. Observed ~3e-14.
  muonlab::orth_test::check_exact_polar_on_shapes(*gram, input, 1e-12);
}

TEST_CASE("gram_eig loses accuracy as kappa^2 eps", "[gram_eig]") {
  auto gram = muonlab::testing::make_orthogonalizer("gram_eig");
  const Eigen::Index p = 20;
  Vector s(p);
  for (Eigen::Index i = 0; i < p; ++i) s(i) = std::pow(1e4, -static_cast<double>(i) / (p - 1));
  const Matrix g = compose(haar_factors(60, p, p, 5), s);
  const double error = (apply(*gram, g) - muonlab::testing::exact_polar(g)).norm();
  // kappa = 1e4: kappa^2 eps = 2e-8 sets the scale (the SVD-based oracle itself is good to
  // ~kappa eps = 2e-12). Observed ~1e-9: well above what an SVD method gives, well below 1e-7.
  CHECK(error < 1e-7);
  CHECK(error > 1e-12);
}

TEST_CASE("gram_eig cutoff drops singular values at or below cutoff * s_1", "[gram_eig]") {
  // s = (1, 0.1, 2e-3, 1e-4) on Haar factors: closed-form results U_k V_k^T.
  const Factors f = haar_factors(12, 8, 4, 9);
  Vector s(4);
  s << 1.0, 0.1, 2e-3, 1e-4;
  const Matrix g = compose(f, s);
  SECTION("cutoff 3e-3 keeps two") {
    auto gram = muonlab::testing::make_orthogonalizer("gram_eig", "{cutoff: 3.0e-3}");
    // Kept eigenvalues are >= 1e-2 with absolute errors ~1e-15: relative 1e-13; the dropped
    // ones are separated by a gap >= 1e-2 - 4e-6. Observed ~1e-15.
    CHECK((apply(*gram, g) - leading_polar(f, 2)).norm() < 1e-12);
  }
  SECTION("cutoff 1e-3 keeps three") {
    auto gram = muonlab::testing::make_orthogonalizer("gram_eig", "{cutoff: 1.0e-3}");
    // The third eigenvalue is 4e-6 with error ~1e-15 (relative 3e-10, half of it in the
    // singular value 1), and its eigenvector is separated by a gap of 4e-6: error
    // ~1e-15 / 4e-6 ~ 3e-10. Observed 2e-11.
    CHECK((apply(*gram, g) - leading_polar(f, 3)).norm() < 1e-8);
  }
  SECTION("the default cutoff 1e-6 keeps all four") {
    auto gram = muonlab::testing::make_orthogonalizer("gram_eig");
    // The fourth eigenvalue is 1e-8, relative error ~1e-15 / 1e-8 = 1e-7. Observed 7e-9.
    CHECK((apply(*gram, g) - leading_polar(f, 4)).norm() < 1e-6);
  }
}

TEST_CASE("gram_eig default cutoff drops a singular value below sqrt(q eps) that the SVD keeps", "[gram_eig]") {
  // s_3 / s_1 = 1e-7: its Gram eigenvalue 1e-14 is at the rounding level q eps ~ 4e-15,
  // so the Gram route cannot resolve it and the cutoff 1e-6 removes it.
  const Factors f = haar_factors(20, 10, 3, 11);
  Vector s(3);
  s << 1.0, 0.5, 1e-7;
  const Matrix g = compose(f, s);
  auto gram = muonlab::testing::make_orthogonalizer("gram_eig");
  const Matrix o = apply(*gram, g);
  CHECK((o - leading_polar(f, 2)).norm() < 1e-12);
  CHECK(std::abs(o.squaredNorm() - 2.0) < 1e-12);
  // The exact polar factor keeps it: the methods differ by the whole rank-one direction.
  // (The oracle's error on that direction is ~eps / 1e-7 ~ 2e-9; observed 4e-10.)
  CHECK((muonlab::testing::exact_polar(g) - leading_polar(f, 3)).norm() < 1e-8);
}

TEST_CASE("gram_eig of an exactly rank-3 input is U_3 V_3^T", "[gram_eig]") {
  auto gram = muonlab::testing::make_orthogonalizer("gram_eig");
  const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{20, 10}, {10, 20}};
  for (const auto& [rows, cols] : shapes) {
    CAPTURE(rows, cols);
    const Factors f = haar_factors(rows, cols, 3, 13);
    const Matrix g = compose(f, Vector::LinSpaced(3, 3.0, 1.0));
    // Null-space eigenvalues are rounding noise ~1e-15 lambda_max, far below cutoff^2 = 1e-12;
    // the kept ones have condition number 9. Observed ~1e-15.
    CHECK((apply(*gram, g) - leading_polar(f, 3)).norm() < 1e-12);
  }
}

TEST_CASE("gram_eig maps the zero matrix to exactly zero and counts its cost", "[gram_eig]") {
  auto gram = muonlab::testing::make_orthogonalizer("gram_eig");
  const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{7, 3}, {3, 7}, {4, 4}, {1, 1}};
  for (const auto& [rows, cols] : shapes) {
    CAPTURE(rows, cols);
    CHECK((apply(*gram, Matrix::Zero(rows, cols)).array() == 0.0).all());
    CHECK(gram->last_cost().flops == 0.0);
  }
  apply(*gram, compose(haar_factors(50, 20, 20, 3), Vector::LinSpaced(20, 10.0, 1.0)));
  // SYRK p^2 q = 20000, eigendecomposition 9 p^3 = 72000, C C^T 2 p^2 k = 16000 (k = 20),
  // product 2 q p^2 = 40000.
  CHECK(gram->last_cost().flops == Approx(148000.0));
  CHECK(gram->last_cost().gemms == 3);
}

TEST_CASE("gram_eig rejects NaN input and out-of-range parameters", "[gram_eig]") {
  auto gram = muonlab::testing::make_orthogonalizer("gram_eig");
  Matrix g = Matrix::Ones(3, 5);
  g(1, 4) = std::numeric_limits<double>::quiet_NaN();
  Matrix o(3, 5);
  CHECK_THROWS_WITH(gram->apply(g, o), Catch::Contains("NaN or Inf"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("gram_eig", "{cutoff: 1.0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("gram_eig", "{cutoff: -1.0e-6}"));
  CHECK_NOTHROW(muonlab::testing::make_orthogonalizer("gram_eig", "{cutoff: 0.0}"));
}
