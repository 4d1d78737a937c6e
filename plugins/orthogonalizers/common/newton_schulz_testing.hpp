// Test helpers shared by the tests of the Newton-Schulz family (test_*.cpp in the sibling
// folders). An odd matrix polynomial acts on each singular value independently, so on inputs
// with known singular vectors the output is known from a scalar recursion, written here with
// plain doubles and independent of the plugins' code.
#pragma once

#include <catch2/catch.hpp>

#include <muonlab/linalg.hpp>

#include <Eigen/SVD>

#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace muonlab::newton_schulz_testing {

// p(x) = a x + b x^3 + c x^5.
struct Triple {
  double a, b, c;
};

inline double evaluate(const Triple& t, double x) { return t.a * x + t.b * x * x * x + t.c * x * x * x * x * x; }

// `steps` steps of a schedule; steps past its end repeat the last triple.
inline double compose(const std::vector<Triple>& schedule, int steps, double x) {
  for (int i = 0; i < steps; ++i) x = evaluate(schedule[std::min<std::size_t>(i, schedule.size() - 1)], x);
  return x;
}

// Expected output entry for an input singular value `sigma` of a matrix of Frobenius norm
// `frobenius` (the model includes the method's normalization).
using SingularValueMap = std::function<double(double sigma, double frobenius)>;

// The usual normalization x0 = sigma / (safety * ||G||_F + eps) followed by the schedule.
inline SingularValueMap frobenius_model(std::vector<Triple> schedule, int steps, double safety, double eps) {
  return [=](double sigma, double frobenius) { return compose(schedule, steps, sigma / (safety * frobenius + eps)); };
}

// docs/algorithms.md section 1.14: inputs x0 = sigma / ||G||_F of the scalar-model table.
inline constexpr std::array<double, 7> kTableInputs{1.0, 0.5, 0.1, 0.03, 0.01, 1e-3, 1e-4};
using TableRow = std::array<double, 7>;

// The table is rounded to 4 digits (5e-5); the guard eps shifts x0 by a relative 1e-10 at the
// scale used below, which the maps amplify by at most |x f'(x)| ~ 1e2: negligible.
inline constexpr double kTableTolerance = 5e-5;

// Matrix iteration against the scalar one on diagonal inputs. Step k rounds at ~eps times the
// size of its terms, T_k = |a| x + |b| x^3 + |c| x^5, and later steps multiply that error by
// their slopes, so the output error is ~eps A with A = sum_k T_k prod_{j>k} |p_j'(x_j)|. On the
// table's inputs A stays below ~5e2 for the Keller, You, Polar Express and cubic schedules
// (PE five-step at x0 = 1: 488), so 1e-13 covers them (observed ~1e-15); schedules with larger
// A pass their own tolerance.
inline constexpr double kModelTolerance = 1e-13;

// Output pre-filled with NaN so that an entry the plugin forgets to write is caught.
inline Matrix apply(muonlab::OrthogonalizerHandle& orthogonalizer, const Matrix& gradient) {
  Matrix output = Matrix::Constant(gradient.rows(), gradient.cols(), std::numeric_limits<double>::quiet_NaN());
  orthogonalizer.apply(gradient, output);
  return output;
}

// A rows x cols matrix, zero except for its leading diagonal d, scaled so that ||.||_F = 1e3
// (a guard eps ~ 1e-7 is then 1e-10 relative).
inline Matrix embedded_diagonal(const Vector& d, Eigen::Index rows, Eigen::Index cols) {
  Matrix g = Matrix::Zero(rows, cols);
  g.diagonal().head(d.size()) = d;
  return g * (1e3 / d.norm());
}

// Diagonal entries equal to the table's x0 values 0.5 ... 1e-4, plus one filler entry that
// brings the Frobenius norm to 1, so that entry / ||.||_F is exactly the table's x0.
inline Vector table_diagonal() {
  Vector d(kTableInputs.size());
  for (std::size_t i = 1; i < kTableInputs.size(); ++i) d(static_cast<Eigen::Index>(i - 1)) = kTableInputs[i];
  d(d.size() - 1) = std::sqrt(1.0 - d.head(d.size() - 1).squaredNorm());
  return d;
}

// Every diagonal entry of the output follows the model, every other entry (off-diagonal and
// null space) is exactly zero: products of diagonal matrices have exact zeros.
inline void check_diagonal_against_model(const Matrix& g, const Matrix& o, const SingularValueMap& model,
                                         double tolerance = kModelTolerance) {
  const double frobenius = g.norm();
  for (Eigen::Index j = 0; j < g.cols(); ++j) {
    for (Eigen::Index i = 0; i < g.rows(); ++i) {
      CAPTURE(i, j);
      if (i == j) {
        const double difference = std::abs(o(i, i) - model(g(i, i), frobenius));
        INFO("|output - model| = " << difference);  // Catch prints small doubles as 0.0
        CHECK(difference < tolerance);
      } else {
        CHECK(o(i, j) == 0.0);
      }
    }
  }
}

// The table row for x0 = 1 (a single nonzero entry) and the other six x0 (table_diagonal()),
// on a tall and a wide embedding so that both orientations are exercised.
inline void check_table_row(const std::string& name, const std::string& params, const SingularValueMap& model,
                            const TableRow& row, double model_tolerance = kModelTolerance) {
  CAPTURE(name, params);
  auto orthogonalizer = muonlab::testing::make_orthogonalizer(name, params);
  const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{9, 7}, {7, 9}};
  for (const auto& [rows, cols] : shapes) {
    CAPTURE(rows, cols);
    const Matrix single = embedded_diagonal(Vector::Ones(1), rows, cols);
    const Matrix o_single = apply(*orthogonalizer, single);
    check_diagonal_against_model(single, o_single, model, model_tolerance);
    CHECK(std::abs(o_single(0, 0) - row[0]) < kTableTolerance);

    const Matrix spread = embedded_diagonal(table_diagonal(), rows, cols);
    const Matrix o_spread = apply(*orthogonalizer, spread);
    check_diagonal_against_model(spread, o_spread, model, model_tolerance);
    for (std::size_t i = 1; i < row.size(); ++i) {
      CAPTURE(kTableInputs[i]);
      const auto k = static_cast<Eigen::Index>(i - 1);
      CHECK(std::abs(o_spread(k, k) - row[i]) < kTableTolerance);
    }
  }
}

// A matrix with Haar singular vectors and the given singular values (rows >= s.size()).
inline Matrix with_singular_values(Eigen::Index rows, Eigen::Index cols, const Vector& s, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Matrix u = muonlab::haar_orthonormal(rows, s.size(), rng);
  const Matrix v = muonlab::haar_orthonormal(cols, s.size(), rng);
  return u * s.asDiagonal() * v.transpose();
}

// Standard Gaussian entries.
inline Matrix gaussian(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix g(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) g(i, j) = normal(rng);
  return g;
}

// Singular values from 1 down to 1 / kappa, geometrically spaced.
inline Vector geometric_spectrum(Eigen::Index p, double kappa) {
  Vector s(p);
  for (Eigen::Index i = 0; i < p; ++i) s(i) = std::pow(kappa, -static_cast<double>(i) / static_cast<double>(p - 1));
  return s;
}

// Distance of an output of the form U f(Sigma) V^T to the polar factor U V^T, predicted from
// the singular values of G alone: the spectral norm max_i |f(s_i) - 1|.
inline double predicted_polar_error(const Matrix& g, const SingularValueMap& model) {
  const Vector s = Eigen::JacobiSVD<Matrix>(g).singularValues();
  const double frobenius = g.norm();
  double worst = 0.0;
  for (Eigen::Index i = 0; i < s.size(); ++i) worst = std::max(worst, std::abs(model(s(i), frobenius) - 1.0));
  return worst;
}

// Spectral norm of O - exact polar factor of G (the oracle of muonlab::testing).
inline double polar_error(const Matrix& g, const Matrix& o) {
  return Eigen::JacobiSVD<Matrix>(o - muonlab::testing::exact_polar(g)).singularValues()(0);
}

// On a 40 x 25 matrix G = U diag(s) V^T with known factors and s from 10 down to 1 (x0 in
// [0.033, 0.33]), the output is U f(s) V^T. Rounding of the 40 x 25 products (~25 eps per
// entry per step) times the amplification of the maps (< 1e2) over up to ~15 steps keeps the
// Frobenius error well below 1e-12 (observed ~1e-14).
inline void check_output_is_spectral_map(const std::string& name, const std::string& params,
                                         const SingularValueMap& model) {
  CAPTURE(name, params);
  std::mt19937_64 rng(4);
  const Matrix u = muonlab::haar_orthonormal(40, 25, rng);
  const Matrix v = muonlab::haar_orthonormal(25, 25, rng);
  const Vector s = Vector::LinSpaced(25, 10.0, 1.0);
  const Matrix g = u * s.asDiagonal() * v.transpose();
  auto orthogonalizer = muonlab::testing::make_orthogonalizer(name, params);
  Vector mapped(s.size());
  for (Eigen::Index i = 0; i < s.size(); ++i) mapped(i) = model(s(i), s.norm());
  CHECK((apply(*orthogonalizer, g) - u * mapped.asDiagonal() * v.transpose()).norm() < 1e-12);
  CHECK((apply(*orthogonalizer, Matrix(g.transpose())) - v * mapped.asDiagonal() * u.transpose()).norm() < 1e-12);
}

// The two inputs of the accuracy comparison: a 200 x 50 Gaussian matrix (x0 in [0.076, 0.21])
// and a 200 x 50 matrix with singular values from 1 to 1e-4 (kappa = 1e4, x0 down to 5.6e-5).
inline Matrix accuracy_gaussian() { return gaussian(200, 50, 1); }
inline Matrix accuracy_ill_conditioned() { return with_singular_values(200, 50, geometric_spectrum(50, 1e4), 2); }

// Distance to the exact polar factor as the scalar model predicts it. The output and the
// oracle share singular vectors in exact arithmetic, so ||O - U V^T||_2 = max_i |f(s_i) - 1|
// up to rounding. Both the iteration and the SVD oracle are accurate to about kappa times their
// backward error (~sqrt(p q) eps ~ 1e-14 relative), kappa = s_1 / s_p: 1e-12 covers the
// Gaussian matrix (kappa ~ 3), 1e-10 the kappa = 1e4 one.
inline void check_polar_error_matches_model(const std::string& name, const std::string& params, const Matrix& g,
                                            const SingularValueMap& model) {
  CAPTURE(name, params);
  const Vector s = Eigen::JacobiSVD<Matrix>(g).singularValues();
  const double tolerance = s(0) / s(s.size() - 1) > 10.0 ? 1e-10 : 1e-12;
  auto orthogonalizer = muonlab::testing::make_orthogonalizer(name, params);
  const double measured = polar_error(g, apply(*orthogonalizer, g));
  const double predicted = predicted_polar_error(g, model);
  INFO("measured " << measured << ", predicted " << predicted);
  CHECK(std::abs(measured - predicted) < tolerance);
}

}  // namespace muonlab::newton_schulz_testing
