// Tests of the matrix_least_squares problem plugin, through the real plugin library and,
// for the theory, through real optimizer plugins and the core's grid runner.
//
// Oracles: central finite differences of the loss; the stored design A, C, B solved by an
// independent QR least-squares solve; Eigen's symmetric eigensolver on A^T A; measured runs
// (metrics, observables) for the recursions in mls_theory.cpp; Monte Carlo means for the
// stochastic gradients.
#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "grid/grid.hpp"
#include "run/runner.hpp"
#include "test_support.hpp"
#include "util/errors.hpp"

namespace {

using muonlab::Matrix;
using muonlab::NamedArray;
using muonlab::ProblemHandle;
using muonlab::Vector;

constexpr const char* kName = "matrix_least_squares";

std::unique_ptr<ProblemHandle> make(const std::string& params, std::uint64_t seed = 3) {
  return muonlab::testing::make_problem(kName, params, seed);
}

std::map<std::string, Matrix> instance_of(ProblemHandle& problem) {
  std::map<std::string, Matrix> out;
  for (const NamedArray& a : problem.instance()) out[a.name] = a.value;
  return out;
}

const Matrix& array(const std::map<std::string, Matrix>& arrays, const std::string& name) {
  INFO("instance array " << name);
  const auto it = arrays.find(name);
  REQUIRE(it != arrays.end());
  return it->second;
}

struct Evaluation {
  double loss = 0;
  Matrix grad;
  std::vector<double> metrics;
};

Evaluation evaluate_at(ProblemHandle& problem, const Matrix& x, std::uint64_t sample = 0) {
  std::vector<Matrix> params{x};
  std::vector<Matrix> grads = problem.allocate();
  Evaluation e;
  e.metrics.resize(problem.metrics().size());
  e.loss = problem.evaluate(params, grads, e.metrics.data(), muonlab::EvalContext{0, sample});
  e.grad = grads[0];
  return e;
}

Matrix random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix x(rows, cols);
  for (Eigen::Index i = 0; i < x.size(); ++i) x(i) = normal(rng);
  return x;
}

Matrix initial_point(ProblemHandle& problem) {
  std::vector<Matrix> params = problem.allocate();
  problem.initialize(params);
  return params[0];
}

std::string creation_error(const std::string& params) {
  try {
    make(params);
  } catch (const muonlab::PluginError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("matrix_least_squares: blocks, metrics and instance arrays", "[matrix_least_squares]") {
  auto p = make("{n: 4, m: 6, two_sided: true, extra_rows: 2}");
  REQUIRE(p->blocks().size() == 1);
  CHECK(p->blocks()[0].rows == 4);
  CHECK(p->blocks()[0].cols == 6);
  std::vector<std::string> names;
  for (const auto& s : p->metrics()) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"rel_gap", "gap", "grad_fro", "grad_nuclear"});
  const auto arrays = instance_of(*p);
  for (const char* a : {"h", "Q", "X_star", "f_star", "P", "x_star_modes", "g", "R", "C", "A", "B"}) {
    INFO(a);
    CHECK(arrays.count(a) == 1);
  }
  CHECK(array(arrays, "A").rows() == 6);
  CHECK(array(arrays, "B").rows() == 6);
  names.clear();
  for (const auto& s : p->observables()) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"modes", "off_modes"});
  CHECK(make("{n: 4, m: 6, target: generic}")->observables().empty());
}

TEST_CASE("matrix_least_squares: invalid configurations are rejected with a reason", "[matrix_least_squares]") {
  CHECK_THAT(creation_error("{n: 6, m: 4}"), Catch::Contains("m >= n"));
  CHECK(creation_error("{n: 6, m: 4, target: generic}").empty());
  CHECK_THAT(creation_error("{n: 4, m: 4, spectrum: spiked, spikes: 5}"), Catch::Contains("spikes"));
  CHECK_THAT(creation_error("{n: 4, m: 4, two_sided: true, noise: sampled}"), Catch::Contains("one-sided"));
}

// The loss is quadratic, so the central difference (f(X + hE) - f(X - hE)) / 2h has no
// truncation error: what remains is rounding, about eps |f| / h = 1e-16 * 10 / 1e-3 = 1e-12
// per entry. 1e-8 (relative to ||grad||_max) leaves room and still catches any wrong factor
// or transpose (those change entries by O(1)).
TEST_CASE("matrix_least_squares: gradient matches central finite differences", "[matrix_least_squares]") {
  const std::string config =
      GENERATE(as<std::string>{}, "{n: 5, m: 7, kappa: 30}", "{n: 5, m: 7, kappa: 30, target: generic, extra_rows: 3}",
               "{n: 5, m: 7, kappa: 30, two_sided: true, kappa_right: 5}",
               "{n: 7, m: 5, kappa: 30, target: generic, two_sided: true}");
  INFO(config);
  auto p = make(config);
  const Matrix x = random_matrix(p->blocks()[0].rows, p->blocks()[0].cols, 11);
  const Evaluation at = evaluate_at(*p, x);
  const double h = 1e-3;
  double worst = 0.0;
  for (Eigen::Index k = 0; k < x.size(); ++k) {
    Matrix plus = x, minus = x;
    plus(k) += h;
    minus(k) -= h;
    const double fd = (evaluate_at(*p, plus).loss - evaluate_at(*p, minus).loss) / (2 * h);
    worst = std::max(worst, std::abs(fd - at.grad(k)));
  }
  CHECK(worst <= 1e-8 * at.grad.cwiseAbs().maxCoeff());
  CHECK(at.metrics[2] == Approx(at.grad.norm()).epsilon(1e-14));
  Eigen::JacobiSVD<Matrix> svd(at.grad);
  CHECK(at.metrics[3] == Approx(svd.singularValues().sum()).epsilon(1e-12));
}

// The stored A, C, B define f(X) = 1/2 ||A X C - B||_F^2 on their own; a QR least-squares
// solve of them must give back X* and f*, and the loss the plugin reports at any X must be
// that norm. Tolerances: the solve is backward stable, so X* comes back to about
// eps * cond(A) * cond(C) = 1e-16 * 10 * 3 (kappa 100 means cond(A) = 10).
TEST_CASE("matrix_least_squares: X* and f* agree with an independent least-squares solve", "[matrix_least_squares]") {
  const std::string config = GENERATE(as<std::string>{}, "{n: 6, m: 8, kappa: 100, extra_rows: 4}",
                                      "{n: 6, m: 8, kappa: 100, target: generic, extra_rows: 3}",
                                      "{n: 6, m: 8, kappa: 100, two_sided: true, extra_rows: 2}",
                                      "{n: 8, m: 6, kappa: 100, target: generic, two_sided: true}");
  INFO(config);
  auto p = make(config);
  const auto arrays = instance_of(*p);
  const Matrix& a = array(arrays, "A");
  const Matrix& b = array(arrays, "B");
  const Matrix c = arrays.count("C") ? array(arrays, "C") : Matrix::Identity(b.cols(), b.cols());
  // min ||A Y - B|| column by column, then X C = Y, i.e. C^T X^T = Y^T.
  const Matrix y = a.colPivHouseholderQr().solve(b);
  const Matrix x_solved = c.transpose().colPivHouseholderQr().solve(y.transpose()).transpose();
  const Matrix& x_star = array(arrays, "X_star");
  CHECK((x_solved - x_star).norm() <= 1e-12 * x_star.norm());
  const double f_star = 0.5 * (a * x_solved * c - b).squaredNorm();
  CHECK(array(arrays, "f_star")(0, 0) == Approx(f_star).epsilon(1e-12).margin(1e-14));
  const Evaluation at_star = evaluate_at(*p, x_star);
  CHECK(at_star.loss == Approx(f_star).epsilon(1e-12).margin(1e-14));
  CHECK(at_star.grad.norm() <= 1e-14);
  const Matrix x = random_matrix(x_star.rows(), x_star.cols(), 5);
  CHECK(evaluate_at(*p, x).loss == Approx(0.5 * (a * x * c - b).squaredNorm()).epsilon(1e-12));
  // rel_gap is 1 at X_0 and the gap is the loss minus f*.
  const Evaluation at0 = evaluate_at(*p, initial_point(*p));
  CHECK(at0.metrics[0] == Approx(1.0).epsilon(1e-15));
  CHECK(at0.metrics[1] == Approx(at0.loss - f_star).epsilon(1e-10));
}

// eig(A^T A) against the formula of each spectrum kind (h_max 2, n 9): the eigensolver is
// accurate to eps * h_max, so 1e-13 relative to h_max is rounding only.
TEST_CASE("matrix_least_squares: the Hessian has the prescribed spectrum", "[matrix_least_squares]") {
  const double kappa = GENERATE(1.0, 50.0, 1e4);
  const std::string kind = GENERATE(as<std::string>{}, "geometric", "two_level", "power", "spiked");
  INFO(kind << " kappa " << kappa);
  const int n = 9;
  auto p = make("{n: 9, m: 9, h_max: 2, spikes: 3, kappa: " + std::to_string(kappa) + ", spectrum: " + kind + "}");
  const auto arrays = instance_of(*p);
  const Matrix& a = array(arrays, "A");
  Eigen::SelfAdjointEigenSolver<Matrix> eig(a.transpose() * a);
  Vector measured = eig.eigenvalues().reverse();
  Vector expected(n);
  for (int i = 0; i < n; ++i) {
    if (kind == "geometric") expected(i) = 2.0 * std::pow(kappa, -i / 8.0);
    if (kind == "two_level") expected(i) = i < n - 1 ? 2.0 : 2.0 / kappa;
    if (kind == "power") expected(i) = 2.0 * std::pow(i + 1.0, -std::log(kappa) / std::log(9.0));
    if (kind == "spiked") expected(i) = i < 3 ? 2.0 : 2.0 / kappa;
  }
  std::sort(expected.data(), expected.data() + n, std::greater<double>());
  CHECK((measured - expected).cwiseAbs().maxCoeff() <= 1e-13 * 2.0);
  CHECK((array(arrays, "h") - expected).cwiseAbs().maxCoeff() <= 1e-15 * 2.0);
  CHECK(measured(0) / measured(n - 1) == Approx(kappa).epsilon(1e-10));
  // Q is the eigenbasis: H q_i = h_i q_i.
  const Matrix& q = array(arrays, "Q");
  CHECK((a.transpose() * a * q - q * expected.asDiagonal()).norm() <= 1e-13 * 2.0);
}

TEST_CASE("matrix_least_squares: same seed gives the same instance, another seed another one",
          "[matrix_least_squares]") {
  const std::string config = "{n: 5, m: 6, target: generic, init_scale: 0.1, extra_rows: 2, two_sided: true}";
  auto first = make(config, 9);
  auto again = make(config, 9);
  auto other = make(config, 10);
  const auto a = instance_of(*first), b = instance_of(*again), c = instance_of(*other);
  for (const auto& [name, value] : a) {
    INFO(name);
    CHECK(value == array(b, name));
  }
  CHECK(initial_point(*first) == initial_point(*again));
  CHECK(array(a, "X_star") != array(c, "X_star"));
  CHECK(array(a, "Q") != array(c, "Q"));
  CHECK(initial_point(*first) != initial_point(*other));
  // init_scale 0 is X_0 = 0; changing the initial point does not move the instance.
  auto zero = make("{n: 5, m: 6, target: generic, init_scale: 0, extra_rows: 2, two_sided: true}", 9);
  CHECK(initial_point(*zero).isZero(0.0));
  CHECK(array(instance_of(*zero), "X_star") == array(a, "X_star"));
  // Noise: one sample gives one gradient, another sample another.
  auto noisy = make("{n: 5, m: 6, noise: sampled, batch: 3, label_noise: 0.1}", 9);
  const Matrix x = random_matrix(5, 6, 1);
  CHECK(evaluate_at(*noisy, x, 4).grad == evaluate_at(*noisy, x, 4).grad);
  CHECK(evaluate_at(*noisy, x, 4).grad != evaluate_at(*noisy, x, 5).grad);
}

// Monte Carlo over K samples: each entry's sample mean must lie within 5 standard errors
// (its own sample standard deviation / sqrt(K)) of the exact gradient. 5 sigma per entry over
// 24 entries fails by chance with probability < 24 * 6e-7; the draws are fixed by the seed,
// so the outcome is reproducible. A bias of 1/(batch - 1) instead of 1/batch (33% at batch
// 4) or a missing sqrt on h moves entries by many standard errors at K = 20000.
TEST_CASE("matrix_least_squares: stochastic gradients are unbiased", "[matrix_least_squares]") {
  const std::string config =
      GENERATE(as<std::string>{}, "{n: 4, m: 6, kappa: 20, noise: sampled, batch: 4, label_noise: 0.3}",
               "{n: 4, m: 6, kappa: 20, target: generic, noise: sampled, batch: 4}",
               "{n: 4, m: 6, kappa: 20, noise: additive, sigma: 0.5}");
  INFO(config);
  auto noisy = make(config);
  auto exact = make(config.substr(0, config.find(", noise")) + "}");
  const Matrix x = random_matrix(4, 6, 2);
  const Evaluation clean = evaluate_at(*exact, x);
  constexpr int kSamples = 20000;
  Matrix sum = Matrix::Zero(4, 6), sum_sq = Matrix::Zero(4, 6);
  for (int s = 0; s < kSamples; ++s) {
    const Evaluation e = evaluate_at(*noisy, x, static_cast<std::uint64_t>(s));
    REQUIRE(e.loss == clean.loss);  // loss and metrics stay noise-free
    REQUIRE(e.metrics == clean.metrics);
    sum += e.grad;
    sum_sq += e.grad.cwiseAbs2();
  }
  const Matrix mean = sum / kSamples;
  const Matrix variance = sum_sq / kSamples - mean.cwiseAbs2();
  const Matrix stderr_ = (variance / kSamples).cwiseSqrt();
  const double worst = ((mean - clean.grad).cwiseAbs().array() / stderr_.array()).maxCoeff();
  INFO("worst deviation in standard errors: " << worst);
  CHECK(worst <= 5.0);
  if (config.find("additive") != std::string::npos) {
    // Var = sigma^2 per entry; the sample variance of 2e4 normals is within 3% (4.4 sigma).
    CHECK((variance.array() / 0.25 - 1.0).abs().maxCoeff() <= 0.03);
  }
}

// ---- theory against runs ------------------------------------------------------------

namespace {

struct RunRecord {
  std::vector<std::int64_t> steps;
  std::vector<double> step_sizes;
  std::vector<double> rel_gap, nuclear;
  std::vector<Vector> modes;
  std::map<std::string, Matrix> theory;
};

// The core's cell loop (evaluate, observe, step, read eta_t), then predict().
RunRecord run(ProblemHandle& problem, const std::string& optimizer, const std::string& params, std::int64_t steps) {
  auto opt = muonlab::testing::make_optimizer(optimizer, params);
  opt->initialize(problem.blocks());
  RunRecord out;
  std::vector<Matrix> x = problem.allocate();
  problem.initialize(x);
  const std::vector<Matrix> initial = x;
  std::vector<Matrix> grads = problem.allocate();
  std::vector<double> metrics(problem.metrics().size());
  const bool observed = !problem.observables().empty();
  for (std::int64_t t = 0;; ++t) {
    problem.evaluate(x, grads, metrics.data());
    out.steps.push_back(t);
    out.rel_gap.push_back(metrics[0]);
    out.nuclear.push_back(metrics[3]);
    if (observed) {
      const NamedArray modes = problem.observe(x)[0];
      out.modes.push_back(Eigen::Map<const Vector>(modes.value.data(), modes.value.size()));
    }
    if (t >= steps) break;
    opt->step(t, x, grads);
    out.step_sizes.push_back(opt->step_size());
  }
  for (const NamedArray& a : problem.predict(optimizer, opt->params(), out.step_sizes, out.steps, initial)) {
    out.theory[a.name] = a.value;
  }
  return out;
}

const Matrix& theory(const RunRecord& r, const std::string& name) {
  INFO("theory/" << name);
  const auto it = r.theory.find(name);
  REQUIRE(it != r.theory.end());
  return it->second;
}

// max_t |measured_t - predicted_t| / max(predicted_t, floor), over steps with predicted >= floor.
double worst_relative(const std::vector<double>& measured, const Matrix& predicted, double floor) {
  REQUIRE(predicted.size() == static_cast<Eigen::Index>(measured.size()));
  double worst = 0.0;
  for (std::size_t t = 0; t < measured.size(); ++t) {
    const double p = predicted(static_cast<Eigen::Index>(t));
    if (p >= floor) worst = std::max(worst, std::abs(measured[t] - p) / p);
  }
  return worst;
}

double worst_modes(const std::vector<Vector>& measured, const Matrix& predicted) {
  REQUIRE(predicted.rows() == static_cast<Eigen::Index>(measured.size()));
  double worst = 0.0;
  for (std::size_t t = 0; t < measured.size(); ++t) {
    worst =
        std::max(worst, (measured[t].transpose() - predicted.row(static_cast<Eigen::Index>(t))).cwiseAbs().maxCoeff());
  }
  return worst;
}

}  // namespace

// GD is linear, so rounding errors are not amplified (|1 - eta c| <= 1): the measured
// rel_gap follows the product formula to the relative accuracy of the gap itself, which is
// computed as 1/2 <D, H D> with error about n eps ||D|| ||H D|| <= n eps kappa gap. That is
// 1e-13 for n = 8, kappa 1e2 (the gap is only compared while it is above 1e-10, where the
// error relative to f_0 - f* stays below 1e-12 / 1e-10); 1e-8 leaves margin and catches a
// step size off by one step (which changes rel_gap by a factor (1 - eta h_n)^2 ~ 0.98).
TEST_CASE("matrix_least_squares: GD follows (1 - eta c) per eigen-direction", "[matrix_least_squares]") {
  const std::string config = GENERATE(as<std::string>{}, "{n: 8, m: 10, kappa: 100}",
                                      "{n: 8, m: 10, kappa: 100, target: generic, extra_rows: 2, init_scale: 0.3}",
                                      "{n: 8, m: 10, kappa: 30, two_sided: true, kappa_right: 3}",
                                      "{n: 10, m: 6, kappa: 30, target: generic, two_sided: true, init_scale: 1}");
  INFO(config);
  auto p = make(config);
  const RunRecord r = run(*p, "gd", "{lr: 1.0}", 600);
  CHECK(worst_relative(r.rel_gap, theory(r, "rel_gap"), 1e-10) <= 1e-8);
  CHECK(r.rel_gap.back() < 0.1);  // the run did converge some way
  if (!r.modes.empty()) CHECK(worst_modes(r.modes, theory(r, "modes")) <= 1e-10);
}

// Muon on the shared basis: each mode moves by -eta_t s sign(z_i - x*_i). With an
// axis-aligned basis (rotated: false) Q^T X P stays exactly diagonal and the polar factor is
// exactly diag(sign), so the run performs the recursion's own operations: 1e-12 allows a few
// roundings over 300 steps (shape scaling is s = 1 for m >= n, hence rms), while a wrong sign or scale moves a mode by
// >= eta_300 ~ 1e-5. Haar-rotated, rounding puts ~1e-16 off the modes each step; over 300 steps (eta_300 ~ 1e-5, so
// every h_i |e_i| stays far above the rounding of G) that accumulates to ~1e-14 in a float64 numpy model of the same
// run, so 1e-10 bounds it with margin and still catches one wrong step. rank_threshold 0: the svd orthogonalizer would
// otherwise drop modes whose gradient is below 1e-12 of the largest, which the ideal recursion keeps moving.
TEST_CASE("matrix_least_squares: Muon on the shared basis is per-mode sign descent", "[matrix_least_squares]") {
  const double kappa = GENERATE(1.0, 100.0, 1e4);
  const std::string scaling = GENERATE(as<std::string>{}, "none", "rms");  // rms: s = 0.2 sqrt(9) = 0.6
  INFO("kappa " << kappa << " scaling " << scaling);
  const std::string opt = "{lr: 0.12, schedule: geometric, decay: 0.97, scaling: " + scaling +
                          ", orthogonalizer: {name: svd, params: {rank_threshold: 0}}}";
  const std::string shape = "{n: 6, m: 9, kappa: " + std::to_string(kappa);
  auto aligned = make(shape + ", rotated: false}");
  const RunRecord r = run(*aligned, "muon", opt, 300);
  CHECK(worst_modes(r.modes, theory(r, "modes")) <= 1e-12);
  CHECK(worst_relative(r.rel_gap, theory(r, "rel_gap"), 1e-12) <= 1e-6);

  auto rotated = make(shape + "}");
  const RunRecord s = run(*rotated, "muon", opt, 300);
  CHECK(worst_modes(s.modes, theory(s, "modes")) <= 1e-10);
  CHECK(worst_relative(s.rel_gap, theory(s, "rel_gap"), 1e-12) <= 1e-4);
}

TEST_CASE("matrix_least_squares: no theory for momentum, other optimizers or noisy runs", "[matrix_least_squares]") {
  auto p = make("{n: 4, m: 5}");
  CHECK(run(*p, "muon", "{lr: 0.1, momentum: 0.9}", 3).theory.empty());
  CHECK(run(*p, "adam", "{lr: 0.01}", 3).theory.empty());
  auto noisy = make("{n: 4, m: 5, noise: additive}");
  CHECK(run(*noisy, "gd", "{lr: 0.5}", 3).theory.empty());
  // generic target: GD keeps its rel_gap; Muon has no per-mode theory (and a geometric
  // schedule has no cycle value).
  auto generic = make("{n: 4, m: 5, target: generic}");
  CHECK(run(*generic, "gd", "{lr: 0.5}", 3).theory.count("rel_gap") == 1);
  CHECK(run(*generic, "muon", "{lr: 0.1}", 3).theory.empty());
}

// Constant-step Muon ends in a 2-cycle X_a <-> X_b with O_b = -O_a =: O, and
// ||G_a||_* + ||G_b||_* = <O, G_a - G_b> = eta s <O, H O> = eta s tr(H O O^T). When n <= m
// and G has full row rank, O O^T = I_n and the mean is eta s tr(H) / 2 for any target. The
// last two steps of a run that has settled are compared to 1e-9 relative (the identity is
// exact; what remains is rounding in the SVD of G, about 1e-15 ||G||_*). For n > m,
// O O^T is a rank-m projector, tr(H O O^T) < tr(H), and no value is predicted; the test
// checks the measured mean is then below eta tr(H) / 2 by more than rounding.
TEST_CASE("matrix_least_squares: constant-step Muon's 2-cycle has mean nuclear norm eta tr(H) / 2",
          "[matrix_least_squares]") {
  const std::string config = GENERATE(as<std::string>{}, "{n: 6, m: 6, kappa: 100, target: generic}",
                                      "{n: 6, m: 6, kappa: 10000, spectrum: spiked, spikes: 2}",
                                      "{n: 5, m: 9, kappa: 10, target: generic, spectrum: power}");
  INFO(config);
  auto p = make(config);
  const double eta = 1e-3;
  const RunRecord r = run(*p, "muon", "{lr: 0.001, schedule: constant}", 5000);
  const double mean = 0.5 * (r.nuclear[r.nuclear.size() - 1] + r.nuclear[r.nuclear.size() - 2]);
  const double trace = instance_of(*p)["h"].sum();
  CHECK(theory(r, "cycle_nuclear_norm")(0, 0) == Approx(0.5 * eta * trace).epsilon(1e-14));
  CHECK(mean == Approx(theory(r, "cycle_nuclear_norm")(0, 0)).epsilon(1e-9));
  // A 2-cycle: the nuclear norm repeats with period 2.
  CHECK(r.nuclear.back() == Approx(r.nuclear[r.nuclear.size() - 3]).epsilon(1e-9));

  auto tall = make("{n: 9, m: 5, kappa: 100, target: generic}");
  const RunRecord t = run(*tall, "muon", "{lr: 0.001, schedule: constant}", 5000);
  CHECK(t.theory.count("cycle_nuclear_norm") == 0);
  const double tall_mean = 0.5 * (t.nuclear[t.nuclear.size() - 1] + t.nuclear[t.nuclear.size() - 2]);
  CHECK(tall_mean < 0.5 * eta * instance_of(*tall)["h"].sum() * (1 - 1e-3));
}

// ---- through the core: a grid run stores theory/ next to the measured trajectory --------

namespace {

struct H5Handle {
  hid_t id;
  herr_t (*closer)(hid_t);
  H5Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), closer(c) { REQUIRE(id >= 0); }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() { closer(id); }
};

std::vector<double> read_values(hid_t file, const std::string& path) {
  INFO(path);
  REQUIRE(H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0);
  H5Handle dataset(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
  H5Handle space(H5Dget_space(dataset.id), H5Sclose);
  std::vector<double> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.id)));
  REQUIRE(H5Dread(dataset.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
  return values;
}

}  // namespace

// Same tolerances as the direct runs above (GD 1e-8 relative; Muon on the axis-aligned
// shared basis 1e-12 on the modes).
TEST_CASE("matrix_least_squares: a grid run stores theory/ that matches the trajectory", "[matrix_least_squares]") {
  const std::string yaml =
      "name: mls_theory\nseeds: [0]\nstop: {max_iters: 200, metric: rel_gap}\n"
      "record: {every: 1, spectra: every}\n"
      "problem: {name: matrix_least_squares, params: {n: 6, m: 8, kappa: 100, rotated: false}}\n"
      "optimizer:\n"
      "  - {name: gd, params: {lr: 1.0}}\n"
      "  - {name: muon, params: {lr: 0.12, decay: 0.97, orthogonalizer: {name: svd, params: {rank_threshold: 0}}}}\n";
  const muonlab::Grid grid = muonlab::parse_grid(yaml, "mls_theory.yaml", {}, muonlab::testing::registry());
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "muonlab-tests";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / ("mls-theory-" + std::to_string(::getpid()) + ".h5")).string();
  std::filesystem::remove(path);
  muonlab::RunOptions options;
  options.output = path;
  const muonlab::RunReport report = muonlab::run_grid(grid, muonlab::testing::registry(), options);
  REQUIRE(report.rows.size() == 2);
  REQUIRE(report.failed == 0);
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  for (std::size_t c = 0; c < 2; ++c) {
    const std::string cell = "/cells/" + report.rows[c].cell_id;
    INFO(report.rows[c].optimizer);
    const std::vector<double> measured = read_values(file.id, cell + "/trajectory/rel_gap");
    const std::vector<double> predicted = read_values(file.id, cell + "/theory/rel_gap");
    const std::vector<double> steps = read_values(file.id, cell + "/theory/step");
    REQUIRE(measured.size() == 201);
    REQUIRE(predicted.size() == measured.size());
    CHECK(steps.back() == 200.0);
    double worst = 0.0;
    for (std::size_t t = 0; t < measured.size(); ++t) {
      if (predicted[t] >= 1e-10) worst = std::max(worst, std::abs(measured[t] - predicted[t]) / predicted[t]);
    }
    CHECK(worst <= 1e-8);
    const std::vector<double> modes = read_values(file.id, cell + "/observables/modes/values");
    const std::vector<double> theory_modes = read_values(file.id, cell + "/theory/modes");
    REQUIRE(modes.size() == theory_modes.size());
    double worst_mode = 0.0;
    for (std::size_t i = 0; i < modes.size(); ++i)
      worst_mode = std::max(worst_mode, std::abs(modes[i] - theory_modes[i]));
    CHECK(worst_mode <= 1e-10);
  }
  std::filesystem::remove(path);
}
