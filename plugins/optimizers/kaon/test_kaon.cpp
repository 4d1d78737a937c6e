// kaon against the same update computed on the singular values with plain Eigen (JacobiSVD):
//   B = mu B + G;  B / ||B||_F = U diag(s) V^T;  s <- a s (1 - s^2)^2  (T times);
//   W <- (1 - eta wd) W - eta U diag(s) V^T / divisor.
// The plugin never takes an SVD (it iterates the matrix polynomial), so agreement checks that
// the matrix iteration acts on the spectrum as the scalar map and keeps the singular vectors.
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

const std::vector<BlockSpec> kKaonBlocks = optim_test::tall_square_wide_blocks("tall", "square", "wide");

std::vector<Matrix> kaon_initial() { return optim_test::three_block_initial(); }

std::vector<Matrix> kaon_gradient(int t) {
  const auto base = [](std::size_t b) {
    Matrix m = Matrix::Identity(kKaonBlocks[b].rows, kKaonBlocks[b].cols);
    m(0, 0) = 2.0;  // distinct singular values
    return m;
  };
  return optim_test::perturbed_identity_gradients(kKaonBlocks, t, optim_test::cos_wave, base);
}

double chaotic_map(double s, double gain, int iterations) {
  for (int k = 0; k < iterations; ++k) s = gain * s * (1 - s * s) * (1 - s * s);
  return s;
}

Matrix scrambled_direction(const Matrix& b, double gain, int iterations) {
  Eigen::JacobiSVD<Matrix> svd(b / b.norm(), Eigen::ComputeThinU | Eigen::ComputeThinV);
  Eigen::VectorXd s = svd.singularValues();
  for (Eigen::Index i = 0; i < s.size(); ++i) s(i) = chaotic_map(s(i), gain, iterations);
  return svd.matrixU() * s.asDiagonal() * svd.matrixV().transpose();
}

// The map's derivative a (1 - s^2)(1 - 5 s^2) is at most a = 4.1 in magnitude on the range
// it visits ([0, 1.18]), so T = 5 applications amplify the ~1e-16 rounding of the two routes
// by at most 4.1^5 ~ 1.2e3: ~1e-13 per step with O(1) entries. 1e-11 leaves a margin over a
// few steps; a missing square or a wrong gain changes entries by more than 1e-3.
constexpr double kKaonTolerance = 1e-11;

struct KaonSettings {
  double eta = 0.02, mu = 0.95, gain = 4.1, divisor = 1.175, weight_decay = 0.0;
  int iterations = 5;
};

void check_against_oracle(const std::string& params_yaml, const KaonSettings& s, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("kaon", params_yaml);
  optimizer->initialize(kKaonBlocks);
  std::vector<Matrix> w = kaon_initial(), expected = kaon_initial();
  std::vector<Matrix> buffer = {Matrix::Zero(3, 2), Matrix::Zero(2, 2), Matrix::Zero(2, 3)};
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = kaon_gradient(t);
    optimizer->step(t, w, g);
    for (std::size_t b = 0; b < w.size(); ++b) {
      buffer[b] = s.mu * buffer[b] + g[b];
      expected[b] = (1 - s.eta * s.weight_decay) * expected[b] -
                    (s.eta / s.divisor) * scrambled_direction(buffer[b], s.gain, s.iterations);
    }
    REQUIRE(max_abs_diff(w, expected) <= kKaonTolerance);
  }
}

}  // namespace

TEST_CASE("kaon: defaults (mu 0.95, T 5, a 4.1, divisor 1.175) act as the scalar map on the spectrum", "[kaon]") {
  check_against_oracle("{}", KaonSettings{}, 3);
}

TEST_CASE("kaon: other constants, no momentum, weight decay", "[kaon]") {
  KaonSettings s;
  s.eta = 0.1;
  s.mu = 0.0;
  s.gain = 3.0;
  s.divisor = 2.0;
  s.iterations = 2;
  s.weight_decay = 0.5;
  check_against_oracle("{lr: 0.1, momentum: 0, gain: 3.0, divisor: 2.0, iterations: 2, weight_decay: 0.5}", s, 3);
}

TEST_CASE("kaon: zero iterations is normalized gradient descent B / (divisor ||B||_F)", "[kaon]") {
  auto optimizer = muonlab::testing::make_optimizer("kaon", "{lr: 0.1, momentum: 0, iterations: 0, divisor: 1}");
  optimizer->initialize(kKaonBlocks);
  std::vector<Matrix> w = kaon_initial(), expected = kaon_initial();
  const std::vector<Matrix> g = kaon_gradient(0);
  optimizer->step(0, w, g);
  for (std::size_t b = 0; b < w.size(); ++b) expected[b] -= 0.1 * g[b] / g[b].norm();
  // One division and one axpy: a few ulps.
  REQUIRE(max_abs_diff(w, expected) <= 1e-15);
}

TEST_CASE("kaon: a unit singular value of the normalized buffer is mapped to zero", "[kaon]") {
  // A rank-one gradient normalizes to u v^T with s = 1, a root of (1 - s^2): no step at all
  // (up to rounding), one of the map's documented peculiarities.
  auto optimizer = muonlab::testing::make_optimizer("kaon", "{lr: 1, momentum: 0}");
  optimizer->initialize({{"X", 3, 2, ""}});
  Eigen::Vector3d u(1.0, 2.0, -2.0);
  Eigen::Vector2d v(3.0, 4.0);
  std::vector<Matrix> w = {Matrix::Zero(3, 2)};
  optimizer->step(0, w, {Matrix(u * v.transpose())});
  // (I - X X^T) X is rounding-sized (~1e-16) after normalization; each further application
  // multiplies such a tiny component by at most a = 4.1, so X_5 <= 4.1^5 * few 1e-16 ~ 1e-12
  // (a step of an unmapped s = 1 would be 1 / 1.175 ~ 0.85).
  REQUIRE(w[0].cwiseAbs().maxCoeff() <= 1e-11);
}

TEST_CASE("kaon: two instances fed the same gradients produce bit-identical iterates", "[kaon]") {
  const std::string params = "{lr: 0.05, momentum: 0.8, iterations: 3, schedule: geometric, decay: 0.9}";
  optim_test::require_identical_instances("kaon", params, kKaonBlocks, kaon_initial(),
                                          optim_test::fixed_sequence(kaon_gradient), 4, 7);
}
