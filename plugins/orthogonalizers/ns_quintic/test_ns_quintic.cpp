// Tests of You Jiacheng's 5-step quintic schedule against its scalar model.
#include <catch2/catch.hpp>

#include "../common/newton_schulz_testing.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;
namespace nst = muonlab::newton_schulz_testing;

constexpr double kEps = 1e-7;  // the plugin's default normalization guard

// docs/algorithms.md section 1.5.
const std::vector<nst::Triple> kYou{
    {4.0848, -6.8946, 2.9270}, {3.9505, -6.3029, 2.6377}, {3.7418, -5.5913, 2.3037},
    {2.8769, -3.1427, 1.2046}, {2.8366, -3.0525, 1.2012},
};

nst::SingularValueMap you_model(int steps) { return nst::frobenius_model(kYou, steps, 1.0, kEps); }

// docs/algorithms.md section 1.14, row 'You "quintic" 5'.
constexpr nst::TableRow kYou5{0.9783, 0.9859, 1.0190, 0.9857, 1.0180, 0.4750, 0.0493};

}  // namespace

TEST_CASE("ns_quintic reproduces the scalar-model table row You quintic 5", "[ns_quintic]") {
  nst::check_table_row("ns_quintic", "{}", you_model(5), kYou5);
}

TEST_CASE("ns_quintic output is U p5..p1(Sigma) V^T of the known factors", "[ns_quintic]") {
  nst::check_output_is_spectral_map("ns_quintic", "{}", you_model(5));
}

TEST_CASE("ns_quintic uses the first steps of the table and repeats its last triple past 5", "[ns_quintic]") {
  for (const int steps : {3, 7}) {
    CAPTURE(steps);
    auto ns = muonlab::testing::make_orthogonalizer("ns_quintic", "{steps: " + std::to_string(steps) + "}");
    const Matrix g = nst::embedded_diagonal(nst::table_diagonal(), 9, 7);
    nst::check_diagonal_against_model(g, nst::apply(*ns, g), you_model(steps));
  }
}

TEST_CASE("ns_quintic lands every x0 in [0.01, 1] in [0.977, 1.033] after 5 steps", "[ns_quintic]") {
  // docs/algorithms.md section 1.5 quotes [0.978, 1.032] (rounded); checked on a fine log grid of the
  // scalar model, then on a diagonal matrix holding part of the grid.
  double low = 2.0, high = 0.0;
  for (int i = 0; i <= 2000; ++i) {
    const double y = nst::compose(kYou, 5, std::pow(10.0, -2.0 * i / 2000.0));
    low = std::min(low, y);
    high = std::max(high, y);
  }
  CHECK(low > 0.977);
  CHECK(high < 1.033);

  Vector d = Vector::LinSpaced(20, -2.0, 0.0).unaryExpr([](double e) { return std::pow(10.0, e); });
  const Matrix g = nst::embedded_diagonal(d, 25, 20);
  auto ns = muonlab::testing::make_orthogonalizer("ns_quintic");
  const Vector out = nst::apply(*ns, g).diagonal();
  // x0 = d_i / ||d||: the smallest entries fall below 0.01, outside the band's input range.
  for (Eigen::Index i = 0; i < d.size(); ++i) {
    if (d(i) / d.norm() < 0.01) continue;
    CAPTURE(i, d(i) / d.norm());
    CHECK(out(i) > 0.977);
    CHECK(out(i) < 1.033);
  }
}

TEST_CASE("ns_quintic distance to the polar factor follows the scalar model", "[ns_quintic]") {
  nst::check_polar_error_matches_model("ns_quintic", "{}", nst::accuracy_gaussian(), you_model(5));
  nst::check_polar_error_matches_model("ns_quintic", "{}", nst::accuracy_ill_conditioned(), you_model(5));
}

TEST_CASE("ns_quintic maps the zero matrix to exactly zero also without the eps guard", "[ns_quintic]") {
  auto ns = muonlab::testing::make_orthogonalizer("ns_quintic", "{eps: 0.0}");
  CHECK((nst::apply(*ns, Matrix::Zero(3, 6)).array() == 0.0).all());
  CHECK(ns->last_cost().gemms == 0);
}

TEST_CASE("ns_quintic reports 3 GEMMs and 4p^2q + 2p^3 flops per step", "[ns_quintic]") {
  auto ns = muonlab::testing::make_orthogonalizer("ns_quintic");
  nst::apply(*ns, nst::gaussian(20, 50, 3));
  // p = 20, q = 50: 4*20^2*50 + 2*20^3 = 96000 per step.
  CHECK(ns->last_cost().gemms == 15);
  CHECK(ns->last_cost().flops == Approx(5 * 96000.0));
}

TEST_CASE("ns_quintic rejects fewer than one step and a negative eps", "[ns_quintic]") {
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("ns_quintic", "{steps: 0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("ns_quintic", "{eps: -1.0}"));
}
