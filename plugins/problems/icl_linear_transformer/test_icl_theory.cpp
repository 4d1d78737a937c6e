// Theory of icl_linear_transformer (theory.hpp) against real runs: the problem plugin, the
// muon / gd optimizer plugins and the svd orthogonalizer, driven step by step like the core's
// cell loop. The oracle for every prediction is the measured matrix run (observe() and the
// loss_gap metric), which shares no code with the scalar recursions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "icl_test_support.hpp"

namespace {

using icl_test::instance_array;
using icl_test::make;
using muonlab::Matrix;
using muonlab::NamedArray;
using muonlab::ProblemHandle;
using muonlab::Vector;

// Exact polar factor: every nonzero singular value kept (see the README, "Theory": the
// gradient's singular values span h_max / h_min times the spread of |gamma_i - gamma*_i|).
constexpr const char* kExactSvd = "{name: svd, params: {rank_threshold: 0}}";

struct RunRecord {
  std::vector<std::int64_t> steps;
  std::vector<double> step_sizes;
  std::vector<double> loss_gap, rel_loss_gap;
  std::vector<Vector> eigen_coordinates, off_diagonal;
  std::map<std::string, Matrix> theory;
  std::int64_t iters_to_tol = -1;
};

// The core's cell loop with spectra: every: evaluate, observe, stop?, step, read eta_t; then
// predict(). `start` replaces the problem's own initial iterate when not empty.
RunRecord run(ProblemHandle& problem, const std::string& optimizer_name, const std::string& optimizer_params,
              std::int64_t max_steps, double tol, const std::vector<Matrix>& start = {}) {
  auto optimizer = muonlab::testing::make_optimizer(optimizer_name, optimizer_params);
  optimizer->initialize(problem.blocks());
  std::vector<Matrix> params = problem.allocate();
  if (start.empty()) {
    problem.initialize(params);
  } else {
    params = start;
  }
  const std::vector<Matrix> initial = params;
  std::vector<Matrix> grads = problem.allocate();
  std::vector<double> metrics(problem.metrics().size());
  const std::size_t lr_index = 0;
  REQUIRE(optimizer->diagnostics()[lr_index].name == "lr");
  std::vector<double> diagnostics(optimizer->diagnostics().size());
  RunRecord out;
  for (std::int64_t t = 0;; ++t) {
    problem.evaluate(params, grads, metrics.data(), muonlab::EvalContext{t, 0});
    out.steps.push_back(t);
    out.loss_gap.push_back(metrics[0]);
    out.rel_loss_gap.push_back(metrics[1]);
    const std::vector<NamedArray> observed = problem.observe(params);
    out.eigen_coordinates.push_back(Eigen::Map<const Vector>(observed[0].value.data(), observed[0].value.size()));
    out.off_diagonal.push_back(Eigen::Map<const Vector>(observed[1].value.data(), 1));
    const bool converged = tol > 0 && metrics[1] <= tol;
    if (converged) out.iters_to_tol = t;
    if (converged || t >= max_steps) break;
    optimizer->step(t, params, grads);
    optimizer->read_diagnostics(diagnostics.data());
    out.step_sizes.push_back(diagnostics[lr_index]);
  }
  for (const NamedArray& a : problem.predict(optimizer_name, optimizer->params(), out.step_sizes, out.steps, initial)) {
    out.theory[a.name] = a.value;
  }
  return out;
}

const Matrix& theory(const RunRecord& r, const std::string& name) {
  const auto it = r.theory.find(name);
  INFO("predict() result '" << name << "'");
  REQUIRE(it != r.theory.end());
  return it->second;
}

// max over steps and modes of |measured - predicted|.
double max_deviation(const std::vector<Vector>& measured, const Matrix& predicted) {
  REQUIRE(predicted.rows() == static_cast<Eigen::Index>(measured.size()));
  double worst = 0;
  for (std::size_t t = 0; t < measured.size(); ++t) {
    worst =
        std::max(worst, (measured[t].transpose() - predicted.row(static_cast<Eigen::Index>(t))).cwiseAbs().maxCoeff());
  }
  return worst;
}

double max_relative_deviation(const std::vector<double>& measured, const Matrix& predicted) {
  REQUIRE(predicted.size() == static_cast<Eigen::Index>(measured.size()));
  double worst = 0;
  for (std::size_t t = 0; t < measured.size(); ++t) {
    if (measured[t] > 0)
      worst = std::max(worst, std::abs(measured[t] - predicted(static_cast<Eigen::Index>(t))) / measured[t]);
  }
  return worst;
}

// Q diag(values) Q^T: a point that commutes with Lambda.
Matrix commuting(ProblemHandle& problem, const Vector& values) {
  const Matrix q = instance_array(problem, "Q");
  return q * values.asDiagonal() * q.transpose();
}

}  // namespace

TEST_CASE("icl theory: on commuting points the loss gap is 1/2 sum_i h_i (gamma_i - gamma*_i)^2", "[icl]") {
  auto problem = make("{d: 6, N: 9, kappa: 200}");
  const Vector h = instance_array(*problem, "h").col(0);
  const Vector star = instance_array(*problem, "gamma_star").col(0);
  const Vector gamma = (Vector(6) << 0.3, -1.2, 2.5, 0.0, 7.0, 1.1).finished();
  const icl_test::Evaluation e = icl_test::evaluate_at(*problem, {commuting(*problem, gamma)});
  const double expected = 0.5 * (h.array() * (gamma - star).array().square()).sum();
  // The plugin rotates Gamma into the eigenbasis (eps ||Gamma|| per entry) and weights with
  // H; relative rounding ~1e-15 on a sum of positive terms.
  CHECK(icl_test::metric(*problem, e, "loss_gap") == Approx(expected).epsilon(1e-12));
  const std::vector<NamedArray> observed = problem->observe({commuting(*problem, gamma)});
  CHECK((Eigen::Map<const Vector>(observed[0].value.data(), 6) - gamma).cwiseAbs().maxCoeff() < 1e-14);
  CHECK(observed[1].value(0, 0) < 1e-14);
}

TEST_CASE("icl theory: simplified muon from a commuting init follows the per-eigen recursion", "[icl]") {
  // Rotated instances (Q Haar-random), so the polar factor is computed from a dense gradient.
  // The recursion is exact in exact arithmetic; in floating point each step adds ~eps ||Gamma||
  // off the commuting set, and the run follows the recursion as long as the linearized
  // off-diagonal gain (theory/off_diagonal_gain, checked <= 10 first) keeps that from
  // growing: rounding accumulated over 150 steps is then ~1e-14, and 1e-12 leaves a factor
  // ~100. The three runs cover a constant step (every mode reaches its target and then flips
  // sign at every step), a slowly decaying one, the rms update scale and a non-isotropic
  // commuting start.
  struct Case {
    const char* problem;
    const char* optimizer;
    bool own_start;
  };
  const Case cases[] = {
      {"{d: 6, N: 12, kappa: 100}", "{schedule: constant, lr: 0.1, orthogonalizer: ", false},
      {"{d: 6, N: 12, kappa: 30}", "{lr: 0.05, decay: 0.97, orthogonalizer: ", false},
      {"{d: 6, N: 12, kappa: 8}", "{schedule: constant, lr: 0.2, scaling: rms, orthogonalizer: ", true},
  };
  const Vector start = (Vector(6) << 0.2, 2.0, -0.5, 1.0, 3.0, 0.0).finished();
  for (const Case& c : cases) {
    INFO(c.problem << " " << c.optimizer);
    auto problem = make(c.problem);
    const std::vector<Matrix> initial =
        c.own_start ? std::vector<Matrix>{commuting(*problem, start)} : std::vector<Matrix>{};
    const RunRecord r = run(*problem, "muon", std::string(c.optimizer) + kExactSvd + "}", 150, 0.0, initial);
    REQUIRE(theory(r, "off_diagonal_gain").maxCoeff() <= 10.0);
    CHECK(max_deviation(r.eigen_coordinates, theory(r, "gamma")) < 1e-12);
    // loss_gap: the same gammas through the same quadratic form, relative rounding only.
    CHECK(max_relative_deviation(r.loss_gap, theory(r, "loss_gap")) < 1e-9);
    CHECK(max_relative_deviation(r.rel_loss_gap, theory(r, "rel_loss_gap")) < 1e-9);
    CHECK(theory(r, "initial_off_diagonal")(0, 0) < 1e-14);
    double worst_off_diagonal = 0;
    for (const Vector& o : r.off_diagonal) worst_off_diagonal = std::max(worst_off_diagonal, o(0));
    CHECK(worst_off_diagonal < 1e-12);
    // Not a trivial run: the signs of gamma_i - gamma*_i flip many times.
    const Matrix& gamma = theory(r, "gamma");
    const Vector star = instance_array(*problem, "gamma_star").col(0);
    int flips = 0;
    for (Eigen::Index t = 1; t < gamma.rows(); ++t)
      for (Eigen::Index i = 0; i < gamma.cols(); ++i)
        if ((gamma(t, i) > star(i)) != (gamma(t - 1, i) > star(i))) ++flips;
    CHECK(flips >= 50);
  }
}

TEST_CASE("icl theory: exact-SVD muon leaves the commuting set where the off-diagonal gain is large", "[icl]") {
  // kappa = 8, zero init, lr 0.5, decay 0.95: the modes oscillate around their targets with
  // |gamma_i - gamma*_i| often below eta_t, where the linearized off-diagonal map has an
  // eigenvalue 1 - alpha (H_ij + H_ji) far below -1. Predicted gain > 1e20 over 150 steps, so
  // rounding (1e-16) must grow to a visible departure; with rotated: false every product is
  // with the identity, no rounding leaves the diagonal, and the recursion holds exactly.
  const std::string optimizer = std::string("{lr: 0.5, decay: 0.95, orthogonalizer: ") + kExactSvd + "}";
  auto rotated = make("{d: 6, N: 12, kappa: 8}");
  const RunRecord r = run(*rotated, "muon", optimizer, 150, 0.0);
  CHECK(theory(r, "off_diagonal_gain").maxCoeff() > 1e20);
  double worst_off_diagonal = 0;
  for (const Vector& o : r.off_diagonal) worst_off_diagonal = std::max(worst_off_diagonal, o(0));
  CHECK(worst_off_diagonal > 1e-6);
  CHECK(max_deviation(r.eigen_coordinates, theory(r, "gamma")) > 1e-8);
  // ... while the loss still converges, far below the departure.
  CHECK(r.rel_loss_gap.back() < 1e-6);

  auto aligned = make("{d: 6, N: 12, kappa: 8, rotated: false}");
  const RunRecord a = run(*aligned, "muon", optimizer, 150, 0.0);
  CHECK(max_deviation(a.eigen_coordinates, theory(a, "gamma")) < 1e-14);
  for (const Vector& o : a.off_diagonal) CHECK(o(0) == 0.0);
}

TEST_CASE("icl theory: gd's prediction is exact for any init", "[icl]") {
  // GD on a quadratic with a diagonal Hessian in the eigenbasis: every entry of Q^T Gamma Q
  // contracts by its own factor (1 - lr c H_ij), from any start. Rounding per step is
  // ~eps ||Gamma||; over 300 contracting steps it stays ~1e-14.
  for (const char* params : {"{d: 6, N: 10, kappa: 30, init: small_random, init_scale: 1.0}",
                             "{d: 6, N: 10, kappa: 30, init: zero, normalize: h_max}"}) {
    INFO(params);
    auto problem = make(params);
    const double lr = std::string(params).find("h_max") != std::string::npos ? 1.5 : 0.7;
    const RunRecord r = run(*problem, "gd", "{lr: " + std::to_string(lr) + "}", 300, 0.0);
    CHECK(max_deviation(r.eigen_coordinates, theory(r, "gamma")) < 1e-12);
    CHECK(max_relative_deviation(r.loss_gap, theory(r, "loss_gap")) < 1e-9);
  }
}

TEST_CASE("icl theory: predictions exist only where they are exact", "[icl]") {
  const std::vector<double> steps_taken = {0.1, 0.1};
  const std::vector<std::int64_t> steps = {0, 1, 2};
  auto merged = make("{d: 4, N: 6}");
  const std::vector<Matrix> x0 = icl_test::initial_point(*merged);
  auto adam = muonlab::testing::make_optimizer("adam", "{}");
  CHECK(merged->predict("adam", adam->params(), steps_taken, steps, x0).empty());
  auto momentum = muonlab::testing::make_optimizer("muon", "{momentum: 0.9}");
  CHECK(merged->predict("muon", momentum->params(), steps_taken, steps, x0).empty());
  auto muon = muonlab::testing::make_optimizer("muon", "{}");
  CHECK_FALSE(merged->predict("muon", muon->params(), steps_taken, steps, x0).empty());

  auto sampled = make("{d: 4, N: 6, loss: sampled}");
  CHECK(sampled->predict("muon", muon->params(), steps_taken, steps, x0).empty());
  auto separate = make("{d: 4, N: 6, parametrization: separate}");
  CHECK(separate->predict("muon", muon->params(), steps_taken, steps, icl_test::initial_point(*separate)).empty());
}

TEST_CASE("icl theory: iterations to tolerance are flat in kappa for muon and grow for gd", "[icl]") {
  // One muon schedule for every kappa (budget lr / (1 - decay) = 20 >= max gamma*_i, which
  // is <= N / tr(Lambda) <= 12 here), and gd at lr = 1/h_max through normalize: h_max.
  // Prediction: muon's count depends on kappa only through log factors; gd's grows like
  // h_max / h_min (slope ~2.4 in log-log over this range, from the instance's h).
  const std::vector<double> kappas = {2, 8, 32};
  std::vector<double> muon_iters, gd_iters, h_ratio;
  for (double kappa : kappas) {
    INFO("kappa " << kappa);
    auto problem = make("{d: 6, N: 12, normalize: h_max, kappa: " + std::to_string(kappa) + "}");
    h_ratio.push_back(instance_array(*problem, "h_ratio")(0, 0));
    const RunRecord muon =
        run(*problem, "muon", std::string("{lr: 3.0, decay: 0.85, orthogonalizer: ") + kExactSvd + "}", 1000, 1e-6);
    const RunRecord gd = run(*problem, "gd", "{lr: 1.0}", 200000, 1e-6);
    REQUIRE(muon.iters_to_tol > 0);
    REQUIRE(gd.iters_to_tol > 0);
    muon_iters.push_back(static_cast<double>(muon.iters_to_tol));
    gd_iters.push_back(static_cast<double>(gd.iters_to_tol));
    // gd's theory is exact: its predicted gap crosses the tolerance at the measured step.
    const Matrix& predicted = theory(gd, "rel_loss_gap");
    CHECK(predicted(predicted.size() - 1) <= 1e-6 * (1 + 1e-9));
    CHECK(predicted(predicted.size() - 2) > 1e-6 * (1 - 1e-9));
  }
  const double span = std::log(kappas.back() / kappas.front());
  const double muon_slope = std::log(muon_iters.back() / muon_iters.front()) / span;
  const double gd_slope = std::log(gd_iters.back() / gd_iters.front()) / span;
  const double h_slope = std::log(h_ratio.back() / h_ratio.front()) / span;
  INFO("muon " << muon_iters[0] << " " << muon_iters[1] << " " << muon_iters[2] << ", gd " << gd_iters[0] << " "
               << gd_iters[1] << " " << gd_iters[2] << ", h_max/h_min slope " << h_slope);
  CHECK(std::abs(muon_slope) <= 0.1);
  CHECK(gd_iters[0] < gd_iters[1]);
  CHECK(gd_iters[1] < gd_iters[2]);
  CHECK(gd_slope >= 1.5);
  CHECK(gd_slope <= h_slope + 0.2);
}
