// signsgd against the formulas of docs/algorithms.md 2.5 written with plain Eigen:
//   signSGD: W <- (1 - eta_t wd) W - eta_t sign(G_t)
//   Signum:  M = b M + (1 - b) G;  W <- (1 - eta_t wd) W - eta_t sign(M),   sign(0) = 0.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <Eigen/SVD>

#include "test_support.hpp"

#include "../common/optimizer_test_support.hpp"

using muonlab::BlockSpec;
using muonlab::Matrix;

namespace {

namespace optim_test = muonlab::optim_test;
using optim_test::max_abs_diff;

const std::vector<BlockSpec> kSignBlocks = {{"X", 3, 2, ""}, {"Z", 2, 3, ""}};

// Dyadic entries, so W - eta * (+-1 or 0) with dyadic eta is exact.
std::vector<Matrix> sign_initial() {
  Matrix x(3, 2), z(2, 3);
  x << 0.5, -1.0, 0.25, 0.75, -0.5, 1.5;
  z << 0.125, -0.25, 0.375, 0.5, -0.625, 0.75;
  return {x, z};
}

// Signs that change from step to step, with one exactly-zero entry per block at t = 0.
std::vector<Matrix> sign_gradient(int t) {
  std::vector<Matrix> g;
  for (std::size_t b = 0; b < kSignBlocks.size(); ++b) {
    Matrix m(kSignBlocks[b].rows, kSignBlocks[b].cols);
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      for (Eigen::Index i = 0; i < m.rows(); ++i)
        m(i, j) = std::cos(1.3 * i + 0.7 * j + 2.1 * t + static_cast<double>(b));
    if (t == 0) m(1, 1) = 0.0;
    g.push_back(m);
  }
  return g;
}

Matrix sign_of(const Matrix& m) {
  return m.unaryExpr([](double x) { return static_cast<double>((x > 0) - (x < 0)); });
}

struct SignSettings {
  std::function<double(int)> eta;
  double momentum = 0.0, weight_decay = 0.0;
};

class SignOracle {
 public:
  explicit SignOracle(SignSettings s) : s_(std::move(s)) {
    for (const BlockSpec& b : kSignBlocks) m_.push_back(Matrix::Zero(b.rows, b.cols));
  }
  void step(int t, std::vector<Matrix>& w, const std::vector<Matrix>& g) {
    const double eta = s_.eta(t);
    for (std::size_t b = 0; b < w.size(); ++b) {
      m_[b] = s_.momentum * m_[b] + (1 - s_.momentum) * g[b];
      const Matrix direction = s_.momentum > 0 ? m_[b] : g[b];
      w[b] = (1 - eta * s_.weight_decay) * w[b] - eta * sign_of(direction);
    }
  }
  const std::vector<Matrix>& momentum() const { return m_; }

 private:
  SignSettings s_;
  std::vector<Matrix> m_;
};

// Returns how many entries over all steps had sign(M) != sign(G) (Signum differs from signSGD).
int check_sign_against_formula(const std::string& params_yaml, const SignSettings& settings, int steps,
                               double tolerance) {
  auto optimizer = muonlab::testing::make_optimizer("signsgd", params_yaml);
  REQUIRE(optimizer->diagnostics().size() == 1);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  optimizer->initialize(kSignBlocks);
  SignOracle oracle(settings);
  std::vector<Matrix> w = sign_initial(), expected = sign_initial();
  int sign_flips = 0;
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = sign_gradient(t);
    optimizer->step(t, w, g);
    oracle.step(t, expected, g);
    REQUIRE(max_abs_diff(w, expected) <= tolerance);
    for (std::size_t b = 0; b < g.size(); ++b)
      sign_flips += static_cast<int>((sign_of(oracle.momentum()[b]) - sign_of(g[b])).cwiseAbs().sum() / 2);
    double used = 0.0;
    optimizer->read_diagnostics(&used);
    REQUIRE(used == Approx(settings.eta(t)).epsilon(1e-15));
  }
  return sign_flips;
}

SignSettings constant_step(double eta) {
  SignSettings s;
  s.eta = [eta](int) { return eta; };
  return s;
}

}  // namespace

TEST_CASE("signsgd: defaults are signSGD with lr 0.01 and sign(0) = 0", "[signsgd]") {
  // Entries are O(1) and each step subtracts 0 or +-0.01: one rounding per step.
  check_sign_against_formula("{}", constant_step(0.01), 3, 1e-15);
}

TEST_CASE("signsgd: a dyadic step is exact, and a zero gradient entry does not move", "[signsgd]") {
  auto optimizer = muonlab::testing::make_optimizer("signsgd", "{lr: 0.25}");
  optimizer->initialize(kSignBlocks);
  std::vector<Matrix> w = sign_initial();
  const std::vector<Matrix> g = sign_gradient(0);
  optimizer->step(0, w, g);
  for (std::size_t b = 0; b < w.size(); ++b) REQUIRE(w[b] == Matrix(sign_initial()[b] - 0.25 * sign_of(g[b])));
  REQUIRE(w[0](1, 1) == sign_initial()[0](1, 1));
}

TEST_CASE("signsgd: Signum takes the sign of the EMA momentum, not of the gradient", "[signsgd]") {
  SignSettings s = constant_step(0.125);
  s.momentum = 0.9;
  // Steps of 0.125 on dyadic W: exact.
  const int flips = check_sign_against_formula("{lr: 0.125, momentum: 0.9}", s, 4, 0.0);
  REQUIRE(flips > 0);  // the gradient's signs change over time; the momentum's lag behind
}

TEST_CASE("signsgd: decoupled weight decay and a cosine schedule", "[signsgd]") {
  SignSettings s;
  const double pi = std::acos(-1.0);
  s.eta = [pi](int t) { return 0.1 * 0.5 * (1 + std::cos(pi * std::min(t, 4) / 4.0)); };
  s.momentum = 0.5;
  s.weight_decay = 0.2;
  // (1 - eta wd) W rounds once more per step than plain signSGD: a few ulps of O(1).
  check_sign_against_formula("{lr: 0.1, momentum: 0.5, weight_decay: 0.2, schedule: cosine, horizon: 4}", s, 5, 1e-15);
}

TEST_CASE("signsgd: a rank-2 gradient gives a full-rank +-1 update", "[signsgd]") {
  // docs/algorithms.md 2.5: unlike msign, sign() does not keep the gradient's rank. (A rank-1
  // gradient would: sign(u v^T) = sign(u) sign(v)^T.) G = u1 v1^T + u2 v2^T in 3 x 3, with
  // sign(G) = [1 -1 -1; 0 -1 1; 1 1 -1], determinant -2.
  Eigen::Vector3d u1(1.0, -2.0, 3.0), v1(0.5, 1.0, -1.0), u2(2.0, 1.0, -1.0), v2(1.0, -1.0, 0.25);
  const Matrix g = u1 * v1.transpose() + u2 * v2.transpose();
  auto optimizer = muonlab::testing::make_optimizer("signsgd", "{lr: 0.5}");
  optimizer->initialize({{"W", 3, 3, ""}});
  std::vector<Matrix> w = {Matrix::Zero(3, 3)};
  optimizer->step(0, w, {g});
  REQUIRE(w[0] == Matrix(-0.5 * sign_of(g)));
  // Dyadic entries: G is exactly rank 2, its third singular value is rounding-level.
  REQUIRE(Eigen::JacobiSVD<Matrix>(g).singularValues()(2) < 1e-12);
  REQUIRE(std::abs(w[0].determinant()) == Approx(2.0 * 0.125));  // det(-0.5 S) = -0.125 det S
}

TEST_CASE("signsgd: a zero gradient with weight_decay 0 leaves W unchanged", "[signsgd]") {
  for (const char* params : {"{}", "{momentum: 0.9}"}) {
    INFO(params);
    auto optimizer = muonlab::testing::make_optimizer("signsgd", params);
    optimizer->initialize(kSignBlocks);
    std::vector<Matrix> w = sign_initial();
    for (int t = 0; t < 3; ++t) optimizer->step(t, w, {Matrix::Zero(3, 2), Matrix::Zero(2, 3)});
    REQUIRE(max_abs_diff(w, sign_initial()) == 0.0);
  }
}

TEST_CASE("signsgd: two instances fed the same gradients produce bit-identical iterates", "[signsgd]") {
  const std::string params = "{lr: 0.05, momentum: 0.8, weight_decay: 0.1, schedule: geometric, decay: 0.9}";
  optim_test::require_identical_instances("signsgd", params, kSignBlocks, sign_initial(),
                                          optim_test::fixed_sequence(sign_gradient), 5);
}
