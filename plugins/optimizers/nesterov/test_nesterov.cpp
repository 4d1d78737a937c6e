// nesterov against the PyTorch SGD(nesterov=True) recursion written out with plain Eigen:
//   g = G + wd W;  b_1 = g, b_t = mu b_{t-1} + g;  W <- W - eta_t (g + mu b_t),
// with G_t = A (W_t - T), the gradient of 1/2 <W - T, A (W - T)>.
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

const std::vector<BlockSpec> kNesterovBlocks = optim_test::tall_wide_blocks();

std::vector<Matrix> nesterov_initial() { return optim_test::two_block_initial(); }

void nesterov_gradients(const std::vector<Matrix>& w, std::vector<Matrix>& g) { optim_test::quadratic_gradients(w, g); }

struct NesterovSettings {
  std::function<double(int)> eta;
  double momentum = 0.9, weight_decay = 0.0;
};

class NesterovOracle {
 public:
  explicit NesterovOracle(NesterovSettings s) : s_(std::move(s)) {}
  void step(int t, std::vector<Matrix>& w, const std::vector<Matrix>& grad) {
    if (b_.empty()) b_.resize(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      const Matrix g = grad[i] + s_.weight_decay * w[i];
      b_[i] = (t == 0) ? g : Matrix(s_.momentum * b_[i] + g);
      w[i] = w[i] - s_.eta(t) * (g + s_.momentum * b_[i]);
    }
  }

 private:
  NesterovSettings s_;
  std::vector<Matrix> b_;
};

void check_nesterov_against_formula(const std::string& params_yaml, const NesterovSettings& settings, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("nesterov", params_yaml);
  REQUIRE(optimizer->diagnostics().size() == 1);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  optimizer->initialize(kNesterovBlocks);
  NesterovOracle oracle(settings);
  std::vector<Matrix> w = nesterov_initial(), expected = nesterov_initial();
  std::vector<Matrix> g = w, g_expected = w;
  for (int t = 0; t < steps; ++t) {
    nesterov_gradients(w, g);
    optimizer->step(t, w, g);
    nesterov_gradients(expected, g_expected);
    oracle.step(t, expected, g_expected);
    // O(1) entries, a handful of rounded operations per entry and step, amplification of
    // earlier errors below 1 + eta ||A|| (1 + mu) + mu < 4 per step: below 1e-14 over 4 steps.
    REQUIRE(max_abs_diff(w, expected) <= 1e-14);
    double used = 0.0;
    optimizer->read_diagnostics(&used);
    REQUIRE(used == Approx(settings.eta(t)).epsilon(1e-15));
  }
}

NesterovSettings constant_step(double eta) {
  NesterovSettings s;
  s.eta = [eta](int) { return eta; };
  return s;
}

}  // namespace

TEST_CASE("nesterov: defaults lr 0.01, momentum 0.9, three steps", "[nesterov]") {
  check_nesterov_against_formula("{}", constant_step(0.01), 3);
}

TEST_CASE("nesterov: explicit momentum and coupled weight decay", "[nesterov]") {
  NesterovSettings s = constant_step(0.1);
  s.momentum = 0.5;
  s.weight_decay = 0.3;
  check_nesterov_against_formula("{lr: 0.1, momentum: 0.5, weight_decay: 0.3}", s, 4);
}

TEST_CASE("nesterov: list schedule", "[nesterov]") {
  NesterovSettings s;
  s.eta = [](int t) { return t == 0 ? 0.2 : 0.05; };
  s.momentum = 0.6;
  check_nesterov_against_formula("{schedule: list, lr_list: [0.2, 0.05], momentum: 0.6}", s, 3);
}

TEST_CASE("nesterov: the first step is W - eta (1 + mu) g", "[nesterov]") {
  auto optimizer = muonlab::testing::make_optimizer("nesterov", "{lr: 0.25, momentum: 0.5}");
  optimizer->initialize(kNesterovBlocks);
  std::vector<Matrix> w = nesterov_initial(), g = w;
  nesterov_gradients(w, g);
  optimizer->step(0, w, g);
  // X(0,0): G(0,0) = -0.875 (see test_heavy_ball.cpp); b_1 = g, so the step is
  // 0.25 * 1.5 * 0.875 = 0.328125 and W(0,0) = 0.828125. Dyadic: exact.
  REQUIRE(w[0](0, 0) == 0.828125);
}

TEST_CASE("nesterov: momentum 0 is refused (PyTorch requires momentum > 0)", "[nesterov]") {
  REQUIRE_THROWS(muonlab::testing::make_optimizer("nesterov", "{momentum: 0}"));
}

TEST_CASE("nesterov: a zero gradient with weight_decay 0 leaves W unchanged", "[nesterov]") {
  auto optimizer = muonlab::testing::make_optimizer("nesterov", "{lr: 0.3}");
  optimizer->initialize(kNesterovBlocks);
  std::vector<Matrix> w = nesterov_initial();
  const std::vector<Matrix> zero = {Matrix::Zero(3, 2), Matrix::Zero(2, 3)};
  for (int t = 0; t < 3; ++t) optimizer->step(t, w, zero);
  REQUIRE(max_abs_diff(w, nesterov_initial()) == 0.0);
}

TEST_CASE("nesterov: two instances fed the same gradients produce bit-identical iterates", "[nesterov]") {
  const std::string params = "{lr: 0.1, momentum: 0.8, weight_decay: 0.05, schedule: geometric, decay: 0.9}";
  optim_test::require_identical_instances(
      "nesterov", params, kNesterovBlocks, nesterov_initial(),
      [](int, const std::vector<Matrix>& w) {
        std::vector<Matrix> g = w;
        nesterov_gradients(w, g);
        return g;
      },
      5);
}
