// dion against steps written out with plain Eigen: Householder QR for orth() (the plugin uses
// Gram-Schmidt; the two agree up to column signs, and every quantity the iterate depends on,
// P R^T, P Q^T and the next step's span, is invariant under those signs), and the documented
// initial Q_0 ~ N(0, 1) from std::mt19937_64(seed), block after block, column-major.
#include <catch2/catch.hpp>

#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"

#include "../common/optimizer_test_support.hpp"

using muonlab::BlockSpec;
using muonlab::Matrix;

namespace {

namespace optim_test = muonlab::optim_test;
using optim_test::max_abs_diff;

const std::vector<BlockSpec> kBlocks = {{"tall", 5, 3, ""}, {"wide", 3, 4, ""}};

std::vector<Matrix> initial_point() {
  std::vector<Matrix> w;
  for (const BlockSpec& b : kBlocks) {
    Matrix x(b.rows, b.cols);
    for (Eigen::Index j = 0; j < x.cols(); ++j)
      for (Eigen::Index i = 0; i < x.rows(); ++i) x(i, j) = std::sin(0.3 + 1.1 * i - 0.6 * j);
    w.push_back(x);
  }
  return w;
}

// Generic gradients (distinct singular values, full rank) that change from step to step.
std::vector<Matrix> gradient(int t) {
  std::vector<Matrix> g;
  for (std::size_t b = 0; b < kBlocks.size(); ++b) {
    Matrix x(kBlocks[b].rows, kBlocks[b].cols);
    for (Eigen::Index j = 0; j < x.cols(); ++j)
      for (Eigen::Index i = 0; i < x.rows(); ++i)
        x(i, j) = std::cos(0.9 * i * (j + 1) + 1.7 * t + static_cast<double>(b)) + (i == j ? 1.5 : 0.0);
    g.push_back(x);
  }
  return g;
}

struct Settings {
  double lr = 0.1, mu = 0.6, wd = 0.05;
  int rank = 2;
};

class DionOracle {
 public:
  DionOracle(const Settings& s, std::uint64_t seed) : s_(s) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (const BlockSpec& b : kBlocks) {
      const Eigen::Index r =
          s.rank == 0 ? std::min(b.rows, b.cols) : std::min<Eigen::Index>(s.rank, std::min(b.rows, b.cols));
      Matrix q(b.cols, r);
      for (Eigen::Index j = 0; j < r; ++j)
        for (Eigen::Index i = 0; i < b.cols; ++i) q(i, j) = normal(rng);
      q_.push_back(q);
      m_.push_back(Matrix::Zero(b.rows, b.cols));
    }
  }
  void step(std::vector<Matrix>& w, const std::vector<Matrix>& g) {
    for (std::size_t b = 0; b < w.size(); ++b) {
      const Matrix big_b = m_[b] + g[b];
      const Matrix bq = big_b * q_[b];
      Eigen::HouseholderQR<Matrix> qr(bq);
      const Matrix p = qr.householderQ() * Matrix::Identity(bq.rows(), bq.cols());
      const Matrix r = big_b.transpose() * p;
      m_[b] = big_b - (1 - s_.mu) * p * r.transpose();
      for (Eigen::Index j = 0; j < r.cols(); ++j) q_[b].col(j) = r.col(j) / (r.col(j).norm() + 1e-8);
      const double s = std::sqrt(static_cast<double>(kBlocks[b].rows) / kBlocks[b].cols);  // spectral
      w[b] = (1 - s_.lr * s_.wd) * w[b] - s_.lr * s * p * q_[b].transpose();
    }
  }

 private:
  Settings s_;
  std::vector<Matrix> q_, m_;
};

std::string yaml(const Settings& s) {
  return "{lr: " + std::to_string(s.lr) + ", momentum: " + std::to_string(s.mu) +
         ", weight_decay: " + std::to_string(s.wd) + ", rank: " + std::to_string(s.rank) + "}";
}

std::vector<Matrix> run(const std::string& params, std::uint64_t seed, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("dion", params, seed);
  optimizer->initialize(kBlocks);
  std::vector<Matrix> w = initial_point();
  for (int t = 0; t < steps; ++t) optimizer->step(t, w, gradient(t));
  return w;
}

}  // namespace

TEST_CASE("dion: three steps match the power iteration with error feedback", "[dion]") {
  for (int rank : {1, 2, 0}) {
    CAPTURE(rank);
    Settings s;
    s.rank = rank;
    const std::uint64_t seed = 31;
    auto optimizer = muonlab::testing::make_optimizer("dion", yaml(s), seed);
    optimizer->initialize(kBlocks);
    DionOracle oracle(s, seed);
    std::vector<Matrix> w = initial_point(), expected = initial_point();
    for (int t = 0; t < 3; ++t) {
      CAPTURE(t);
      const std::vector<Matrix> g = gradient(t);
      optimizer->step(t, w, g);
      oracle.step(expected, g);
      // B Q has condition number O(10) here (generic Gaussian Q, full-rank B), so
      // Gram-Schmidt (CGS2) and Householder give the same P up to signs within ~1e-15
      // times that; entries are O(1) and eta s < 0.2. 1e-11 over three steps is ample,
      // while a wrong mu, eps, scale or a missing error feedback changes entries by >= 1e-3.
      REQUIRE(max_abs_diff(w, expected) < 1e-11);
    }
    double used = 0;
    optimizer->read_diagnostics(&used);
    CHECK(used == 0.1);
  }
}

TEST_CASE("dion: low rank really is low rank, full rank is not", "[dion]") {
  // One step from W0: W1 - (1 - eta wd) W0 = -eta s P Q^T has rank r.
  for (int rank : {1, 2, 0}) {
    CAPTURE(rank);
    const std::vector<Matrix> start = initial_point();
    const std::vector<Matrix> w = run("{lr: 0.1, weight_decay: 0, rank: " + std::to_string(rank) + "}", 3, 1);
    for (std::size_t b = 0; b < w.size(); ++b) {
      const Eigen::Index expected = rank == 0 ? std::min(kBlocks[b].rows, kBlocks[b].cols) : rank;
      Eigen::ColPivHouseholderQR<Matrix> qr(w[b] - start[b]);
      qr.setThreshold(1e-10);  // update entries are O(0.1); rounding leaves ~1e-17
      CHECK(qr.rank() == expected);
    }
  }
}

TEST_CASE("dion: same seed gives bit-identical iterates, another seed another Q_0", "[dion]") {
  const std::string params = "{rank: 1, lr: 0.05}";
  const std::vector<Matrix> a = run(params, 8, 4), b = run(params, 8, 4), c = run(params, 9, 4);
  CHECK(max_abs_diff(a, b) == 0.0);
  CHECK(max_abs_diff(a, c) > 1e-6);
}

TEST_CASE("dion: a zero buffer makes no step and keeps Q", "[dion]") {
  auto optimizer = muonlab::testing::make_optimizer("dion", "{weight_decay: 0, rank: 2}", 4);
  optimizer->initialize(kBlocks);
  std::vector<Matrix> w = initial_point();
  const std::vector<Matrix> zero = {Matrix::Zero(5, 3), Matrix::Zero(3, 4)};
  optimizer->step(0, w, zero);
  CHECK(max_abs_diff(w, initial_point()) == 0.0);
  // Q_0 was kept: the next real step equals the first step of a fresh instance.
  optimizer->step(1, w, gradient(0));
  auto fresh = muonlab::testing::make_optimizer("dion", "{weight_decay: 0, rank: 2}", 4);
  fresh->initialize(kBlocks);
  std::vector<Matrix> v = initial_point();
  fresh->step(0, v, gradient(0));
  CHECK(max_abs_diff(w, v) == 0.0);
}
