// SpectrumCalculator: both thin routes against Eigen's one-sided Jacobi SVD (an independent
// oracle, accurate to eps relative on each singular value for these matrices).
#include <catch2/catch.hpp>

#include <Eigen/SVD>

#include <random>

#include "muonlab/linalg.hpp"

using namespace muonlab;
using Route = SpectrumCalculator::Route;

namespace {

// n x k with singular values exactly `sigma` (descending) and Haar singular vectors.
Matrix with_spectrum(Eigen::Index n, const Vector& sigma, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Matrix u = haar_orthonormal(n, sigma.size(), rng);
  const Matrix v = haar_orthonormal(sigma.size(), sigma.size(), rng);
  return u * sigma.asDiagonal() * v.transpose();
}

Vector oracle(const Matrix& a) { return Eigen::JacobiSVD<Matrix>(a).singularValues(); }

double max_relative_error(const Vector& got, const Vector& exact) {
  REQUIRE(got.size() == exact.size());
  double worst = 0.0;
  for (Eigen::Index i = 0; i < exact.size(); ++i) worst = std::max(worst, std::abs(got(i) - exact(i)) / exact(i));
  return worst;
}

}  // namespace

TEST_CASE("spectrum: the Gram route is taken for a moderate spread and meets its accuracy", "[spectrum]") {
  const Vector sigma = Vector::LinSpaced(16, 0.0, -2.0).unaryExpr([](double e) { return std::pow(10.0, e); });
  const Matrix tall = with_spectrum(400, sigma, 1);
  SpectrumCalculator gram(Route::Gram);
  const Vector tall_values = gram.compute(tall);
  CHECK(gram.used_gram());
  CHECK(max_relative_error(tall_values, oracle(tall)) <= SpectrumCalculator::kGramRelativeAccuracy);
  CHECK(max_relative_error(tall_values, sigma) <= SpectrumCalculator::kGramRelativeAccuracy);

  const Matrix wide = tall.transpose();  // the A A^T side
  const Vector wide_values = gram.compute(wide);
  CHECK(gram.used_gram());
  CHECK(max_relative_error(wide_values, sigma) <= SpectrumCalculator::kGramRelativeAccuracy);
}

TEST_CASE("spectrum: a spread the Gram matrix cannot resolve falls back to Householder", "[spectrum]") {
  // sigma down to 1e-9: squared, 1e-18 is below the Gram matrix's rounding (n eps trace).
  const Vector sigma = Vector::LinSpaced(8, 0.0, -9.0).unaryExpr([](double e) { return std::pow(10.0, e); });
  const Matrix a = with_spectrum(300, sigma, 2);
  SpectrumCalculator gram(Route::Gram), householder(Route::Householder);
  const Vector via_gram = gram.compute(a);
  CHECK_FALSE(gram.used_gram());
  const Vector via_householder = householder.compute(a);
  CHECK_FALSE(householder.used_gram());
  CHECK(via_gram == via_householder);  // same route, same bits
  // Householder QR is backward stable: errors of order eps * sigma_1 on every value.
  CHECK((via_gram - oracle(a)).cwiseAbs().maxCoeff() <= 1e-13);
}

TEST_CASE("spectrum: rank-deficient and zero thin matrices take the exact route", "[spectrum]") {
  SpectrumCalculator gram(Route::Gram);
  Vector sigma(6);
  sigma << 3, 2, 1, 0.5, 0, 0;
  const Matrix deficient = with_spectrum(200, sigma, 3);
  const Vector values = gram.compute(deficient);
  CHECK_FALSE(gram.used_gram());
  CHECK((values - sigma).cwiseAbs().maxCoeff() <= 1e-13);

  const Vector zeros = gram.compute(Matrix::Zero(50, 5));
  CHECK_FALSE(gram.used_gram());
  CHECK(zeros == Vector::Zero(5));
}

TEST_CASE("spectrum: square-ish matrices go straight to the SVD on either route", "[spectrum]") {
  std::mt19937_64 rng(4);
  std::normal_distribution<double> normal;
  Matrix a(30, 20);
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i) a(i, j) = normal(rng);
  SpectrumCalculator gram(Route::Gram);
  const Vector values = gram.compute(a);
  CHECK_FALSE(gram.used_gram());
  CHECK((values - oracle(a)).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("spectrum: after a refusal the Gram route is retried every kGramRetryInterval calls", "[spectrum]") {
  const Vector wide_spread = Vector::LinSpaced(8, 0.0, -9.0).unaryExpr([](double e) { return std::pow(10.0, e); });
  const Matrix hard = with_spectrum(300, wide_spread, 5);
  const Matrix easy = with_spectrum(300, Vector::LinSpaced(8, 1.0, 2.0), 6);
  SpectrumCalculator gram(Route::Gram);
  gram.compute(hard);
  REQUIRE_FALSE(gram.used_gram());
  for (int call = 1; call < SpectrumCalculator::kGramRetryInterval; ++call) {
    const Vector values = gram.compute(easy);  // Householder, still exact
    CHECK_FALSE(gram.used_gram());
    CHECK(max_relative_error(values, oracle(easy)) <= 1e-13);
  }
  gram.compute(easy);
  CHECK(gram.used_gram());
  gram.compute(easy);
  CHECK(gram.used_gram());
}

TEST_CASE("spectrum: near its acceptance limit the Gram route still meets its accuracy", "[spectrum]") {
  // Spreads from 10^-1 to 10^-4 in 31 steps: the smallest ones cross the acceptance bound
  // ((n + k) eps trace against 2 kGramRelativeAccuracy sigma_min^2), so both outcomes occur
  // and every accepted result is checked where it is least accurate.
  int accepted = 0, refused = 0;
  for (int step = 0; step <= 30; ++step) {
    const double smallest_exponent = -1.0 - 3.0 * step / 30.0;
    const Vector sigma =
        Vector::LinSpaced(16, 0.0, smallest_exponent).unaryExpr([](double e) { return std::pow(10.0, e); });
    const Matrix a = with_spectrum(600, sigma, 100 + step);
    SpectrumCalculator gram(Route::Gram);
    const Vector values = gram.compute(a);
    if (gram.used_gram()) {
      ++accepted;
      CHECK(max_relative_error(values, oracle(a)) <= SpectrumCalculator::kGramRelativeAccuracy);
    } else {
      ++refused;
      CHECK((values - oracle(a)).cwiseAbs().maxCoeff() <= 1e-13);
    }
  }
  CHECK(accepted > 0);
  CHECK(refused > 0);
}

TEST_CASE("spectrum: the Gram route's small factorization leaves the BLAS thread count as it was", "[spectrum]") {
  const int before = openblas_get_num_threads();
  openblas_set_num_threads(2);
  SpectrumCalculator gram(Route::Gram);
  gram.compute(with_spectrum(300, Vector::LinSpaced(8, 1.0, 2.0), 7));
  CHECK(gram.used_gram());
  CHECK(openblas_get_num_threads() == 2);
  openblas_set_num_threads(before);
}
