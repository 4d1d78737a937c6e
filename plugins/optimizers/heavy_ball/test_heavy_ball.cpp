// heavy_ball against the PyTorch SGD recursion written out with plain Eigen:
//   g = G + wd W;  b_1 = g, b_t = mu b_{t-1} + (1 - tau) g;  W <- W - eta_t b_t,
// with G_t = A (W_t - T), the gradient of 1/2 <W - T, A (W - T)>, so every step depends on
// the previous iterate and on the buffer.
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

// A tall and a wide block.
const std::vector<BlockSpec> kHeavyBallBlocks = optim_test::tall_wide_blocks();

std::vector<Matrix> heavy_ball_initial() { return optim_test::two_block_initial(); }

void heavy_ball_gradients(const std::vector<Matrix>& w, std::vector<Matrix>& g) {
  optim_test::quadratic_gradients(w, g);
}

struct HeavyBallSettings {
  std::function<double(int)> eta;
  double momentum = 0.9, dampening = 0.0, weight_decay = 0.0;
};

class HeavyBallOracle {
 public:
  explicit HeavyBallOracle(HeavyBallSettings s) : s_(std::move(s)) {}
  void step(int t, std::vector<Matrix>& w, const std::vector<Matrix>& grad) {
    if (b_.empty()) b_.resize(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      const Matrix g = grad[i] + s_.weight_decay * w[i];
      b_[i] = (t == 0) ? g : Matrix(s_.momentum * b_[i] + (1 - s_.dampening) * g);
      w[i] = w[i] - s_.eta(t) * b_[i];
    }
  }

 private:
  HeavyBallSettings s_;
  std::vector<Matrix> b_;
};

void check_heavy_ball_against_formula(const std::string& params_yaml, const HeavyBallSettings& settings, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("heavy_ball", params_yaml);
  REQUIRE(optimizer->diagnostics().size() == 1);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  optimizer->initialize(kHeavyBallBlocks);
  HeavyBallOracle oracle(settings);
  std::vector<Matrix> w = heavy_ball_initial(), expected = heavy_ball_initial();
  std::vector<Matrix> g = w, g_expected = w;
  for (int t = 0; t < steps; ++t) {
    heavy_ball_gradients(w, g);
    optimizer->step(t, w, g);
    heavy_ball_gradients(expected, g_expected);
    oracle.step(t, expected, g_expected);
    // Entries and buffers are O(1); each step rounds a handful of products and sums per
    // entry (~1e-16 each) and the recursion amplifies earlier errors by at most
    // 1 + eta ||A|| + mu < 3 per step: a few steps stay below 1e-14.
    REQUIRE(max_abs_diff(w, expected) <= 1e-14);
    double used = 0.0;
    optimizer->read_diagnostics(&used);
    REQUIRE(used == Approx(settings.eta(t)).epsilon(1e-15));
  }
}

HeavyBallSettings constant_step(double eta) {
  HeavyBallSettings s;
  s.eta = [eta](int) { return eta; };
  return s;
}

}  // namespace

TEST_CASE("heavy_ball: defaults lr 0.01, momentum 0.9, three steps on a tall and a wide block", "[heavy_ball]") {
  check_heavy_ball_against_formula("{}", constant_step(0.01), 3);
}

TEST_CASE("heavy_ball: dampening and coupled weight decay", "[heavy_ball]") {
  HeavyBallSettings s = constant_step(0.1);
  s.momentum = 0.5;
  s.dampening = 0.25;
  s.weight_decay = 0.2;
  check_heavy_ball_against_formula("{lr: 0.1, momentum: 0.5, dampening: 0.25, weight_decay: 0.2}", s, 4);
}

TEST_CASE("heavy_ball: geometric schedule with warmup", "[heavy_ball]") {
  HeavyBallSettings s;
  s.eta = [](int t) { return t == 0 ? 0.2 / 2 : 0.2 * std::pow(0.5, t - 1); };
  s.momentum = 0.7;
  check_heavy_ball_against_formula("{lr: 0.2, momentum: 0.7, schedule: geometric, decay: 0.5, warmup: 1}", s, 4);
}

TEST_CASE("heavy_ball: the first step uses b_1 = g, not (1 - dampening) g", "[heavy_ball]") {
  auto optimizer = muonlab::testing::make_optimizer("heavy_ball", "{lr: 0.5, momentum: 0.9, dampening: 0.5}");
  optimizer->initialize(kHeavyBallBlocks);
  std::vector<Matrix> w = heavy_ball_initial(), g = w;
  heavy_ball_gradients(w, g);
  optimizer->step(0, w, g);
  // Hand value of X(0,0): A row 0 = (2, 0.5, 0), (W0 - T) column 0 = (-0.5, 0.25, -1.0),
  // G(0,0) = -0.875, W(0,0) = 0.5 + 0.5 * 0.875 = 0.9375 (dyadic: exact). With the damped
  // first step it would be 0.71875.
  REQUIRE(w[0](0, 0) == 0.9375);
}

TEST_CASE("heavy_ball: momentum 0 is gradient descent", "[heavy_ball]") {
  auto optimizer = muonlab::testing::make_optimizer("heavy_ball", "{lr: 0.25, momentum: 0}");
  optimizer->initialize(kHeavyBallBlocks);
  std::vector<Matrix> w = heavy_ball_initial(), expected = heavy_ball_initial(), g = w;
  for (int t = 0; t < 3; ++t) {
    heavy_ball_gradients(w, g);
    optimizer->step(t, w, g);
    heavy_ball_gradients(expected, g);
    for (std::size_t i = 0; i < w.size(); ++i) expected[i] -= 0.25 * g[i];
    // b = 0 * b + 1 * g is g exactly, so both sides round identically.
    REQUIRE(max_abs_diff(w, expected) == 0.0);
  }
}

TEST_CASE("heavy_ball: a zero gradient with weight_decay 0 leaves W unchanged", "[heavy_ball]") {
  auto optimizer = muonlab::testing::make_optimizer("heavy_ball", "{lr: 0.3}");
  optimizer->initialize(kHeavyBallBlocks);
  std::vector<Matrix> w = heavy_ball_initial();
  const std::vector<Matrix> zero = {Matrix::Zero(3, 2), Matrix::Zero(2, 3)};
  for (int t = 0; t < 3; ++t) optimizer->step(t, w, zero);
  REQUIRE(max_abs_diff(w, heavy_ball_initial()) == 0.0);
}

TEST_CASE("heavy_ball: two instances fed the same gradients produce bit-identical iterates", "[heavy_ball]") {
  const std::string params =
      "{lr: 0.1, momentum: 0.8, dampening: 0.1, weight_decay: 0.05, schedule: cosine, horizon: 4}";
  optim_test::require_identical_instances(
      "heavy_ball", params, kHeavyBallBlocks, heavy_ball_initial(),
      [](int, const std::vector<Matrix>& w) {
        std::vector<Matrix> g = w;
        heavy_ball_gradients(w, g);
        return g;
      },
      5);
}

TEST_CASE("heavy_ball: step() with blocks other than those initialized is an error", "[heavy_ball]") {
  auto optimizer = muonlab::testing::make_optimizer("heavy_ball", "{}");
  optimizer->initialize(kHeavyBallBlocks);
  std::vector<Matrix> w = {Matrix::Zero(2, 3), Matrix::Zero(2, 3)};
  REQUIRE_THROWS_WITH(optimizer->step(0, w, w), Catch::Contains("different shape"));
}
