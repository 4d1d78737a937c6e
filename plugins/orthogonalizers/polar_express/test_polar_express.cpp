// Tests of Polar Express: the shipped tables against their generating recursion (a Remez
// solver written here), and the plugin against the scalar model of the tables it applies.
#include <catch2/catch.hpp>

#include <Eigen/LU>

#include "../common/newton_schulz_testing.hpp"
#include <muonlab/orth/schedules.hpp>

namespace {

using muonlab::Matrix;
using muonlab::Vector;
namespace ns = muonlab::newton_schulz;
namespace nst = muonlab::newton_schulz_testing;

constexpr double kEps = 1e-7;  // the plugin's default normalization guard

// ---- The generator (docs/algorithms.md section 1.6; PolarExpress `optimal_composition`) ----

// The odd quintic p minimizing max |1 - p(x)| on [l, u]: equioscillation at l < q < r < u,
// p(l) = 1 - E, p(q) = 1 + E, p(r) = 1 - E, p(u) = 1 + E, found by the simplified Remez
// iteration (solve for a, b, c, E; move q, r to the interior extrema of p; repeat until E is
// stable to 1e-15). Nearly degenerate intervals take the classical quintic scaled to u.
nst::Triple optimal_quintic(double l, double u) {
  if (1.0 - 5e-6 <= l / u) return {15.0 / 8.0 / u, -10.0 / 8.0 / std::pow(u, 3), 3.0 / 8.0 / std::pow(u, 5)};
  double q = (3.0 * l + u) / 4.0;
  double r = (l + 3.0 * u) / 4.0;
  double error = std::numeric_limits<double>::infinity();
  nst::Triple p{};
  for (int iteration = 0;; ++iteration) {
    REQUIRE(iteration < 100);
    const double previous = error;
    const double nodes[4] = {l, q, r, u};
    Eigen::Matrix4d system;
    for (int row = 0; row < 4; ++row) {
      const double x = nodes[row];
      system.row(row) << x, std::pow(x, 3), std::pow(x, 5), row % 2 == 0 ? 1.0 : -1.0;
    }
    const Eigen::Vector4d solution = system.partialPivLu().solve(Eigen::Vector4d::Ones());
    p = {solution(0), solution(1), solution(2)};
    error = solution(3);
    // p'(x) = a + 3b x^2 + 5c x^4 = 0: the two interior extrema.
    const double root = std::sqrt(9.0 * p.b * p.b - 20.0 * p.a * p.c);
    q = std::sqrt((-3.0 * p.b - root) / (10.0 * p.c));
    r = std::sqrt((-3.0 * p.b + root) / (10.0 * p.c));
    if (std::abs(previous - error) <= 1e-15) return p;
  }
}

// p(x / s): (a / s, b / s^3, c / s^5).
nst::Triple contracted(const nst::Triple& p, double s) { return {p.a / s, p.b / std::pow(s, 3), p.c / std::pow(s, 5)}; }

struct Composition {
  std::vector<nst::Triple> polynomials;
  std::vector<double> lower, upper;  // the interval [l_k, u_k] each polynomial was built for
};

// Start from [l, 1]; each step optimizes on [max(l, cushion u), u], recentres p([l, u]) on 1
// when the cushion was active, optionally applies the safety factor inside the recursion
// (all but the last polynomial), then moves to [p(l), 2 - p(l)].
Composition optimal_composition(double l, int iterations, double safety_eps, double cushion, bool safety_inside) {
  Composition out;
  double u = 1.0;
  for (int it = 0; it < iterations; ++it) {
    out.lower.push_back(l);
    out.upper.push_back(u);
    nst::Triple p = optimal_quintic(std::max(l, cushion * u), u);
    if (cushion * u > l) {
      const double rescale = 2.0 / (nst::evaluate(p, l) + nst::evaluate(p, u));
      p = {p.a * rescale, p.b * rescale, p.c * rescale};
    }
    if (safety_inside && it < iterations - 1) p = contracted(p, 1.0 + safety_eps);
    out.polynomials.push_back(p);
    l = nst::evaluate(p, l);
    u = 2.0 - l;
    l = std::min(l, u);
  }
  return out;
}

// Cushion of the paper's listing of the generator; the 8-step table is reproduced with it
// (and with the safety factor applied after the recursion, not inside).
constexpr double kPaperCushion = 0.02407327424182761;

nst::Triple as_triple(const ns::OddPolynomial& p) { return {p.a, p.b, p.c}; }

// ---- Scalar models of the applied schedules ----

// Five-step: the table as shipped, input x0 = sigma / (1.02 ||G||_F + eps).
nst::SingularValueMap five_step_model(int steps) {
  std::vector<nst::Triple> table;
  for (const auto& p : ns::kPolarExpressFiveStep) table.push_back(as_triple(p));
  return nst::frobenius_model(table, steps, 1.02, kEps);
}

// Eight-step: raw table with p(x / 1.01) on steps 1-7, input x0 = sigma / (1.01 ||G||_F + eps).
nst::SingularValueMap eight_step_model(int steps) {
  std::vector<nst::Triple> table;
  for (const auto& p : ns::kPolarExpressEightStepRaw) table.push_back(as_triple(p));
  for (std::size_t i = 0; i + 1 < table.size(); ++i) table[i] = contracted(table[i], 1.01);
  return nst::frobenius_model(table, steps, 1.01, kEps);
}

// docs/algorithms.md section 1.14.
constexpr nst::TableRow kTableC5{0.9035, 1.0864, 1.0165, 1.1083, 0.9968, 0.8466, 0.0969};
constexpr nst::TableRow kTableAB8{1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 0.5701};
constexpr nst::TableRow kTableABFirst5{0.8771, 1.1047, 0.8914, 1.0609, 1.0540, 0.8401, 0.0965};

}  // namespace

TEST_CASE("polar_express five-step table is optimal_composition(1e-3, 5, safety 0.02, cushion 0.02)",
          "[polar_express]") {
  const Composition regenerated = optimal_composition(1e-3, 5, 0.02, 0.02, true);
  // Each Remez solve is a 4 x 4 system with well-separated nodes on these intervals; the
  // recursion carries its rounding (~1e-15 relative) through 5 steps; coefficients are at most
  // ~22 in size: 1e-12 absolute leaves a wide margin (observed ~3e-14).
  for (std::size_t k = 0; k < ns::kPolarExpressFiveStep.size(); ++k) {
    CAPTURE(k);
    const ns::OddPolynomial& shipped = ns::kPolarExpressFiveStep[k];
    CHECK(std::abs(shipped.a - regenerated.polynomials[k].a) < 1e-12);
    CHECK(std::abs(shipped.b - regenerated.polynomials[k].b) < 1e-12);
    CHECK(std::abs(shipped.c - regenerated.polynomials[k].c) < 1e-12);
  }
}

TEST_CASE("polar_express eight-step table is optimal_composition(1e-3, 8, cushion 0.0240733) before safety",
          "[polar_express]") {
  const Composition regenerated = optimal_composition(1e-3, 8, 0.0, kPaperCushion, false);
  // Steps 1-6: coefficients to 1e-12, as for the five-step table (observed ~2e-14).
  for (std::size_t k = 0; k < 6; ++k) {
    CAPTURE(k);
    const ns::OddPolynomial& shipped = ns::kPolarExpressEightStepRaw[k];
    CHECK(std::abs(shipped.a - regenerated.polynomials[k].a) < 1e-12);
    CHECK(std::abs(shipped.b - regenerated.polynomials[k].b) < 1e-12);
    CHECK(std::abs(shipped.c - regenerated.polynomials[k].c) < 1e-12);
  }

  // Step 7 is built on [l, u] = [0.99882, 1.00118]: the Remez nodes are 6e-4 apart and the
  // monomial coefficients are ill-determined along x (1 - x^2)^2 ~ (a, b, c) = (1, -2, 1),
  // which is ~6e-6 on that interval. So the coefficients agree only to ~1e-10 (observed 4e-11
  // against the table) while the polynomials, which is what the iteration uses, agree to
  // rounding on the interval: 1e-12 with a wide margin.
  const double l6 = regenerated.lower[6];
  const double u6 = regenerated.upper[6];
  CHECK(1.0 - l6 / u6 > 5e-6);  // a genuine Remez step, not the degenerate branch
  const nst::Triple shipped7 = as_triple(ns::kPolarExpressEightStepRaw[6]);
  CHECK(std::abs(shipped7.a - regenerated.polynomials[6].a) < 1e-9);
  for (int i = 0; i <= 200; ++i) {
    const double x = l6 + (u6 - l6) * i / 200.0;
    CHECK(std::abs(nst::evaluate(shipped7, x) - nst::evaluate(regenerated.polynomials[6], x)) < 1e-12);
  }

  // Step 8: l/u >= 1 - 5e-6, so the recursion returns the classical quintic scaled to
  // u_7 = 1 + 1e-9; the table lists its u -> 1 limit (15/8, -10/8, 3/8) exactly.
  const double u7 = regenerated.upper[7];
  CHECK(1.0 - regenerated.lower[7] / u7 <= 5e-6);
  CHECK(std::abs(u7 - 1.0) < 1e-8);
  const nst::Triple last = regenerated.polynomials[7];
  CHECK(std::abs(last.a * u7 - 1.875) < 1e-15);
  CHECK(std::abs(last.b * std::pow(u7, 3) + 1.25) < 1e-15);
  CHECK(std::abs(last.c * std::pow(u7, 5) - 0.375) < 1e-15);
  CHECK(ns::kPolarExpressEightStepRaw[7].a == 1.875);
  CHECK(ns::kPolarExpressEightStepRaw[7].b == -1.25);
  CHECK(ns::kPolarExpressEightStepRaw[7].c == 0.375);
}

TEST_CASE("polar_express applies the 1.01 safety factor to steps 1-7 of the eight-step table only", "[polar_express]") {
  const std::vector<ns::OddPolynomial> applied = ns::polar_express_eight_step();
  REQUIRE(applied.size() == 8);
  for (std::size_t k = 0; k < 7; ++k) {
    const nst::Triple expected = contracted(as_triple(ns::kPolarExpressEightStepRaw[k]), 1.01);
    CHECK(applied[k].a == Approx(expected.a).epsilon(1e-15));
    CHECK(applied[k].b == Approx(expected.b).epsilon(1e-15));
    CHECK(applied[k].c == Approx(expected.c).epsilon(1e-15));
  }
  CHECK(applied[7].a == 1.875);
  // docs/algorithms.md Table B: the same schedule rounded to 4 decimals (Emerging-Optimizers).
  CHECK(applied[0].a == Approx(8.2051).margin(5e-5));
  CHECK(applied[0].b == Approx(-22.9019).margin(5e-5));
  CHECK(applied[6].c == Approx(0.3568).margin(5e-5));
}

TEST_CASE("polar_express reproduces the scalar-model table rows", "[polar_express]") {
  nst::check_table_row("polar_express", "{}", five_step_model(5), kTableC5);
  nst::check_table_row("polar_express", "{variant: eight_step}", eight_step_model(8), kTableAB8);
  nst::check_table_row("polar_express", "{variant: eight_step, steps: 5}", eight_step_model(5), kTableABFirst5);
}

TEST_CASE("polar_express output is U f(Sigma) V^T of the known factors, steps past the table repeat the last",
          "[polar_express]") {
  nst::check_output_is_spectral_map("polar_express", "{}", five_step_model(5));
  nst::check_output_is_spectral_map("polar_express", "{variant: eight_step}", eight_step_model(8));
  nst::check_output_is_spectral_map("polar_express", "{steps: 7}", five_step_model(7));
  nst::check_output_is_spectral_map("polar_express", "{variant: eight_step, steps: 10}", eight_step_model(10));
}

TEST_CASE("polar_express eight-step maps [1e-3, 1] to 1 and converges to the exact polar factor", "[polar_express]") {
  // Scalar model on a fine log grid of x0 = sigma / ||G||_F in [1e-3, 1]: within 1.1e-5 of 1
  // after 7 steps (docs/algorithms.md: "1 +- 1e-5"), then the classical quintic, whose error is
  // cubic at 1, leaves only rounding.
  double after7 = 0.0, after8 = 0.0;
  for (int i = 0; i <= 3000; ++i) {
    const double x0 = std::pow(10.0, -3.0 * i / 3000.0);
    after7 = std::max(after7, std::abs(eight_step_model(7)(x0, 1.0) - 1.0));
    after8 = std::max(after8, std::abs(eight_step_model(8)(x0, 1.0) - 1.0));
  }
  CHECK(after7 < 1.1e-5);
  CHECK(after8 < 1e-14);

  // Gaussian 200 x 50 (x0 >= 0.076): the polar factor to rounding. The last polynomial has
  // p'(1) = p''(1) = 0, so earlier rounding is damped and what remains is the last step's GEMM
  // rounding (<= q eps ||X||_F^2 ~ 1.1e-12 worst case) plus the oracle's ~1e-15: 2e-12
  // (observed ~1e-14).
  const Matrix gaussian = nst::accuracy_gaussian();
  auto pe = muonlab::testing::make_orthogonalizer("polar_express", "{variant: eight_step}");
  CHECK(nst::polar_error(gaussian, nst::apply(*pe, gaussian)) < 2e-12);
}

TEST_CASE("polar_express distance to the polar factor follows the scalar model", "[polar_express]") {
  for (const Matrix& g : {nst::accuracy_gaussian(), nst::accuracy_ill_conditioned()}) {
    nst::check_polar_error_matches_model("polar_express", "{}", g, five_step_model(5));
    nst::check_polar_error_matches_model("polar_express", "{variant: eight_step}", g, eight_step_model(8));
  }
}

TEST_CASE("polar_express reports 3 GEMMs per quintic step, 5 or 8 steps by variant", "[polar_express]") {
  const Matrix g = nst::gaussian(50, 20, 3);  // p = 20, q = 50: 96000 flops per step
  auto five = muonlab::testing::make_orthogonalizer("polar_express");
  nst::apply(*five, g);
  CHECK(five->last_cost().gemms == 15);
  CHECK(five->last_cost().flops == Approx(5 * 96000.0));
  auto eight = muonlab::testing::make_orthogonalizer("polar_express", "{variant: eight_step}");
  nst::apply(*eight, g);
  CHECK(eight->last_cost().gemms == 24);
  CHECK(eight->last_cost().flops == Approx(8 * 96000.0));
}

TEST_CASE("polar_express maps zero to zero and rejects an unknown variant", "[polar_express]") {
  auto pe = muonlab::testing::make_orthogonalizer("polar_express", "{variant: eight_step, eps: 0.0}");
  CHECK((nst::apply(*pe, Matrix::Zero(4, 4)).array() == 0.0).all());
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("polar_express", "{variant: six_step}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("polar_express", "{steps: -1}"));
}
