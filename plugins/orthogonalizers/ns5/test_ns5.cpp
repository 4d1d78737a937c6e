// Tests of Keller Jordan's quintic Newton-Schulz against its scalar model: an odd matrix
// polynomial acts on each singular value independently, so on inputs with known singular
// vectors the output is known in closed form from the scalar recursion computed here.
#include <catch2/catch.hpp>

#include <Eigen/Eigenvalues>

#include "../common/newton_schulz_testing.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;
namespace nst = muonlab::newton_schulz_testing;

constexpr double kEps = 1e-7;  // the plugin's default normalization guard

const std::vector<nst::Triple> kKeller{{3.4445, -4.7750, 2.0315}};
const std::vector<nst::Triple> kCubic{{1.5, -0.5, 0.0}};

// x <- a x + b x^3 + c x^5, `steps` times, on x0 = sigma / (||G||_F + eps).
nst::SingularValueMap model(int steps, const std::vector<nst::Triple>& k = kKeller) {
  return nst::frobenius_model(k, steps, 1.0, kEps);
}

// docs/algorithms.md section 1.14: output for x0 = sigma / ||G||_F in {1, 0.5, 0.1, 0.03, 0.01,
// 1e-3, 1e-4}, rounded to 4 digits.
constexpr nst::TableRow kKeller5{0.6964, 0.7654, 0.7121, 1.1223, 0.6989, 0.4705, 0.0485};
constexpr nst::TableRow kKeller6{1.1188, 1.0289, 1.1006, 0.7330, 1.1160, 1.1702, 0.1664};
constexpr nst::TableRow kCubic5{1.0000, 1.0000, 0.6587, 0.2248, 0.0758, 0.0076, 0.0008};

}  // namespace

TEST_CASE("ns5 reproduces the scalar-model table row Keller x5", "[ns5]") {
  nst::check_table_row("ns5", "{}", model(5), kKeller5);
}

TEST_CASE("ns5 reproduces the scalar-model table row Keller x6", "[ns5]") {
  nst::check_table_row("ns5", "{steps: 6}", model(6), kKeller6);
}

TEST_CASE("ns5 honours custom coefficients: a=1.5 b=-0.5 c=0 is cubic Newton-Schulz", "[ns5]") {
  nst::check_table_row("ns5", "{a: 1.5, b: -0.5, c: 0.0}", model(5, kCubic), kCubic5);
}

TEST_CASE("ns5 scales an orthogonal matrix by the scalar model at 1/sqrt(n)", "[ns5]") {
  std::mt19937_64 rng(21);
  const Matrix q = muonlab::haar_orthonormal(100, 100, rng);
  for (const int steps : {5, 6}) {
    CAPTURE(steps);
    auto ns = muonlab::testing::make_orthogonalizer("ns5", "{steps: " + std::to_string(steps) + "}");
    const Matrix o = nst::apply(*ns, q);
    // Every singular value of Q is 1, so x0 = 1 / (||Q||_F + eps) = 1 / (10 + 1e-7).
    const double factor = nst::compose(kKeller, steps, 1.0 / (10.0 + kEps));
    CHECK(std::abs(factor - (steps == 5 ? 0.7121 : 1.1006)) < nst::kTableTolerance);
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
  const Matrix o = nst::apply(*ns, g);

  // x0 = s_i / ||G||_F lies in [0.033, 0.33]; the closed form uses the known factors.
  Vector mapped(s.size());
  for (Eigen::Index i = 0; i < s.size(); ++i) mapped(i) = model(5)(s(i), s.norm());
  const Matrix expected = u * mapped.asDiagonal() * v.transpose();
  // Rounding of the 40 x 25 products (~25 eps per entry per step) times the amplification
  // of the map (< 1e2): Frobenius error well below 1e-12 (observed ~1e-14).
  CHECK((o - expected).norm() < 1e-12);

  // docs/algorithms.md section 1.4: after 5 steps every x0 in [0.01, 1] lands in [0.682, 1.134]
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
      const Matrix o = nst::apply(*ns, Matrix::Zero(rows, cols));
      CHECK((o.array() == 0.0).all());
      CHECK(ns->last_cost().gemms == 0);  // nothing is computed for a zero input
    }
  }
}

TEST_CASE("ns5 reports 3 GEMMs and 4p^2q + 2p^3 flops per step (2 GEMMs, 4p^2q when c = 0)", "[ns5]") {
  std::mt19937_64 rng(8);
  const Matrix tall = muonlab::haar_orthonormal(50, 20, rng);
  auto five = muonlab::testing::make_orthogonalizer("ns5");
  nst::apply(*five, tall);
  // p = 20, q = 50: 4*20^2*50 + 2*20^3 = 96000 per step.
  CHECK(five->last_cost().gemms == 15);
  CHECK(five->last_cost().flops == Approx(5 * 96000.0));
  auto six = muonlab::testing::make_orthogonalizer("ns5", "{steps: 6}");
  nst::apply(*six, Matrix(tall.transpose()));
  CHECK(six->last_cost().gemms == 18);
  CHECK(six->last_cost().flops == Approx(6 * 96000.0));
  // c = 0 is a cubic: the A A product is skipped, 2 GEMMs and 4p^2q flops per step.
  auto cubic = muonlab::testing::make_orthogonalizer("ns5", "{a: 1.5, b: -0.5, c: 0.0}");
  nst::apply(*cubic, tall);
  CHECK(cubic->last_cost().gemms == 10);
  CHECK(cubic->last_cost().flops == Approx(5 * 80000.0));
}

TEST_CASE("ns5 distance to the polar factor follows the scalar model", "[ns5]") {
  nst::check_polar_error_matches_model("ns5", "{}", nst::accuracy_gaussian(), model(5));
  nst::check_polar_error_matches_model("ns5", "{}", nst::accuracy_ill_conditioned(), model(5));
}

TEST_CASE("ns5 rejects fewer than one step and a negative eps", "[ns5]") {
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("ns5", "{steps: 0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("ns5", "{eps: -1.0e-7}"));
}
