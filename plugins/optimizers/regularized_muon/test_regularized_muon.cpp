// regularized_muon against the update written with plain Eigen (JacobiSVD):
//   N = G, the EMA buffer M = b M + (1-b) G, or (1-b) G + b M (nesterov);
//   N = U diag(s) V^T;  lam = lambda s_1 (relative) or lambda (absolute);
//   O = U diag(s_i / sqrt(s_i^2 + lam^2)) V^T;  W <- (1 - eta wd) W - eta s O.
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

const std::vector<BlockSpec> kRegBlocks = optim_test::tall_square_wide_blocks("tall", "square", "wide");

std::vector<Matrix> reg_initial() { return optim_test::three_block_initial(); }

// Singular values in about [0.5, 1.5] times the block scale: well-conditioned SVDs.
std::vector<Matrix> reg_gradient(int t) {
  const auto wave = [](Eigen::Index i, Eigen::Index j, int step, std::size_t b) {
    return std::cos(0.8 * i + 1.9 * j + 1.3 * step + static_cast<double>(b));
  };
  return optim_test::perturbed_identity_gradients(kRegBlocks, t, wave);
}

Matrix smoothed_polar(const Matrix& n, double lambda, bool relative) {
  Eigen::JacobiSVD<Matrix> svd(n, Eigen::ComputeThinU | Eigen::ComputeThinV);
  Eigen::VectorXd s = svd.singularValues();
  const double lam = relative ? lambda * s(0) : lambda;
  for (Eigen::Index i = 0; i < s.size(); ++i) s(i) = s(i) / std::sqrt(s(i) * s(i) + lam * lam);
  return svd.matrixU() * s.asDiagonal() * svd.matrixV().transpose();
}

// Two SVDs of matrices with condition number <= ~5 agree to ~1e-15 relative, and the map
// f(s) = s / hypot(s, lam) has relative condition number s f'(s) / f(s) = lam^2 / (s^2 + lam^2)
// <= 1, so it does not amplify that error: O(1) updates with eta <= 0.1 agree to ~1e-14 over a
// few steps. In the lambda 0.5 / 0.7 cases a wrong smoothing (lam^2 for lam, or lam not
// scaled by s_1) moves entries by more than 1e-4.
constexpr double kRegTolerance = 1e-12;

struct RegSettings {
  std::function<double(int)> eta = [](int t) { return 0.1 * std::pow(0.9, t); };
  double beta = 0.0, lambda = 1e-3, weight_decay = 0.0, scale_tall = 1.0;
  bool nesterov = false, relative = true;
};

void check_against_oracle(const std::string& params_yaml, const RegSettings& s, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("regularized_muon", params_yaml);
  optimizer->initialize(kRegBlocks);
  std::vector<Matrix> w = reg_initial(), expected = reg_initial();
  std::vector<Matrix> m = {Matrix::Zero(3, 2), Matrix::Zero(2, 2), Matrix::Zero(2, 3)};
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = reg_gradient(t);
    optimizer->step(t, w, g);
    const double eta = s.eta(t);
    for (std::size_t b = 0; b < w.size(); ++b) {
      Matrix n = g[b];
      if (s.beta > 0) {
        m[b] = s.beta * m[b] + (1 - s.beta) * g[b];
        n = s.nesterov ? Matrix((1 - s.beta) * g[b] + s.beta * m[b]) : m[b];
      }
      const double scale = b == 0 ? s.scale_tall : 1.0;  // only the tall block has m/n > 1
      expected[b] = (1 - eta * s.weight_decay) * expected[b] - eta * scale * smoothed_polar(n, s.lambda, s.relative);
    }
    REQUIRE(max_abs_diff(w, expected) <= kRegTolerance);
    double lr = 0.0;
    optimizer->read_diagnostics(&lr);
    REQUIRE(lr == Approx(eta).epsilon(1e-15));
  }
}

}  // namespace

TEST_CASE("regularized_muon: defaults (relative lambda 1e-3, geometric 0.1 * 0.9^t), three steps",
          "[regularized_muon]") {
  check_against_oracle("{}", RegSettings{}, 3);
}

TEST_CASE("regularized_muon: relative lambda 0.5 with Nesterov momentum and shape scaling", "[regularized_muon]") {
  RegSettings s;
  s.eta = [](int) { return 0.05; };
  s.beta = 0.9;
  s.nesterov = true;
  s.lambda = 0.5;
  s.scale_tall = std::sqrt(1.5);
  check_against_oracle("{lr: 0.05, schedule: constant, momentum: 0.9, nesterov: true, lambda: 0.5, scaling: shape}", s,
                       3);
}

TEST_CASE("regularized_muon: absolute lambda with EMA momentum and weight decay", "[regularized_muon]") {
  RegSettings s;
  s.eta = [](int) { return 0.1; };
  s.beta = 0.5;
  s.lambda = 0.7;
  s.relative = false;
  s.weight_decay = 0.2;
  check_against_oracle(
      "{lr: 0.1, schedule: constant, momentum: 0.5, lambda: 0.7, lambda_scale: absolute, weight_decay: 0.2}", s, 3);
}

TEST_CASE("regularized_muon: absolute lambda is gradient descent with step eta / lambda for tiny gradients",
          "[regularized_muon]") {
  // s / sqrt(s^2 + lam^2) = (s / lam) (1 - s^2 / (2 lam^2) + ...): with s <= 1.5e-6 and
  // lam = 1 the relative deviation from G / lam is <= 1.2e-12, i.e. entries off by ~1e-18.
  auto optimizer = muonlab::testing::make_optimizer("regularized_muon",
                                                    "{lr: 0.1, schedule: constant, lambda: 1, lambda_scale: absolute}");
  optimizer->initialize(kRegBlocks);
  std::vector<Matrix> w = reg_initial(), expected = reg_initial();
  std::vector<Matrix> g = reg_gradient(0);
  for (Matrix& block : g) block *= 1e-6;
  optimizer->step(0, w, g);
  for (std::size_t b = 0; b < w.size(); ++b) expected[b] -= 0.1 * g[b];
  REQUIRE(max_abs_diff(w, expected) <= 1e-15);
}

TEST_CASE("regularized_muon: two instances fed the same gradients produce bit-identical iterates",
          "[regularized_muon]") {
  const std::string params = "{lr: 0.05, momentum: 0.8, nesterov: true, lambda: 0.1}";
  optim_test::require_identical_instances("regularized_muon", params, kRegBlocks, reg_initial(),
                                          optim_test::fixed_sequence(reg_gradient), 4, 7);
}
