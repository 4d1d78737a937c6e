// Tests of the exact SVD orthogonalizer against closed forms and an independent oracle
// (Eigen's JacobiSVD through muonlab::testing::exact_polar).
#include <catch2/catch.hpp>

#include <muonlab/linalg.hpp>

#include <Eigen/SVD>

#include <limits>
#include <random>
#include <string>

#include "test_support.hpp"

#include "../common/polar_test_support.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;
using muonlab::orth_test::apply;
using muonlab::orth_test::compose;
using muonlab::orth_test::Factors;
using muonlab::orth_test::haar_factors;
using muonlab::orth_test::orthonormality_defect;

// Singular values evenly spaced in [1, 10]: condition number 10.
Matrix well_conditioned(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  const Eigen::Index p = std::min(rows, cols);
  return compose(haar_factors(rows, cols, p, seed), Vector::LinSpaced(p, 10.0, 1.0));
}

}  // namespace

TEST_CASE("svd equals the exact polar factor on tall and wide and square inputs", "[svd]") {
  auto svd = muonlab::testing::make_orthogonalizer("svd");
  const auto input = [](Eigen::Index rows, Eigen::Index cols) {
    return well_conditioned(rows, cols, 11 + static_cast<std::uint64_t>(rows));
  };
  // Both SVDs are backward stable: each returns the polar factor of G + E with
  // ||E|| ~ p * eps * s_1 ~ 50 * 2.2e-16 * 10 = 1e-13, and the polar factor moves by at most
  // ~2 ||E|| / s_min (s_min = 1). Observed differences are ~1e-14. Orthonormal columns (tall)
  // or rows (wide): rounding of a p x p Gram of unit vectors (1e-12).
  muonlab::orth_test::check_exact_polar_on_shapes(*svd, input, 1e-12, 1e-12);
}

TEST_CASE("svd of a rank-3 input is U_3 V_3^T", "[svd]") {
  auto svd = muonlab::testing::make_orthogonalizer("svd");
  const Factors f = haar_factors(20, 10, 3, 5);
  const Matrix g = compose(f, Vector::LinSpaced(3, 3.0, 1.0));
  const Matrix o = apply(*svd, g);
  // Closed form: the factors used to build G. The computed null-space singular values are
  // rounding noise (~1e-16 * s_1), far below the default threshold 1e-12; the kept subspace
  // is separated from them by a gap s_3 = 1, so its error is ~p * eps * s_1 / s_3 ~ 1e-14.
  const Matrix expected = f.u * f.v.transpose();
  CHECK((o - expected).norm() < 1e-12);
  CHECK(std::abs(o.squaredNorm() - 3.0) < 1e-12);
  const Vector s = Eigen::JacobiSVD<Matrix>(o).singularValues();
  CHECK((s.head(3).array() - 1.0).abs().maxCoeff() < 1e-12);
  CHECK(s.tail(7).maxCoeff() < 1e-12);
  // Cost: 20 >= 10*11/6 so dgesdd takes the QR path: 6*20*10^2 + 20*10^3 = 32000, plus the
  // product U_3 V_3^T: 2*20*10*3 = 1200.
  CHECK(svd->last_cost().gemms == 1);
  CHECK(svd->last_cost().flops == Approx(33200.0));
}

TEST_CASE("svd maps the zero matrix to exactly zero also with rank_threshold 0", "[svd]") {
  for (const std::string params : {"{}", "{rank_threshold: 0.0}"}) {
    CAPTURE(params);
    auto svd = muonlab::testing::make_orthogonalizer("svd", params);
    const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{7, 3}, {3, 7}, {4, 4}, {1, 1}};
    for (const auto& [rows, cols] : shapes) {
      CAPTURE(rows, cols);
      const Matrix o = apply(*svd, Matrix::Zero(rows, cols));
      CHECK((o.array() == 0.0).all());
      CHECK(svd->last_cost().gemms == 0);  // r = 0: no product is formed
    }
  }
}

TEST_CASE("svd rank_threshold cuts the singular values below it and keeps the rest", "[svd]") {
  const Factors f = haar_factors(12, 8, 4, 9);
  Vector s(4);
  s << 1.0, 0.5, 0.25, 1e-3;
  const Matrix g = compose(f, s);

  SECTION("a threshold above s_4 / s_1 = 1e-3 drops the fourth direction") {
    auto svd = muonlab::testing::make_orthogonalizer("svd", "{rank_threshold: 1.0e-2}");
    const Matrix o = apply(*svd, g);
    // The kept subspace is separated from the rest by a gap 0.25 - 1e-3: error ~1e-15.
    CHECK((o - f.u.leftCols(3) * f.v.leftCols(3).transpose()).norm() < 1e-12);
    CHECK(std::abs(o.squaredNorm() - 3.0) < 1e-12);
  }
  SECTION("a threshold below 1e-3 keeps it, lifted to singular value 1") {
    auto svd = muonlab::testing::make_orthogonalizer("svd", "{rank_threshold: 1.0e-4}");
    const Matrix o = apply(*svd, g);
    // The fourth singular pair is only separated from the null space by s_4 = 1e-3, so its
    // vectors carry an error up to ~p * eps * s_1 / s_4 ~ 8 * 2.2e-16 / 1e-3 ~ 2e-12.
    CHECK((o - f.u * f.v.transpose()).norm() < 1e-11);
    CHECK(std::abs(o.squaredNorm() - 4.0) < 1e-12);
  }
}

TEST_CASE("svd reports the SVD estimate plus one GEMM as its cost", "[svd]") {
  auto svd = muonlab::testing::make_orthogonalizer("svd");
  apply(*svd, well_conditioned(50, 20, 3));
  // QR path (50 >= 20*11/6 = 36): 6*50*20^2 + 20*20^3 = 280000; product 2*50*20*20 = 40000.
  CHECK(svd->last_cost().gemms == 1);
  CHECK(svd->last_cost().flops == Approx(320000.0));
  apply(*svd, well_conditioned(30, 30, 3));
  // Direct bidiagonalization (30 < 55): 14*30*30^2 + 8*30^3 = 594000; product 2*30^3 = 54000.
  CHECK(svd->last_cost().flops == Approx(648000.0));
}

TEST_CASE("svd rejects a negative rank_threshold and one of 1 or more", "[svd]") {
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("svd", "{rank_threshold: 1.0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("svd", "{rank_threshold: -1.0e-3}"));
  CHECK_NOTHROW(muonlab::testing::make_orthogonalizer("svd", "{rank_threshold: 0.0}"));
}
