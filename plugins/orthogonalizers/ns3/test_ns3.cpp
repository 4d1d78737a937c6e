// Tests of cubic Newton-Schulz against its scalar model x <- 1.5 x - 0.5 x^3 and, where it has
// converged, against the exact polar factor.
#include <catch2/catch.hpp>

#include "../common/newton_schulz_testing.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;
namespace nst = muonlab::newton_schulz_testing;

constexpr double kEps = 1e-7;  // the plugin's default normalization guard
const std::vector<nst::Triple> kCubic{{1.5, -0.5, 0.0}};

nst::SingularValueMap cubic_model(int steps, double eps = kEps) {
  return nst::frobenius_model(kCubic, steps, 1.0, eps);
}

// docs/algorithms.md section 1.14, rows "cubic NS x5" and "cubic NS x10".
constexpr nst::TableRow kCubic5{1.0000, 1.0000, 0.6587, 0.2248, 0.0758, 0.0076, 0.0008};
constexpr nst::TableRow kCubic10{1.0000, 1.0000, 1.0000, 0.9676, 0.5294, 0.0576, 0.0058};

// Steps after which x0 is within tol of 1 (x0 in (0, 1]).
int steps_to_reach(double x0, double tol) {
  int steps = 0;
  for (double x = x0; 1.0 - x > tol; x = nst::evaluate(kCubic[0], x)) ++steps;
  return steps;
}

}  // namespace

TEST_CASE("ns3 reproduces the scalar-model table rows cubic NS x5 and x10", "[ns3]") {
  nst::check_table_row("ns3", "{steps: 5}", cubic_model(5), kCubic5);
  nst::check_table_row("ns3", "{steps: 10}", cubic_model(10), kCubic10);
}

TEST_CASE("ns3 output is U p^k(Sigma) V^T of the known factors", "[ns3]") {
  nst::check_output_is_spectral_map("ns3", "{steps: 6}", cubic_model(6));
  nst::check_output_is_spectral_map("ns3", "{}", cubic_model(14));
}

TEST_CASE("ns3 default of 14 steps is the fewest taking every x0 in [0.01, 1] within 1e-3 of 1", "[ns3]") {
  // p(x) = 1.5x - 0.5x^3 is increasing on [0, 1] with x <= p(x) <= 1, so after k steps the
  // distance to 1 decreases with x0 and the worst input of [0.01, 1] is 0.01.
  CHECK(steps_to_reach(0.01, 1e-3) == 14);
  // docs/algorithms.md section 1.3: 9 steps from 0.1, 14 from 0.01, 20 from 1e-3.
  CHECK(steps_to_reach(0.1, 1e-3) == 9);
  CHECK(steps_to_reach(1e-3, 1e-3) == 20);

  auto ns3 = muonlab::testing::make_orthogonalizer("ns3");
  Vector d(4);
  d << 0.01, 0.03, 0.1, 0.0;
  d(3) = std::sqrt(1.0 - d.squaredNorm());  // entries / ||.||_F are exactly the x0 above
  const Matrix g = nst::embedded_diagonal(d, 6, 5);
  const Matrix o = nst::apply(*ns3, g);
  for (Eigen::Index i = 0; i < d.size(); ++i) {
    CAPTURE(d(i));
    CHECK(std::abs(o(i, i) - 1.0) <= 1e-3);
  }
  CHECK(ns3->last_cost().gemms == 28);
}

TEST_CASE("ns3 converges to the exact polar factor on a 200x50 Gaussian and a kappa = 1e4 matrix", "[ns3]") {
  // Gaussian 200 x 50: x0 >= 0.076, which the 14 default steps take to 1 to machine precision
  // (11 steps suffice from 0.1 by the scalar model). Near the fixed point p'(1) = 0, so
  // earlier rounding is not amplified; what remains is the last step's GEMM rounding,
  // <= q eps ||X||_F^2 ~ 200 * 1.1e-16 * 50 = 1.1e-12 in the worst case, and the SVD
  // oracle's ~kappa eps ~ 1e-15: bound 2e-12 (observed ~1e-14).
  const Matrix gaussian = nst::accuracy_gaussian();
  auto ns3 = muonlab::testing::make_orthogonalizer("ns3");
  CHECK(nst::predicted_polar_error(gaussian, cubic_model(14)) < 1e-15);
  CHECK(nst::polar_error(gaussian, nst::apply(*ns3, gaussian)) < 2e-12);

  // kappa = 1e4: x0 down to 5.6e-5 needs more steps; the scalar model says how many (about
  // log(1 / 5.6e-5) / log(1.5) = 24 steps of growth, then 5 of quadratic convergence).
  const Matrix ill = nst::accuracy_ill_conditioned();
  const Vector s = Eigen::JacobiSVD<Matrix>(ill).singularValues();
  const int steps = steps_to_reach(s(s.size() - 1) / ill.norm(), 1e-15);
  CHECK(steps == 29);
  auto converged = muonlab::testing::make_orthogonalizer("ns3", "{steps: " + std::to_string(steps) + "}");
  // Oracle and iteration are accurate to ~kappa times their backward error (~1e-14): 1e-10.
  CHECK(nst::polar_error(ill, nst::apply(*converged, ill)) < 1e-10);
}

TEST_CASE("ns3 distance to the polar factor follows the scalar model at the default step count", "[ns3]") {
  nst::check_polar_error_matches_model("ns3", "{}", nst::accuracy_gaussian(), cubic_model(14));
  nst::check_polar_error_matches_model("ns3", "{}", nst::accuracy_ill_conditioned(), cubic_model(14));
}

TEST_CASE("ns3 maps the zero matrix to exactly zero also without the eps guard", "[ns3]") {
  auto ns3 = muonlab::testing::make_orthogonalizer("ns3", "{eps: 0.0}");
  const Matrix o = nst::apply(*ns3, Matrix::Zero(6, 3));
  CHECK((o.array() == 0.0).all());
  CHECK(ns3->last_cost().gemms == 0);
}

TEST_CASE("ns3 reports 2 GEMMs and 4p^2q flops per step", "[ns3]") {
  auto ns3 = muonlab::testing::make_orthogonalizer("ns3", "{steps: 7}");
  nst::apply(*ns3, nst::gaussian(50, 20, 3));
  // p = 20, q = 50: 4 * 20^2 * 50 = 80000 per step.
  CHECK(ns3->last_cost().gemms == 14);
  CHECK(ns3->last_cost().flops == Approx(7 * 80000.0));
}

TEST_CASE("ns3 rejects fewer than one step and a negative eps", "[ns3]") {
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("ns3", "{steps: 0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("ns3", "{eps: -1.0e-7}"));
}
