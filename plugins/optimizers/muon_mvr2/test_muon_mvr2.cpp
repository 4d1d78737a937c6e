// muon_mvr2 against an independent form of its recursion: with gamma = 1 and no clipping the
// MARS-corrected EMA is the STORM / MVR estimator
//   M_t = G_t + mu (M_{t-1} - grad f(W_{t-1}; xi_t)),   M_0 = (1 - mu) G_0,
// and W <- W - eta U V^T(M_t) (scaling none, weight_decay 0, orthogonalizer svd).
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

const std::vector<BlockSpec> kBlocks = {{"square", 3, 3, ""}, {"wide", 2, 4, ""}};

// g(W; xi_s) = D_b (W - T_b) + xi_s,b: a diagonal quadratic plus a sample-dependent shift.
struct ShiftedQuadratic : optim_test::SampledGradient {
  Matrix gradient(std::size_t b, const Matrix& w, int s) const override {
    Matrix g(w.rows(), w.cols());
    for (Eigen::Index j = 0; j < w.cols(); ++j)
      for (Eigen::Index i = 0; i < w.rows(); ++i) {
        const double curvature = 1.0 + i;
        const double target = std::cos(0.5 + i + 3.0 * j + b);
        g(i, j) = curvature * (w(i, j) - target) + 0.4 * std::sin(1.7 * s + 0.9 * i - 0.4 * j + b);
      }
    return g;
  }
};

std::vector<Matrix> initial_point() {
  Matrix x(3, 3), y(2, 4);
  x << 0.5, -1.0, 0.25, 0.75, -0.5, 1.5, 0.2, 0.1, -0.3;
  y << 0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.9, -0.8;
  return {x, y};
}

Matrix polar_factor(const Matrix& m) {
  Eigen::JacobiSVD<Matrix> svd(m, Eigen::ComputeThinU | Eigen::ComputeThinV);
  REQUIRE(svd.singularValues().minCoeff() > 1e-3 * svd.singularValues().maxCoeff());
  return svd.matrixU() * svd.matrixV().transpose();
}

}  // namespace

TEST_CASE("muon_mvr2 with gamma 1 follows the STORM recursion for three steps", "[muon_mvr2]") {
  const double mu = 0.7, eta = 0.05;
  ShiftedQuadratic q;
  const muonlab::GradientOracleAbi oracle = q.abi();
  auto optimizer = muonlab::testing::make_optimizer(
      "muon_mvr2", "{gamma: 1, clip_norm: 0, momentum: 0.7, lr: 0.05, scaling: none, orthogonalizer: svd}");
  optimizer->initialize(kBlocks);
  std::vector<Matrix> w = initial_point(), expected = initial_point(), previous;
  std::vector<Matrix> m = {Matrix::Zero(3, 3), Matrix::Zero(2, 4)};
  for (int t = 0; t < 3; ++t) {
    q.sample = t;
    const std::vector<Matrix> g = q.gradients(w, t);
    optimizer->step(t, w, g, &oracle);
    for (std::size_t b = 0; b < m.size(); ++b) {
      m[b] = t == 0 ? Matrix((1 - mu) * g[b]) : Matrix(g[b] + mu * (m[b] - q.gradient(b, previous[b], t)));
    }
    previous = expected;
    for (std::size_t b = 0; b < m.size(); ++b) expected[b] -= eta * polar_factor(m[b]);
    CAPTURE(t);
    // Well-conditioned momenta (checked), O(1) entries: SVD polar factors agree to ~1e-15;
    // the EMA and STORM forms differ by a few roundings. 1e-12 is ample, while a wrong
    // reference point or coefficient moves entries by >= 1e-3.
    REQUIRE(max_abs_diff(w, expected) < 1e-12);
  }
  CHECK(q.oracle_calls == 2);  // the default variant is exact: one extra gradient per step t >= 1
}

TEST_CASE("muon_mvr2 defaults: exact variant, no weight decay, rms scaling", "[muon_mvr2]") {
  ShiftedQuadratic q;
  const muonlab::GradientOracleAbi oracle = q.abi();
  auto optimizer = muonlab::testing::make_optimizer("muon_mvr2", "{orthogonalizer: svd}");
  optimizer->initialize(kBlocks);
  // Zero gradients everywhere (sample shift cancelled): M stays 0, O = 0, and with no weight
  // decay W must not move.
  std::vector<Matrix> w = initial_point();
  const std::vector<Matrix> start = w;
  const std::vector<Matrix> zero = {Matrix::Zero(3, 3), Matrix::Zero(2, 4)};
  optimizer->step(0, w, zero, &oracle);
  CHECK(max_abs_diff(w, start) == 0.0);
  // One real step: W moves by eta s U V^T(G) with eta = 1e-3, s = 0.2 sqrt(max(m, n)).
  const std::vector<Matrix> g = q.gradients(w, 0);
  auto fresh = muonlab::testing::make_optimizer("muon_mvr2", "{orthogonalizer: svd}");
  fresh->initialize(kBlocks);
  fresh->step(0, w, g, &oracle);
  CHECK(q.oracle_calls == 0);
  for (std::size_t b = 0; b < w.size(); ++b) {
    const double s = 0.2 * std::sqrt(static_cast<double>(std::max(kBlocks[b].rows, kBlocks[b].cols)));
    const Matrix step = start[b] - 1e-3 * s * polar_factor(g[b]);
    // the two SVDs' polar factors differ by ~1e-15, times eta s < 1e-3, plus an ulp of W
    CHECK((w[b] - step).cwiseAbs().maxCoeff() < 1e-14);
  }
  fresh->step(1, w, q.gradients(w, 1), &oracle);
  CHECK(q.oracle_calls == 1);
}

TEST_CASE("muon_mvr2: two instances with the same seed give bit-identical iterates", "[muon_mvr2]") {
  optim_test::check_identical_sampled_runs<ShiftedQuadratic>("muon_mvr2", "{lr: 0.05}", 5, kBlocks, initial_point(), 4);
}
