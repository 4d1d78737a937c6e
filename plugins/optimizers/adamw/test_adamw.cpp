// adamw against the formula of docs/algorithms.md 2.4 written with plain Eigen arrays:
//   W <- (1 - lr_t wd) W;  m = b1 m + (1-b1) G;  v = b2 v + (1-b2) G^2;
//   W <- W - lr_t * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps),   t = 1, 2, ...
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "test_support.hpp"

#include "../common/optimizer_test_support.hpp"

using muonlab::BlockSpec;
using muonlab::Matrix;

namespace {

namespace optim_test = muonlab::optim_test;
using optim_test::max_abs_diff;

const std::vector<BlockSpec> kAdamWBlocks = {{"X", 3, 2, ""}, {"Z", 2, 3, ""}};

std::vector<Matrix> adamw_initial() {
  Matrix x(3, 2), z(2, 3);
  x << 0.5, -1.0, 0.25, 0.75, -0.5, 1.5;
  z << 0.1, -0.2, 0.3, 0.4, -0.5, 0.6;
  return {x, z};
}

// Entries spanning three decades and changing sign over time, so eps and v matter per entry.
std::vector<Matrix> adamw_gradient(int t) {
  std::vector<Matrix> g;
  for (std::size_t b = 0; b < kAdamWBlocks.size(); ++b) {
    Matrix m(kAdamWBlocks[b].rows, kAdamWBlocks[b].cols);
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      for (Eigen::Index i = 0; i < m.rows(); ++i)
        m(i, j) = std::cos(1.3 * i + 0.7 * j + 2.1 * t + static_cast<double>(b)) * std::pow(10.0, -((i + j) % 3));
    g.push_back(m);
  }
  return g;
}

struct AdamWSettings {
  std::function<double(int)> lr = [](int) { return 1e-3; };
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
};

class AdamWOracle {
 public:
  explicit AdamWOracle(AdamWSettings s) : s_(std::move(s)) {
    for (const BlockSpec& b : kAdamWBlocks) {
      m_.push_back(Matrix::Zero(b.rows, b.cols));
      v_.push_back(Matrix::Zero(b.rows, b.cols));
    }
  }
  void step(int iteration, std::vector<Matrix>& w, const std::vector<Matrix>& grad) {
    const int t = iteration + 1;
    const double lr = s_.lr(iteration);
    for (std::size_t b = 0; b < w.size(); ++b) {
      w[b] *= 1 - lr * s_.weight_decay;
      m_[b] = s_.beta1 * m_[b] + (1 - s_.beta1) * grad[b];
      v_[b] = (s_.beta2 * v_[b].array() + (1 - s_.beta2) * grad[b].array().square()).matrix();
      const Eigen::ArrayXXd m_hat = m_[b].array() / (1 - std::pow(s_.beta1, t));
      const Eigen::ArrayXXd v_hat = v_[b].array() / (1 - std::pow(s_.beta2, t));
      w[b] = (w[b].array() - lr * m_hat / (v_hat.sqrt() + s_.eps)).matrix();
    }
  }

 private:
  AdamWSettings s_;
  std::vector<Matrix> m_, v_;
};

void check_adamw_against_formula(const std::string& params_yaml, const AdamWSettings& settings, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("adamw", params_yaml);
  REQUIRE(optimizer->diagnostics().size() == 1);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  optimizer->initialize(kAdamWBlocks);
  AdamWOracle oracle(settings);
  std::vector<Matrix> w = adamw_initial(), expected = adamw_initial();
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = adamw_gradient(t);
    optimizer->step(t, w, g);
    oracle.step(t, expected, g);
    // About ten rounded operations per entry and step, update <= lr * O(1), W = O(1):
    // ~1e-15 per step; 1e-13 allows a different but equivalent order of operations.
    REQUIRE(max_abs_diff(w, expected) <= 1e-13);
    double used = 0.0;
    optimizer->read_diagnostics(&used);
    REQUIRE(used == Approx(settings.lr(t)).epsilon(1e-15));
  }
}

}  // namespace

TEST_CASE("adamw: defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight_decay 1e-2), three steps", "[adamw]") {
  check_adamw_against_formula("{}", AdamWSettings{}, 3);
}

TEST_CASE("adamw: large decoupled weight decay and non-default betas", "[adamw]") {
  AdamWSettings s;
  s.lr = [](int) { return 0.1; };
  s.beta1 = 0.5;
  s.beta2 = 0.75;
  s.eps = 0.01;
  s.weight_decay = 0.5;
  check_adamw_against_formula("{lr: 0.1, beta1: 0.5, beta2: 0.75, eps: 0.01, weight_decay: 0.5}", s, 3);
}

TEST_CASE("adamw: the decay uses the scheduled lr_t", "[adamw]") {
  AdamWSettings s;
  s.lr = [](int t) { return 0.2 * std::pow(0.5, t); };
  s.weight_decay = 0.3;
  check_adamw_against_formula("{lr: 0.2, schedule: geometric, decay: 0.5, weight_decay: 0.3}", s, 4);
}

TEST_CASE("adamw: the decay is decoupled: it does not enter the moments", "[adamw]") {
  // With G = 0 the moments stay 0, so only the decay acts: W <- (1 - lr wd) W exactly. Coupled
  // L2 (adam) would instead take a full Adam step of size ~lr towards 0.
  auto optimizer = muonlab::testing::make_optimizer("adamw", "{lr: 0.25, weight_decay: 0.5}");
  optimizer->initialize(kAdamWBlocks);
  std::vector<Matrix> w = adamw_initial();
  optimizer->step(0, w, {Matrix::Zero(3, 2), Matrix::Zero(2, 3)});
  for (std::size_t b = 0; b < w.size(); ++b) REQUIRE(w[b] == Matrix(0.875 * adamw_initial()[b]));
}

TEST_CASE("adamw: weight_decay 0 is adam", "[adamw]") {
  auto adamw = muonlab::testing::make_optimizer("adamw", "{lr: 0.05, weight_decay: 0}");
  auto adam = muonlab::testing::make_optimizer("adam", "{lr: 0.05}");
  adamw->initialize(kAdamWBlocks);
  adam->initialize(kAdamWBlocks);
  std::vector<Matrix> w1 = adamw_initial(), w2 = adamw_initial();
  for (int t = 0; t < 3; ++t) {
    const std::vector<Matrix> g = adamw_gradient(t);
    adamw->step(t, w1, g);
    adam->step(t, w2, g);
    // Same operations in the same order once the factor (1 - 0) = 1 multiplies W exactly.
    REQUIRE(max_abs_diff(w1, w2) == 0.0);
  }
}

TEST_CASE("adamw: two instances fed the same gradients produce bit-identical iterates", "[adamw]") {
  const std::string params = "{lr: 0.05, weight_decay: 0.1, schedule: cosine, horizon: 3, warmup: 1}";
  optim_test::require_identical_instances("adamw", params, kAdamWBlocks, adamw_initial(),
                                          optim_test::fixed_sequence(adamw_gradient), 5);
}
