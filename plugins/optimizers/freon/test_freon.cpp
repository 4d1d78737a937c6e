// freon against the update written with plain Eigen (JacobiSVD, independent of the plugin's
// LAPACK SVD):
//   B = mu B + G;  B = U diag(s) V^T;  N = (sum s_i^q)^(1/q);  O = U diag((s_i/N)^(q-1)) V^T;
//   W <- (1 - eta wd) W - eta O
// and against closed forms at the two ends of the family: q = 2 is B / ||B||_F, q = 1 is the
// polar factor of B.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
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

const std::vector<BlockSpec> kFreonBlocks = optim_test::tall_square_wide_blocks();

std::vector<Matrix> freon_initial() { return optim_test::three_block_initial(); }

// Identity plus a 0.2-sized perturbation: singular values in [0.5, 1.5] times the block
// scale, so every SVD involved is well conditioned.
std::vector<Matrix> freon_gradient(int t) {
  const auto wave = [](Eigen::Index i, Eigen::Index j, int step, std::size_t b) {
    return std::sin(0.9 * i - 1.1 * j + 1.7 * step + static_cast<double>(b));
  };
  return optim_test::perturbed_identity_gradients(kFreonBlocks, t, wave);
}

// (B B^T)^{-c} B / ||B||_{S_q}^{1-2c} written through the singular values of B.
Matrix schatten_direction(const Matrix& b, double q) {
  Eigen::JacobiSVD<Matrix> svd(b, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd s = svd.singularValues();
  const double norm = std::pow(s.array().pow(q).sum(), 1.0 / q);
  const Eigen::VectorXd f = (s / norm).array().pow(q - 1.0);
  return svd.matrixU() * f.asDiagonal() * svd.matrixV().transpose();
}

// Two SVDs of matrices with condition number <= ~10 (momentum sums of the gradients above)
// agree to ~1e-15 relative; the powers (q - 1 in [-0.5, 1]) keep that relative accuracy, and
// the updates are O(1) with eta <= 0.1, so a few steps agree to ~1e-14. A wrong exponent or
// normalization changes entries by more than 1e-3.
constexpr double kFreonTolerance = 1e-12;

struct FreonSettings {
  double eta = 0.02, mu = 0.95, q = 1.0, weight_decay = 0.0;
};

void check_against_oracle(const std::string& params_yaml, const FreonSettings& s, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("freon", params_yaml);
  optimizer->initialize(kFreonBlocks);
  std::vector<Matrix> w = freon_initial(), expected = freon_initial();
  std::vector<Matrix> buffer;
  for (const BlockSpec& b : kFreonBlocks) buffer.push_back(Matrix::Zero(b.rows, b.cols));
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = freon_gradient(t);
    optimizer->step(t, w, g);
    for (std::size_t b = 0; b < w.size(); ++b) {
      buffer[b] = s.mu * buffer[b] + g[b];
      expected[b] = (1 - s.eta * s.weight_decay) * expected[b] - s.eta * schatten_direction(buffer[b], s.q);
    }
    REQUIRE(max_abs_diff(w, expected) <= kFreonTolerance);
    double lr = 0.0;
    optimizer->read_diagnostics(&lr);
    REQUIRE(lr == s.eta);
  }
}

}  // namespace

TEST_CASE("freon: defaults (q 1, mu 0.95) step along the polar factor of the momentum", "[freon]") {
  // q = 1: (s_i / N)^0 = 1, so O is U V^T of B; checked against the exact polar factor.
  auto optimizer = muonlab::testing::make_optimizer("freon", "{}");
  optimizer->initialize(kFreonBlocks);
  std::vector<Matrix> w = freon_initial(), expected = freon_initial();
  std::vector<Matrix> buffer = {Matrix::Zero(3, 2), Matrix::Zero(2, 2), Matrix::Zero(2, 3)};
  for (int t = 0; t < 3; ++t) {
    const std::vector<Matrix> g = freon_gradient(t);
    optimizer->step(t, w, g);
    for (std::size_t b = 0; b < w.size(); ++b) {
      buffer[b] = 0.95 * buffer[b] + g[b];
      expected[b] -= 0.02 * muonlab::testing::exact_polar(buffer[b]);
    }
    REQUIRE(max_abs_diff(w, expected) <= kFreonTolerance);
  }
}

TEST_CASE("freon: q 2 without momentum is normalized gradient descent G / ||G||_F", "[freon]") {
  auto optimizer = muonlab::testing::make_optimizer("freon", "{lr: 0.1, q: 2, momentum: 0}");
  optimizer->initialize(kFreonBlocks);
  std::vector<Matrix> w = freon_initial(), expected = freon_initial();
  for (int t = 0; t < 3; ++t) {
    const std::vector<Matrix> g = freon_gradient(t);
    optimizer->step(t, w, g);
    for (std::size_t b = 0; b < w.size(); ++b) expected[b] -= 0.1 * g[b] / g[b].norm();
    REQUIRE(max_abs_diff(w, expected) <= kFreonTolerance);
  }
}

TEST_CASE("freon: quasi-norm regime q 0.5 with momentum and weight decay, three steps", "[freon]") {
  FreonSettings s;
  s.eta = 0.05;
  s.mu = 0.5;
  s.q = 0.5;
  s.weight_decay = 0.3;
  check_against_oracle("{lr: 0.05, momentum: 0.5, q: 0.5, weight_decay: 0.3}", s, 3);
}

TEST_CASE("freon: q 1.5 interpolates between GD and Muon, three steps", "[freon]") {
  FreonSettings s;
  s.eta = 0.1;
  s.mu = 0.9;
  s.q = 1.5;
  check_against_oracle("{lr: 0.1, momentum: 0.9, q: 1.5}", s, 3);
}

TEST_CASE("freon: q < 1 on a rank-one gradient moves only its direction, by eta", "[freon]") {
  // One active singular value: N = s_1, f_1 = 1, so O = u_1 v_1^T exactly; the null
  // directions (s = 0 <= threshold) must not be inverted into huge steps.
  auto optimizer = muonlab::testing::make_optimizer("freon", "{lr: 0.1, q: 0.5, momentum: 0}");
  const std::vector<BlockSpec> block = {{"X", 3, 2, ""}};
  optimizer->initialize(block);
  Eigen::Vector3d u(1.0, 2.0, -2.0);
  Eigen::Vector2d v(3.0, 4.0);
  const Matrix g = 0.7 * u * v.transpose();
  std::vector<Matrix> w = {Matrix::Zero(3, 2)};
  optimizer->step(0, w, {g});
  const Matrix expected = -0.1 * (u / 3.0) * (v / 5.0).transpose();
  // Rank-one SVD of an exact rank-one matrix: ~1e-16 relative; entries are <= 0.1.
  REQUIRE((w[0] - expected).cwiseAbs().maxCoeff() <= 1e-14);
}

TEST_CASE("freon: two instances fed the same gradients produce bit-identical iterates", "[freon]") {
  const std::string params = "{lr: 0.05, momentum: 0.8, q: 0.7, schedule: geometric, decay: 0.9}";
  optim_test::require_identical_instances("freon", params, kFreonBlocks, freon_initial(),
                                          optim_test::fixed_sequence(freon_gradient), 4, 7);
}
