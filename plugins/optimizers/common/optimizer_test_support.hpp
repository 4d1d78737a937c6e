// Fixtures shared by the optimizer plugins' tests (test code only: include it from a
// test_<name>.cpp, never from a plugin). Only set-up and drivers live here: every test keeps
// its own independent oracle, the update written out with plain Eigen.
//
//   tall_square_wide_blocks(), three_block_initial()   3 x 2, 2 x 2, 2 x 3 blocks and a fixed W_0
//   tall_wide_blocks(), two_block_initial()            3 x 2 and 2 x 3 (the first and last of those)
//   perturbed_identity_gradients(blocks, t, ...)       G_t = c_b (B_b + 0.2 wave(i, j, t, b))
//   quadratic_gradients(w, g)                          G = A (W - T) on the tall and wide blocks
//   max_abs_diff(a, b)
//   require_identical_instances(...)                   two instances, same gradients, same iterates
//   require_matches_oracle(...)                        the plugin and a test's oracle side by side
//   SampledGradient                                    g(W; xi_s) served through the core's gradient oracle ABI
//   check_identical_sampled_runs<Gradient>(...)        two runs on a SampledGradient, same final iterates
#pragma once

#include <catch2/catch.hpp>

#include <muonlab/boundary.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace muonlab::optim_test {

// Largest entry-wise difference over all blocks.
inline double max_abs_diff(const std::vector<Matrix>& a, const std::vector<Matrix>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).cwiseAbs().maxCoeff());
  return worst;
}

// Tall, square and wide blocks, so that shape-dependent factors differ per block.
inline std::vector<BlockSpec> tall_square_wide_blocks(const char* tall = "X", const char* square = "Y",
                                                      const char* wide = "Z") {
  return {{tall, 3, 2, ""}, {square, 2, 2, ""}, {wide, 2, 3, ""}};
}

// The tall and the wide block alone.
inline std::vector<BlockSpec> tall_wide_blocks(const char* tall = "X", const char* wide = "Z") {
  return {{tall, 3, 2, ""}, {wide, 2, 3, ""}};
}

inline Matrix tall_initial() {
  Matrix x(3, 2);
  x << 0.5, -1.0, 0.25, 0.75, -0.5, 1.5;
  return x;
}

inline Matrix square_initial() {
  Matrix y(2, 2);
  y << 1.0, 0.2, -0.3, 0.8;
  return y;
}

inline Matrix wide_initial() {
  Matrix z(2, 3);
  z << 0.1, -0.2, 0.3, 0.4, -0.5, 0.6;
  return z;
}

// W_0 for tall_square_wide_blocks().
inline std::vector<Matrix> three_block_initial() { return {tall_initial(), square_initial(), wide_initial()}; }

// W_0 for tall_wide_blocks().
inline std::vector<Matrix> two_block_initial() { return {tall_initial(), wide_initial()}; }

// Perturbation pattern of perturbed_identity_gradients, |wave| <= 1.
using Wave = std::function<double(Eigen::Index i, Eigen::Index j, int t, std::size_t b)>;

inline double cos_wave(Eigen::Index i, Eigen::Index j, int t, std::size_t b) {
  return std::cos(1.3 * i + 0.7 * j + 2.1 * t + static_cast<double>(b));
}

// G_t = c_b (B_b + 0.2 wave(i, j, t, b)) with c = (1, 2.5, 0.4) and B_b the m x n identity
// unless `base` gives another: with the identity, ||0.2 P||_2 <= 0.2 sqrt(6) < 0.5, so every
// gradient (and every average of them) has singular values in [0.5, 1.5] c_b.
inline std::vector<Matrix> perturbed_identity_gradients(const std::vector<BlockSpec>& blocks, int t,
                                                        const Wave& wave = cos_wave,
                                                        const std::function<Matrix(std::size_t b)>& base = {}) {
  const double block_scale[] = {1.0, 2.5, 0.4};
  std::vector<Matrix> g;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    Matrix m = base ? base(b) : Matrix(Matrix::Identity(blocks[b].rows, blocks[b].cols));
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      for (Eigen::Index i = 0; i < m.rows(); ++i) m(i, j) += 0.2 * wave(i, j, t, b);
    g.push_back(block_scale[b] * m);
  }
  return g;
}

// G = A (W - T), the gradient of 1/2 <W - T, A (W - T)> on tall_wide_blocks(), so that every
// step depends on the previous iterate.
inline void quadratic_gradients(const std::vector<Matrix>& w, std::vector<Matrix>& g) {
  Matrix ax(3, 3), az(2, 2), tx(3, 2), tz(2, 3);
  ax << 2.0, 0.5, 0.0, 0.5, 1.0, 0.25, 0.0, 0.25, 3.0;
  az << 1.5, -0.5, -0.5, 0.5;
  tx << 1.0, 0.0, 0.0, 1.0, 0.5, -0.5;
  tz << -0.4, 0.6, 0.9, 0.1, 0.0, -1.0;
  g[0] = ax * (w[0] - tx);
  g[1] = az * (w[1] - tz);
}

// The gradients of step t given the first instance's iterate.
using GradientOf = std::function<std::vector<Matrix>(int t, const std::vector<Matrix>& w)>;

// Two instances built with the same parameters and seed, fed the same gradients, must give
// bit-identical iterates after every step.
inline void require_identical_instances(const std::string& optimizer, const std::string& params,
                                        const std::vector<BlockSpec>& blocks, const std::vector<Matrix>& initial,
                                        const GradientOf& gradient, int steps, std::uint64_t seed = 1) {
  auto first = testing::make_optimizer(optimizer, params, seed);
  auto second = testing::make_optimizer(optimizer, params, seed);
  first->initialize(blocks);
  second->initialize(blocks);
  std::vector<Matrix> w1 = initial, w2 = initial;
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = gradient(t, w1);
    first->step(t, w1, g);
    second->step(t, w2, g);
    REQUIRE(max_abs_diff(w1, w2) == 0.0);
  }
}

// GradientOf for a fixed sequence G_t that ignores the iterate.
inline GradientOf fixed_sequence(std::function<std::vector<Matrix>(int t)> sequence) {
  return [sequence](int t, const std::vector<Matrix>&) { return sequence(t); };
}

// Steps the plugin and a test's own oracle (anything with step(t, W, G)) side by side on the
// fixed sequence G_t: the plugin reports exactly one diagnostic, "lr"; after every step the
// iterates agree to `tolerance` and "lr" equals eta(t) to a relative 1e-15.
template <class Oracle>
void require_matches_oracle(const std::string& optimizer_name, const std::string& params,
                            const std::vector<BlockSpec>& blocks, const std::vector<Matrix>& initial,
                            const std::function<std::vector<Matrix>(int t)>& gradient, Oracle& oracle,
                            const std::function<double(int t)>& eta, int steps, double tolerance) {
  auto optimizer = testing::make_optimizer(optimizer_name, params);
  REQUIRE(optimizer->diagnostics().size() == 1);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  optimizer->initialize(blocks);
  std::vector<Matrix> w = initial, expected = initial;
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = gradient(t);
    optimizer->step(t, w, g);
    oracle.step(t, expected, g);
    REQUIRE(max_abs_diff(w, expected) <= tolerance);
    double used = 0.0;
    optimizer->read_diagnostics(&used);
    REQUIRE(used == Approx(eta(t)).epsilon(1e-15));
  }
}

// A stochastic gradient g(W; xi_s) for the optimizers that ask the core's gradient oracle for
// the current sample's gradient at another point (MARS-M, Muon-MVR2). A test derives it and
// writes gradient(b, W, s); the test sets `sample` before each step, and oracle_calls counts
// the oracle's calls.
struct SampledGradient {
  int sample = 0;
  int oracle_calls = 0;

  virtual ~SampledGradient() = default;
  virtual Matrix gradient(std::size_t b, const Matrix& w, int s) const = 0;

  std::vector<Matrix> gradients(const std::vector<Matrix>& w, int s) const {
    std::vector<Matrix> g;
    for (std::size_t b = 0; b < w.size(); ++b) g.push_back(gradient(b, w[b], s));
    return g;
  }

  static int oracle(void* context, const MatrixView* points, MatrixView* grads, std::uint32_t count,
                    ErrorBuffer* /*error*/) {
    auto* self = static_cast<SampledGradient*>(context);
    ++self->oracle_calls;
    for (std::uint32_t b = 0; b < count; ++b) {
      const Matrix w = ConstMatrixMap(points[b].data, points[b].rows, points[b].cols);
      MatrixMap(grads[b].data, grads[b].rows, grads[b].cols) = self->gradient(b, w, self->sample);
    }
    return 0;
  }

  GradientOracleAbi abi() { return {this, &oracle}; }
};

// Two runs with the same parameters and seed, each on a fresh Gradient (a SampledGradient
// with sample t at step t, served through the gradient oracle), end at bit-identical iterates.
template <class Gradient>
void check_identical_sampled_runs(const std::string& optimizer_name, const std::string& params, std::uint64_t seed,
                                  const std::vector<BlockSpec>& blocks, const std::vector<Matrix>& initial, int steps) {
  std::vector<std::vector<Matrix>> finals;
  for (int run = 0; run < 2; ++run) {
    Gradient q;
    const GradientOracleAbi oracle = q.abi();
    auto optimizer = testing::make_optimizer(optimizer_name, params, seed);
    optimizer->initialize(blocks);
    std::vector<Matrix> w = initial;
    for (int t = 0; t < steps; ++t) {
      q.sample = t;
      optimizer->step(t, w, q.gradients(w, t), &oracle);
    }
    finals.push_back(w);
  }
  CHECK(max_abs_diff(finals[0], finals[1]) == 0.0);
}

}  // namespace muonlab::optim_test
