// gd against hand-computed steps: W_{t+1} = W_t - lr * G_t with G_t = A (W_t - T), the
// gradient of 1/2 <W - T, A (W - T)>, so every step depends on the previous iterate.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "test_support.hpp"

#include "../common/optimizer_test_support.hpp"

using muonlab::BlockSpec;
using muonlab::Matrix;

namespace {

namespace optim_test = muonlab::optim_test;
using optim_test::max_abs_diff;

// Two blocks of different shapes, as a problem with X (3 x 2) and Y (2 x 2) would declare.
const std::vector<BlockSpec> kGdBlocks = {{"X", 3, 2, ""}, {"Y", 2, 2, ""}};

std::vector<Matrix> gd_initial() {
  Matrix x(3, 2), y(2, 2);
  x << 0.5, -1.0, 0.25, 0.75, -0.5, 1.5;
  y << 1.0, 0.2, -0.3, 0.8;
  return {x, y};
}

std::vector<Matrix> gd_targets() {
  Matrix x(3, 2), y(2, 2);
  x << 1.0, 0.0, 0.0, 1.0, 0.5, -0.5;
  y << -0.4, 0.6, 0.9, 0.1;
  return {x, y};
}

// Left multipliers A (row count of each block), so G is not just W - T.
std::vector<Matrix> gd_curvatures() {
  Matrix ax(3, 3), ay(2, 2);
  ax << 2.0, 0.5, 0.0, 0.5, 1.0, 0.25, 0.0, 0.25, 3.0;
  ay << 1.5, -0.5, -0.5, 0.5;
  return {ax, ay};
}

void gd_gradients(const std::vector<Matrix>& w, std::vector<Matrix>& g) {
  const std::vector<Matrix> a = gd_curvatures(), t = gd_targets();
  for (std::size_t b = 0; b < w.size(); ++b) g[b] = a[b] * (w[b] - t[b]);
}

// Runs `steps` steps of the plugin and of the formula side by side; checks both the
// iterates and the "lr" diagnostic after every step.
void check_gd_against_formula(const std::string& params_yaml, double lr, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("gd", params_yaml);
  REQUIRE(optimizer->diagnostics().size() == 1);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  REQUIRE(optimizer->diagnostics()[0].unit == "1");
  optimizer->initialize(kGdBlocks);

  std::vector<Matrix> w = gd_initial(), expected = gd_initial(), g = gd_initial(), g_expected = gd_initial();
  for (int t = 0; t < steps; ++t) {
    gd_gradients(w, g);
    optimizer->step(t, w, g);
    gd_gradients(expected, g_expected);
    for (std::size_t b = 0; b < expected.size(); ++b) expected[b] = expected[b] - lr * g_expected[b];
    // Entries are O(1) and each step rounds a product and a difference: a few ulps.
    REQUIRE(max_abs_diff(w, expected) <= 1e-14);
    double used = 0.0;
    optimizer->read_diagnostics(&used);
    REQUIRE(used == lr);
  }
}

}  // namespace

TEST_CASE("gd: default lr 0.1, three hand-computed steps on two blocks", "[gd]") {
  check_gd_against_formula("{}", 0.1, 3);
}

TEST_CASE("gd: explicit lr, three hand-computed steps on two blocks", "[gd]") {
  check_gd_against_formula("{lr: 0.35}", 0.35, 3);
}

TEST_CASE("gd: the first step from the initial point equals W0 - lr * A (W0 - T)", "[gd]") {
  auto optimizer = muonlab::testing::make_optimizer("gd", "{lr: 0.5}");
  optimizer->initialize(kGdBlocks);
  std::vector<Matrix> w = gd_initial(), g = gd_initial();
  gd_gradients(w, g);
  optimizer->step(0, w, g);
  // Hand value of entry (0, 0) of X: A row 0 = (2, 0.5, 0), (W0 - T) column 0 =
  // (-0.5, 0.25, -1.0), so G(0,0) = -1 + 0.125 = -0.875 and W(0,0) = 0.5 + 0.4375.
  // Every number here is a short dyadic fraction, so the result is exact.
  REQUIRE(w[0](0, 0) == 0.9375);
}

TEST_CASE("gd: a zero gradient leaves the iterate bit-identical", "[gd]") {
  auto optimizer = muonlab::testing::make_optimizer("gd", "{lr: 0.2}");
  optimizer->initialize(kGdBlocks);
  std::vector<Matrix> w = gd_initial();
  const std::vector<Matrix> zero = {Matrix::Zero(3, 2), Matrix::Zero(2, 2)};
  optimizer->step(0, w, zero);
  REQUIRE(max_abs_diff(w, gd_initial()) == 0.0);
}

TEST_CASE("gd: step() with blocks other than those initialized is an error, not a write", "[gd]") {
  auto optimizer = muonlab::testing::make_optimizer("gd", "{}");
  optimizer->initialize(kGdBlocks);
  std::vector<Matrix> w = {Matrix::Zero(2, 3), Matrix::Zero(2, 2)};
  const std::vector<Matrix> g = w;
  REQUIRE_THROWS_WITH(optimizer->step(0, w, g), Catch::Contains("different shape"));
}
