// mars_m (orthogonalizer: svd) against steps written out with plain Eigen:
//   c = G + gamma beta/(1-beta) (G - Gref);  c <- c clip/||c|| if ||c|| > clip;
//   M = beta M + (1-beta) c;  W <- (1 - eta wd) W - eta s U V^T(M),
// with Gref = grad f(W_{t-1}; xi_t) (exact, from a gradient oracle) or G_{t-1} (approx).
// The stochastic gradient is that of a quadratic plus a per-step shift xi_t, so the exact
// variant's reference gradient differs from the previous step's gradient.
#include <catch2/catch.hpp>

#include <Eigen/SVD>

#include <cmath>
#include <string>
#include <vector>

#include "test_support.hpp"

#include "../common/optimizer_test_support.hpp"

using muonlab::BlockSpec;
using muonlab::Matrix;

namespace {

namespace optim_test = muonlab::optim_test;
using optim_test::max_abs_diff;

const std::vector<BlockSpec> kBlocks = {{"tall", 3, 2, ""}, {"wide", 2, 3, ""}};

// g(W; xi_t) = A_b (W - T_b) + xi_t,b with a fixed well-conditioned A_b (rows x rows).
struct StochasticQuadratic : optim_test::SampledGradient {
  std::vector<Matrix> a, target;

  StochasticQuadratic() {
    for (const BlockSpec& b : kBlocks) {
      Matrix h = Matrix::Identity(b.rows, b.rows) * 2.0;
      for (Eigen::Index i = 0; i + 1 < h.rows(); ++i) h(i, i + 1) = h(i + 1, i) = 0.5;
      a.push_back(h);
      Matrix t(b.rows, b.cols);
      for (Eigen::Index j = 0; j < t.cols(); ++j)
        for (Eigen::Index i = 0; i < t.rows(); ++i) t(i, j) = std::sin(1.0 + i + 2.0 * j);
      target.push_back(t);
    }
  }
  Matrix shift(std::size_t b, int s) const {
    Matrix x(kBlocks[b].rows, kBlocks[b].cols);
    for (Eigen::Index j = 0; j < x.cols(); ++j)
      for (Eigen::Index i = 0; i < x.rows(); ++i) x(i, j) = 0.3 * std::cos(0.7 * i - 1.1 * j + 2.3 * s + b);
    return x;
  }
  Matrix gradient(std::size_t b, const Matrix& w, int s) const override { return a[b] * (w - target[b]) + shift(b, s); }
};

std::vector<Matrix> initial_point() {
  Matrix x(3, 2), y(2, 3);
  x << 0.5, -1.0, 0.25, 0.75, -0.5, 1.5;
  y << 0.1, -0.2, 0.3, 0.4, -0.5, 0.6;
  return {x, y};
}

Matrix polar_factor(const Matrix& m) {
  Eigen::JacobiSVD<Matrix> svd(m, Eigen::ComputeThinU | Eigen::ComputeThinV);
  REQUIRE(svd.singularValues().minCoeff() > 1e-3 * svd.singularValues().maxCoeff());
  return svd.matrixU() * svd.matrixV().transpose();
}

struct Settings {
  double lr = 0.1, beta = 0.8, gamma = 0.3, clip = 1.0, wd = 0.05;
  bool exact = true;
};

// The update written out step by step (scaling rms: s = 0.2 sqrt(max(m, n)) = 0.2 sqrt(3)).
class MarsOracle {
 public:
  MarsOracle(Settings s, const StochasticQuadratic& q) : s_(s), q_(q) {
    for (const BlockSpec& b : kBlocks) {
      m_.push_back(Matrix::Zero(b.rows, b.cols));
      last_grad_.push_back(Matrix::Zero(b.rows, b.cols));
    }
  }
  void step(int t, std::vector<Matrix>& w, const std::vector<Matrix>& g) {
    for (std::size_t b = 0; b < w.size(); ++b) {
      Matrix reference = last_grad_[b];
      if (s_.exact) reference = t == 0 ? g[b] : q_.gradient(b, previous_[b], t);
      Matrix c = g[b] + s_.gamma * s_.beta / (1 - s_.beta) * (g[b] - reference);
      if (s_.clip > 0 && c.norm() > s_.clip) c *= s_.clip / c.norm();
      m_[b] = s_.beta * m_[b] + (1 - s_.beta) * c;
      last_grad_[b] = g[b];
    }
    previous_ = w;
    for (std::size_t b = 0; b < w.size(); ++b) {
      w[b] = (1 - s_.lr * s_.wd) * w[b] - s_.lr * 0.2 * std::sqrt(3.0) * polar_factor(m_[b]);
    }
  }

 private:
  Settings s_;
  const StochasticQuadratic& q_;
  std::vector<Matrix> m_, last_grad_, previous_;
};

std::string yaml(const Settings& s) {
  return "{orthogonalizer: svd, scaling: rms, lr: " + std::to_string(s.lr) + ", momentum: " + std::to_string(s.beta) +
         ", gamma: " + std::to_string(s.gamma) + ", clip_norm: " + std::to_string(s.clip) +
         ", weight_decay: " + std::to_string(s.wd) + ", variant: " + (s.exact ? "exact" : "approx") + "}";
}

// Three steps; returns the final iterate. Every gradient is O(1) and the momentum well
// conditioned (checked in polar_factor), so two backward-stable SVDs agree to ~1e-15 per
// step; 1e-12 is ample while any wrong coefficient changes entries by >= 1e-3.
std::vector<Matrix> check_steps(const Settings& s, int expected_oracle_calls) {
  StochasticQuadratic q;
  const muonlab::GradientOracleAbi oracle = q.abi();
  auto optimizer = muonlab::testing::make_optimizer("mars_m", yaml(s));
  optimizer->initialize(kBlocks);
  MarsOracle reference(s, q);
  std::vector<Matrix> w = initial_point(), expected = initial_point();
  for (int t = 0; t < 3; ++t) {
    q.sample = t;
    const std::vector<Matrix> g = q.gradients(w, t);
    optimizer->step(t, w, g, &oracle);
    reference.step(t, expected, g);
    CAPTURE(t);
    REQUIRE(max_abs_diff(w, expected) < 1e-12);
  }
  CHECK(q.oracle_calls == expected_oracle_calls);
  return w;
}

}  // namespace

TEST_CASE("mars_m exact: three steps match the formula, one oracle call per step after the first", "[mars_m]") {
  Settings s;
  check_steps(s, 2);
  s.clip = 0.0;  // no clipping
  check_steps(s, 2);
  s.clip = 0.05;  // every step clipped
  check_steps(s, 2);
}

TEST_CASE("mars_m approx: three steps match the formula with the previous gradient, no oracle calls", "[mars_m]") {
  Settings s;
  s.exact = false;
  const std::vector<Matrix> approx = check_steps(s, 0);
  s.exact = true;
  CHECK(max_abs_diff(approx, check_steps(s, 2)) > 1e-4);  // the two references really differ
}

TEST_CASE("mars_m reports lr and the pre-clip correction norm", "[mars_m]") {
  auto optimizer = muonlab::testing::make_optimizer("mars_m", "{lr: 0.01, momentum: 0.5, gamma: 1, variant: approx}");
  optimizer->initialize(kBlocks);
  std::vector<Matrix> w = initial_point();
  StochasticQuadratic q;
  const std::vector<Matrix> g = q.gradients(w, 0);
  optimizer->step(0, w, g);
  double values[2] = {0, 0};
  optimizer->read_diagnostics(values);
  CHECK(values[0] == 0.01);
  // t = 0, approx: Gref = 0, so c = (1 + gamma beta / (1 - beta)) G = 2 G.
  const double expected = 2.0 * std::sqrt(g[0].squaredNorm() + g[1].squaredNorm());
  CHECK(values[1] == Approx(expected).epsilon(1e-14));
}

TEST_CASE("mars_m exact needs a gradient oracle after the first step", "[mars_m]") {
  auto optimizer = muonlab::testing::make_optimizer("mars_m", "{variant: exact}");
  optimizer->initialize(kBlocks);
  std::vector<Matrix> w = initial_point();
  StochasticQuadratic q;
  optimizer->step(0, w, q.gradients(w, 0));  // t = 0 needs no oracle
  CHECK_THROWS(optimizer->step(1, w, q.gradients(w, 1)));
}

TEST_CASE("mars_m: two instances with the same seed give bit-identical iterates", "[mars_m]") {
  optim_test::check_identical_sampled_runs<StochasticQuadratic>("mars_m", "{variant: exact, lr: 0.05}", 99, kBlocks,
                                                                initial_point(), 4);
}
