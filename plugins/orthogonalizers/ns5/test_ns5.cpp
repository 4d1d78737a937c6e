// Tests of Keller Jordan's quintic Newton-Schulz against its scalar model: an odd matrix
// polynomial acts on each singular value independently, so on inputs with known singular
// vectors the output is known in closed form from the scalar recursion computed here.
#include <catch2/catch.hpp>

#include <muonlab/linalg.hpp>

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "test_support.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;

constexpr double kEps = 1e-7;  // the plugin's default normalization guard

struct Coefficients {
  double a, b, c;
};
constexpr Coefficients kKeller{3.4445, -4.7750, 2.0315};
constexpr Coefficients kCubic{1.5, -0.5, 0.0};

// x <- a x + b x^3 + c x^5, `steps` times.
double scalar_model(double x, int steps, Coefficients k = kKeller) {
  for (int i = 0; i < steps; ++i) {
    const double x2 = x * x;
    x = x * (k.a + x2 * (k.b + k.c * x2));
  }
  return x;
}

// algorithms.md section 1.14: output for x0 = sigma / ||G||_F in {1, 0.5, 0.1, 0.03, 0.01,
// 1e-3, 1e-4}, rounded to 4 digits.
constexpr std::array<double, 7> kTableInputs{1.0, 0.5, 0.1, 0.03, 0.01, 1e-3, 1e-4};
constexpr std::array<double, 7> kKeller5{0.6964, 0.7654, 0.7121, 1.1223, 0.6989, 0.4705, 0.0485};
constexpr std::array<double, 7> kKeller6{1.1188, 1.0289, 1.1006, 0.7330, 1.1160, 1.1702, 0.1664};
constexpr std::array<double, 7> kCubic5{1.0000, 1.0000, 0.6587, 0.2248, 0.0758, 0.0076, 0.0008};

// 4-digit rounding of the table (5e-5); the guard eps shifts x0 by a relative 1e-10 at the
// scale used below, which the map amplifies by at most |x p'(x)| < 14 (6 steps): negligible.
constexpr double kTableTolerance = 5e-5;

// Rounding of the matrix iteration against the scalar one: each step rounds at a few eps
// relative, and the relative condition number |x p'(x) / p(x)| of the composed map stays
// below ~1e2 on these inputs, so differences stay below ~1e-13 (observed ~1e-15).
constexpr double kModelTolerance = 1e-13;

Matrix apply(muonlab::OrthogonalizerHandle& orthogonalizer, const Matrix& gradient) {
  Matrix output = Matrix::Constant(gradient.rows(), gradient.cols(), std::numeric_limits<double>::quiet_NaN());
  orthogonalizer.apply(gradient, output);
  return output;
}

// A rows x cols matrix, zero except for its leading diagonal d, scaled so that ||.||_F = 1e3
// (the guard eps is then 1e-10 relative).
Matrix embedded_diagonal(const Vector& d, Eigen::Index rows, Eigen::Index cols) {
  Matrix g = Matrix::Zero(rows, cols);
  g.diagonal().head(d.size()) = d;
  return g * (1e3 / d.norm());
}

// Diagonal entries equal to the table's x0 values 0.5 ... 1e-4, plus one filler entry that
// brings the Frobenius norm to 1, so that entry / ||.||_F is exactly the table's x0.
Vector table_diagonal() {
  Vector d(kTableInputs.size());
  for (std::size_t i = 1; i < kTableInputs.size(); ++i) d(static_cast<Eigen::Index>(i - 1)) = kTableInputs[i];
  d(d.size() - 1) = std::sqrt(1.0 - d.head(d.size() - 1).squaredNorm());
  return d;
}

// Checks the output of one diagonal input: every diagonal entry follows the scalar model,
// every other entry (off-diagonal and null space) is exactly zero.
void check_diagonal_against_model(const Matrix& g, const Matrix& o, int steps, Coefficients k) {
  const double denominator = g.norm() + kEps;
  for (Eigen::Index j = 0; j < g.cols(); ++j) {
    for (Eigen::Index i = 0; i < g.rows(); ++i) {
      CAPTURE(i, j);
      if (i == j) {
        CHECK(std::abs(o(i, i) - scalar_model(g(i, i) / denominator, steps, k)) < kModelTolerance);
      } else {
        CHECK(o(i, j) == 0.0);  // products of diagonal matrices: exact zeros
      }
    }
  }
}

// The table row for x0 = 1 (a single nonzero entry) and the other six x0 (table_diagonal()),
// on a tall and a wide embedding so that both orientations are exercised.
void check_table_row(const std::string& params, int steps, Coefficients k, const std::array<double, 7>& row) {
  auto ns = muonlab::testing::make_orthogonalizer("ns5", params);
  const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{9, 7}, {7, 9}};
  for (const auto& [rows, cols] : shapes) {
    CAPTURE(rows, cols);
    const Matrix single = embedded_diagonal(Vector::Ones(1), rows, cols);
    const Matrix o_single = apply(*ns, single);
    check_diagonal_against_model(single, o_single, steps, k);
    CHECK(std::abs(o_single(0, 0) - row[0]) < kTableTolerance);

    const Matrix spread = embedded_diagonal(table_diagonal(), rows, cols);
    const Matrix o_spread = apply(*ns, spread);
    check_diagonal_against_model(spread, o_spread, steps, k);
    for (std::size_t i = 1; i < row.size(); ++i) {
      CAPTURE(kTableInputs[i]);
      CHECK(std::abs(o_spread(static_cast<Eigen::Index>(i - 1), static_cast<Eigen::Index>(i - 1)) - row[i]) <
            kTableTolerance);
    }
  }
}

}  // namespace

TEST_CASE("ns5 reproduces the scalar-model table row Keller x5", "[ns5]") {
  check_table_row("{}", 5, kKeller, kKeller5);
}

TEST_CASE("ns5 reproduces the scalar-model table row Keller x6", "[ns5]") {
  check_table_row("{steps: 6}", 6, kKeller, kKeller6);
}

TEST_CASE("ns5 honours custom coefficients: a=1.5 b=-0.5 c=0 is cubic Newton-Schulz", "[ns5]") {
  check_table_row("{a: 1.5, b: -0.5, c: 0.0}", 5, kCubic, kCubic5);
}

TEST_CASE("ns5 scales an orthogonal matrix by the scalar model at 1/sqrt(n)", "[ns5]") {
  std::mt19937_64 rng(21);
  const Matrix q = muonlab::haar_orthonormal(100, 100, rng);
  for (const int steps : {5, 6}) {
    CAPTURE(steps);
    auto ns = muonlab::testing::make_orthogonalizer("ns5", "{steps: " + std::to_string(steps) + "}");
    const Matrix o = apply(*ns, q);
    // Every singular value of Q is 1, so x0 = 1 / (||Q||_F + eps) = 1 / (10 + 1e-7).
    const double factor = scalar_model(1.0 / (10.0 + kEps), steps);
    CHECK(std::abs(factor - (steps == 5 ? 0.7121 : 1.1006)) < kTableTolerance);
    // Q is orthogonal to ~1e-15 and the 100 x 100 GEMMs round at ~100 eps per entry, amplified
    // by |p'| < 10 per unit of x over the steps: entries of O - factor * Q stay below 1e-12.
    CHECK((o - factor * q).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("ns5 output is U p(Sigma) V^T of the exact SVD with singular values from 0.68 to 1.21", "[ns5]") {
  std::mt19937_64 rng(4);
  const Matrix u = muonlab::haar_orthonormal(40, 25, rng);
  const Matrix v = muonlab::haar_orthonormal(25, 25, rng);
  const Vector s = Vector::LinSpaced(25, 10.0, 1.0);  // condition number 10
  const Matrix g = u * s.asDiagonal() * v.transpose();
  auto ns = muonlab::testing::make_orthogonalizer("ns5");
  const Matrix o = apply(*ns, g);

  // x0 = s_i / ||G||_F lies in [0.033, 0.33]; the closed form uses the known factors.
  const double denominator = s.norm() + kEps;
  Vector mapped(s.size());
  for (Eigen::Index i = 0; i < s.size(); ++i) mapped(i) = scalar_model(s(i) / denominator, 5);
  const Matrix expected = u * mapped.asDiagonal() * v.transpose();
  // Rounding of the 40 x 25 products (~25 eps per entry per step) times the amplification
  // of the map (< 1e2): Frobenius error well below 1e-12 (observed ~1e-14).
  CHECK((o - expected).norm() < 1e-12);

  // algorithms.md section 1.4: after 5 steps every x0 in [0.01, 1] lands in [0.682, 1.134]
  // (transient maximum 1.2023 near x0 = 1e-3); Jacobi SVD error ~1e-15 is negligible.
  const Vector output_s = Eigen::JacobiSVD<Matrix>(o).singularValues();
  CHECK(output_s.minCoeff() >= 0.68);
  CHECK(output_s.maxCoeff() <= 1.21);
  // Same singular vectors as the exact polar factor P: P^T O is symmetric positive definite.
  const Matrix alignment = muonlab::testing::exact_polar(g).transpose() * o;
  CHECK((alignment - alignment.transpose()).norm() < 1e-12);
  CHECK(Eigen::SelfAdjointEigenSolver<Matrix>(alignment).eigenvalues().minCoeff() >= 0.68);
}

TEST_CASE("ns5 maps the zero matrix to exactly zero also without the eps guard", "[ns5]") {
  for (const std::string params : {"{}", "{eps: 0.0}"}) {
    CAPTURE(params);
    auto ns = muonlab::testing::make_orthogonalizer("ns5", params);
    const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{6, 3}, {3, 6}, {4, 4}};
    for (const auto& [rows, cols] : shapes) {
      CAPTURE(rows, cols);
      const Matrix o = apply(*ns, Matrix::Zero(rows, cols));
      CHECK((o.array() == 0.0).all());
      CHECK(ns->last_cost().gemms == 0);  // nothing is computed for a zero input
    }
  }
}

TEST_CASE("ns5 reports 3 GEMMs and 4p^2q + 2p^3 flops per step", "[ns5]") {
  std::mt19937_64 rng(8);
  const Matrix tall = muonlab::haar_orthonormal(50, 20, rng);
  auto five = muonlab::testing::make_orthogonalizer("ns5");
  apply(*five, tall);
  // p = 20, q = 50: 4*20^2*50 + 2*20^3 = 96000 per step.
  CHECK(five->last_cost().gemms == 15);
  CHECK(five->last_cost().flops == Approx(5 * 96000.0));
  auto six = muonlab::testing::make_orthogonalizer("ns5", "{steps: 6}");
  apply(*six, Matrix(tall.transpose()));
  CHECK(six->last_cost().gemms == 18);
  CHECK(six->last_cost().flops == Approx(6 * 96000.0));
}

TEST_CASE("ns5 rejects fewer than one step and a negative eps", "[ns5]") {
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("ns5", "{steps: 0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("ns5", "{eps: -1.0e-7}"));
}
