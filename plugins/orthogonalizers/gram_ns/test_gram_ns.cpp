// Tests of Gram Newton-Schulz: it evaluates the same polynomial of X0 as the standard
// iteration, so it must follow the same scalar models and agree with the standard plugins on
// general matrices, with or without restarts, at its own (smaller for p << q) cost.
#include <catch2/catch.hpp>

#include "../common/newton_schulz_testing.hpp"
#include <muonlab/orth/schedules.hpp>

namespace {

using muonlab::Matrix;
using muonlab::Vector;
namespace ns = muonlab::newton_schulz;
namespace nst = muonlab::newton_schulz_testing;

constexpr double kEps = 1e-7;  // the plugin's default normalization guard

template <class Table>
std::vector<nst::Triple> triples(const Table& table) {
  std::vector<nst::Triple> out;
  for (const ns::OddPolynomial& p : table) out.push_back({p.a, p.b, p.c});
  return out;
}

struct NamedModel {
  std::string params;
  nst::SingularValueMap model;
  nst::TableRow row;  // docs/algorithms.md section 1.14
  double model_tolerance = nst::kModelTolerance;
};

std::vector<NamedModel> schedules_with_table_rows() {
  const std::vector<nst::Triple> cubic{{1.5, -0.5, 0.0}};
  return {
      {"{}",
       nst::frobenius_model(triples(ns::kPolarExpressFiveStep), 5, 1.02, kEps),
       {0.9035, 1.0864, 1.0165, 1.1083, 0.9968, 0.8466, 0.0969}},
      {"{schedule: polar_express_8}",
       nst::frobenius_model(triples(ns::polar_express_eight_step()), 8, 1.01, kEps),
       {1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 0.5701}},
      {"{schedule: you_quintic}",
       nst::frobenius_model(triples(ns::kYouQuintic), 5, 1.0, kEps),
       {0.9783, 0.9859, 1.0190, 0.9857, 1.0180, 0.4750, 0.0493}},
      // The CANS table amplifies rounding by 1.05e5 at x0 = 1: see test_cans.cpp.
      {"{schedule: cans_quintic}",
       nst::frobenius_model(triples(ns::kCansQuintic), 5, 1.0, kEps),
       {1.0051, 1.0964, 0.9163, 0.8883, 1.1132, 0.8865, 0.1047},
       5e-11},
      {"{schedule: keller}",
       nst::frobenius_model({{3.4445, -4.7750, 2.0315}}, 5, 1.0, kEps),
       {0.6964, 0.7654, 0.7121, 1.1223, 0.6989, 0.4705, 0.0485}},
      {"{schedule: cubic, steps: 5}",
       nst::frobenius_model(cubic, 5, 1.0, kEps),
       {1.0000, 1.0000, 0.6587, 0.2248, 0.0758, 0.0076, 0.0008}},
      {"{schedule: cubic, steps: 10}",
       nst::frobenius_model(cubic, 10, 1.0, kEps),
       {1.0000, 1.0000, 1.0000, 0.9676, 0.5294, 0.0576, 0.0058}},
  };
}

double relative_difference(const Matrix& value, const Matrix& reference) {
  return (value - reference).norm() / reference.norm();
}

}  // namespace

TEST_CASE("gram_ns reproduces the scalar-model table rows of every schedule", "[gram_ns]") {
  for (const NamedModel& s : schedules_with_table_rows()) {
    nst::check_table_row("gram_ns", s.params, s.model, s.row, s.model_tolerance);
    nst::check_output_is_spectral_map("gram_ns", s.params, s.model);
  }
}

TEST_CASE("gram_ns equals the standard iteration of the same schedule, with and without restarts", "[gram_ns]") {
  struct Pair {
    std::string gram_params, standard, standard_params;
    int steps;
    double safety;
    std::vector<nst::Triple> schedule;
  };
  const std::vector<nst::Triple> cubic{{1.5, -0.5, 0.0}};
  const Pair pairs[] = {
      {"{}", "polar_express", "{}", 5, 1.02, triples(ns::kPolarExpressFiveStep)},
      {"{schedule: polar_express_8}", "polar_express", "{variant: eight_step}", 8, 1.01,
       triples(ns::polar_express_eight_step())},
      {"{schedule: you_quintic}", "ns_quintic", "{}", 5, 1.0, triples(ns::kYouQuintic)},
      {"{schedule: keller}", "ns5", "{}", 5, 1.0, {{3.4445, -4.7750, 2.0315}}},
      {"{schedule: cubic}", "ns3", "{}", 14, 1.0, cubic},
      {"{schedule: cans_quintic}", "cans", "{}", 5, 1.0, triples(ns::kCansQuintic)},
  };
  const Matrix inputs[] = {nst::accuracy_gaussian(), nst::accuracy_ill_conditioned(), Matrix(nst::gaussian(30, 30, 9))};
  for (const Pair& pair : pairs) {
    auto reference = muonlab::testing::make_orthogonalizer(pair.standard, pair.standard_params);
    auto gram = muonlab::testing::make_orthogonalizer("gram_ns", pair.gram_params);
    std::string with_restarts = pair.gram_params;
    with_restarts.insert(with_restarts.size() - 1,
                         std::string(pair.gram_params == "{}" ? "" : ", ") + "restart_after: [2, 3]");
    auto restarted = muonlab::testing::make_orthogonalizer("gram_ns", with_restarts);
    for (const Matrix& g : inputs) {
      CAPTURE(pair.gram_params, with_restarts, pair.standard, g.rows(), g.cols());
      // Both evaluate one polynomial of X0, associated differently. Gram NS forms
      // Q = U diag(f(x) / x) U^T explicitly: its products round at ~p eps ||Q|| per step, and
      // Q X0 spreads that error over every direction, so the output error is up to
      // steps * p * eps * max_i f(x_i) / x_i -- about 1e-12 for the Gaussian inputs and
      // 2.7e-10 for the kappa = 1e4 one (f(x) / x = 6e3 at its smallest x0 under
      // polar_express_8). The standard iteration's own error is ~1e-13 (floor 1e-12).
      const Vector sv = Eigen::JacobiSVD<Matrix>(g).singularValues();
      const double frobenius = g.norm();
      double largest_gain = 0.0;
      for (Eigen::Index i = 0; i < sv.size(); ++i) {
        const double x0 = sv(i) / (pair.safety * frobenius + kEps);
        largest_gain = std::max(largest_gain, nst::compose(pair.schedule, pair.steps, x0) / x0);
      }
      const double tolerance =
          std::max(1e-12, pair.steps * static_cast<double>(std::min(g.rows(), g.cols())) * 1.1e-16 * largest_gain);
      const Matrix expected = nst::apply(*reference, g);
      const double plain = relative_difference(nst::apply(*gram, g), expected);
      const double restarts = relative_difference(nst::apply(*restarted, g), expected);
      INFO("relative differences " << plain << " (no restart), " << restarts << " (restarts); tolerance " << tolerance);
      CHECK(plain < tolerance);
      CHECK(restarts < tolerance);
    }
  }
}

TEST_CASE("gram_ns restarts recover the standard iteration's accuracy on an ill-conditioned input", "[gram_ns]") {
  // Exact answer U f(Sigma) V^T from known factors (kappa = 1e4, x0 down to 5.6e-5). Without
  // restarts the error of the explicit Q (entries up to f(x) / x ~ 6e3) dominates; a restart
  // after step 2 applies Q while it is still small and rebuilds R from X.
  std::mt19937_64 rng(12);
  const Matrix u = muonlab::haar_orthonormal(200, 50, rng);
  const Matrix v = muonlab::haar_orthonormal(50, 50, rng);
  const Vector s = nst::geometric_spectrum(50, 1e4);
  const Matrix g = u * s.asDiagonal() * v.transpose();
  const std::vector<nst::Triple> schedule = triples(ns::polar_express_eight_step());
  Vector mapped(s.size());
  for (Eigen::Index i = 0; i < s.size(); ++i) mapped(i) = nst::compose(schedule, 8, s(i) / (1.01 * s.norm() + kEps));
  const Matrix exact = u * mapped.asDiagonal() * v.transpose();

  auto plain = muonlab::testing::make_orthogonalizer("gram_ns", "{schedule: polar_express_8}");
  auto restarted =
      muonlab::testing::make_orthogonalizer("gram_ns", "{schedule: polar_express_8, restart_after: [2, 3]}");
  auto standard = muonlab::testing::make_orthogonalizer("polar_express", "{variant: eight_step}");
  const double plain_error = relative_difference(nst::apply(*plain, g), exact);
  const double restarted_error = relative_difference(nst::apply(*restarted, g), exact);
  const double standard_error = relative_difference(nst::apply(*standard, g), exact);
  INFO("relative errors: plain " << plain_error << ", restarted " << restarted_error << ", standard "
                                 << standard_error);
  CHECK(restarted_error < plain_error / 10.0);  // observed ~300x
  CHECK(restarted_error < 10.0 * standard_error);
}

TEST_CASE("gram_ns costs 4k - 1 GEMMs, 4p^2q + 2p^3 (4k - 3) flops for k quintic steps", "[gram_ns]") {
  const Matrix g = nst::gaussian(200, 20, 3);  // p = 20, q = 200
  const double p = 20.0, q = 200.0;
  auto gram = muonlab::testing::make_orthogonalizer("gram_ns");
  nst::apply(*gram, g);
  // X X^T and Q X (p x q), then per step R R, and Q Z except at the first step (Q = I),
  // and Z R Z (two products) except after the last step.
  CHECK(gram->last_cost().gemms == 19);
  CHECK(gram->last_cost().flops == Approx(4 * p * p * q + 2 * p * p * p * 17));
  // The standard iteration costs 5 (4p^2q + 2p^3): almost 3x more at q = 10 p.
  auto standard = muonlab::testing::make_orthogonalizer("polar_express");
  nst::apply(*standard, g);
  CHECK(standard->last_cost().flops == Approx(5 * (4 * p * p * q + 2 * p * p * p)));
  CHECK(gram->last_cost().flops < 0.4 * standard->last_cost().flops);

  // A restart after step 2 replaces the Z R Z before step 2 by Q X and X X^T, and Q = I again
  // saves the Q Z of step 2: 1 + (2 + 1 + 2) + 2 + (3 + 2 + 4) + 1 = 18 GEMMs.
  auto restarted = muonlab::testing::make_orthogonalizer("gram_ns", "{restart_after: [2]}");
  nst::apply(*restarted, g);
  CHECK(restarted->last_cost().gemms == 18);
  CHECK(restarted->last_cost().flops == Approx(4 * 2 * p * p * q + 14 * 2 * p * p * p));

  // A cubic schedule has no R R: 3k - 1 GEMMs.
  auto cubic = muonlab::testing::make_orthogonalizer("gram_ns", "{schedule: cubic, steps: 6}");
  nst::apply(*cubic, g);
  CHECK(cubic->last_cost().gemms == 17);
  CHECK(cubic->last_cost().flops == Approx(4 * p * p * q + 2 * p * p * p * 15));
}

TEST_CASE("gram_ns maps zero to zero and rejects restarts outside [1, steps - 1]", "[gram_ns]") {
  auto gram = muonlab::testing::make_orthogonalizer("gram_ns", "{eps: 0.0}");
  CHECK((nst::apply(*gram, Matrix::Zero(3, 8)).array() == 0.0).all());
  CHECK(gram->last_cost().gemms == 0);
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("gram_ns", "{restart_after: [0]}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("gram_ns", "{restart_after: [5]}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("gram_ns", "{restart_after: [2.5]}"));
  CHECK_NOTHROW(muonlab::testing::make_orthogonalizer("gram_ns", "{schedule: polar_express_8, restart_after: [7]}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("gram_ns", "{schedule: ns7}"));
}
