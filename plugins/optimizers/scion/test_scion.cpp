// scion (orthogonalizer: svd) against the reference update written with plain Eigen:
//   D = (1 - alpha) D + alpha G (alpha < 1);  d = radius * c * LMO(D), LMO = U V^T (JacobiSVD)
//   or sign(D);  W <- (1 - eta) W - eta d (constrained) or W - eta d (unconstrained).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
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

// Tall, square and wide blocks, so every LMO factor differs per block.
const std::vector<BlockSpec> kScionBlocks = optim_test::tall_square_wide_blocks();

std::vector<Matrix> scion_initial() { return optim_test::three_block_initial(); }

// G_t = c_b (I + 0.2 P_t), |P_t(i,j)| <= 1: singular values in [0.5, 1.5] c_b (see
// test_muon.cpp), so every polar factor here is well conditioned; averages of them too.
std::vector<Matrix> scion_gradient(int t) { return optim_test::perturbed_identity_gradients(kScionBlocks, t); }

Matrix sign_of(const Matrix& m) {
  return m.unaryExpr([](double x) { return static_cast<double>((x > 0) - (x < 0)); });
}

struct ScionSettings {
  std::function<double(int)> eta = [](int) { return 1e-3; };
  double alpha = 1.0, radius = 1.0;
  bool sign = false, unconstrained = false;
  std::vector<double> factor = {std::sqrt(1.5), 1.0, std::sqrt(2.0 / 3.0)};  // c per block, by hand
};

class ScionOracle {
 public:
  explicit ScionOracle(ScionSettings s) : s_(std::move(s)) {
    for (const BlockSpec& b : kScionBlocks) d_.push_back(Matrix::Zero(b.rows, b.cols));
  }
  void step(int t, std::vector<Matrix>& w, const std::vector<Matrix>& g) {
    const double eta = s_.eta(t);
    for (std::size_t b = 0; b < w.size(); ++b) {
      d_[b] = s_.alpha < 1 ? Matrix((1 - s_.alpha) * d_[b] + s_.alpha * g[b]) : g[b];
      const Matrix lmo = s_.sign ? sign_of(d_[b]) : muonlab::testing::exact_polar(d_[b]);
      const Matrix d = s_.radius * s_.factor[b] * lmo;
      w[b] = s_.unconstrained ? Matrix(w[b] - eta * d) : Matrix((1 - eta) * w[b] - eta * d);
    }
  }

 private:
  ScionSettings s_;
  std::vector<Matrix> d_;
};

// Polar factors of inputs with condition number <= 3 from two backward-stable SVDs agree to
// ~1e-15; multiplied by eta * radius * c <= 0.5 and summed over a few steps on O(1) entries,
// the iterates agree to ~1e-14. 1e-12 leaves a margin; any wrong factor changes entries by
// more than 1e-4.
constexpr double kScionTolerance = 1e-12;

void check_scion_against_formula(const std::string& params_yaml, const ScionSettings& settings, int steps) {
  ScionOracle oracle(settings);
  optim_test::require_matches_oracle("scion", params_yaml, kScionBlocks, scion_initial(), scion_gradient, oracle,
                                     settings.eta, steps, kScionTolerance);
}

}  // namespace

TEST_CASE("scion: defaults are the constrained spectral step with radius 1, lr 1e-3, no averaging", "[scion]") {
  check_scion_against_formula("{}", ScionSettings{}, 3);
}

TEST_CASE("scion: averaging with alpha, a radius and the unconstrained step", "[scion]") {
  ScionSettings s;
  s.eta = [](int) { return 0.01; };
  s.alpha = 0.3;
  s.radius = 5.0;
  s.unconstrained = true;
  check_scion_against_formula("{lr: 0.01, alpha: 0.3, radius: 5, unconstrained: true}", s, 4);
}

TEST_CASE("scion: constrained averaging with a geometric schedule", "[scion]") {
  ScionSettings s;
  s.eta = [](int t) { return 0.2 * std::pow(0.5, t); };
  s.alpha = 0.1;
  s.radius = 2.0;
  check_scion_against_formula("{lr: 0.2, schedule: geometric, decay: 0.5, alpha: 0.1, radius: 2}", s, 4);
}

TEST_CASE("scion: spectral factors sqrt(m) (not normalized) and max(1, sqrt(m/n))", "[scion]") {
  ScionSettings plain;
  plain.eta = [](int) { return 0.05; };
  plain.factor = {std::sqrt(3.0), std::sqrt(2.0), std::sqrt(2.0)};
  check_scion_against_formula("{lr: 0.05, normalized: false}", plain, 3);

  ScionSettings clamped;
  clamped.eta = [](int) { return 0.05; };
  clamped.factor = {std::sqrt(1.5), 1.0, 1.0};
  check_scion_against_formula("{lr: 0.05, max_scale: true}", clamped, 3);
}

TEST_CASE("scion: sign LMO sign(D) / n, normalized and not", "[scion]") {
  ScionSettings s;
  s.eta = [](int) { return 0.1; };
  s.sign = true;
  s.alpha = 0.5;
  s.factor = {0.5, 0.5, 1.0 / 3.0};  // 1 / d_in = 1 / cols
  check_scion_against_formula("{lr: 0.1, lmo: sign, alpha: 0.5}", s, 3);

  s.factor = {1.0, 1.0, 1.0};
  s.radius = 3.0;
  check_scion_against_formula("{lr: 0.1, lmo: sign, alpha: 0.5, normalized: false, radius: 3}", s, 3);
}

TEST_CASE("scion: a zero gradient shrinks W by (1 - eta) when constrained, and leaves it when not", "[scion]") {
  const std::vector<Matrix> zero = {Matrix::Zero(3, 2), Matrix::Zero(2, 2), Matrix::Zero(2, 3)};
  auto constrained = muonlab::testing::make_optimizer("scion", "{lr: 0.25}");
  auto unconstrained = muonlab::testing::make_optimizer("scion", "{lr: 0.25, unconstrained: true, alpha: 0.5}");
  constrained->initialize(kScionBlocks);
  unconstrained->initialize(kScionBlocks);
  std::vector<Matrix> w1 = scion_initial(), w2 = scion_initial();
  constrained->step(0, w1, zero);
  unconstrained->step(0, w2, zero);
  // msign(0) = 0 exactly; 0.75 W - 0 is exact for these entries up to one rounding.
  for (std::size_t b = 0; b < w1.size(); ++b) REQUIRE(w1[b] == Matrix(0.75 * scion_initial()[b]));
  REQUIRE(max_abs_diff(w2, scion_initial()) == 0.0);
}

TEST_CASE("scion: constrained steps keep W inside the spectral ball of radius rho * sqrt(m/n)", "[scion]") {
  // The constrained step is a convex combination (1 - eta) W + eta (-rho s U V^T) of two points
  // of the ball {||W||_2 <= rho s}, whatever the gradients (conditional gradient method).
  auto optimizer = muonlab::testing::make_optimizer("scion", "{lr: 0.3, radius: 2, alpha: 0.5}");
  optimizer->initialize(kScionBlocks);
  std::vector<Matrix> w = {Matrix::Zero(3, 2), Matrix::Zero(2, 2), Matrix::Zero(2, 3)};
  const double ball[] = {2.0 * std::sqrt(1.5), 2.0, 2.0 * std::sqrt(2.0 / 3.0)};
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int t = 0; t < 20; ++t) {
    std::vector<Matrix> g;
    for (const BlockSpec& b : kScionBlocks) {
      Matrix m(b.rows, b.cols);
      for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = normal(rng);
      g.push_back(m);
    }
    optimizer->step(t, w, g);
    for (std::size_t b = 0; b < w.size(); ++b) {
      // Rounding can exceed the exact bound by a few ulps of rho s.
      REQUIRE(Eigen::JacobiSVD<Matrix>(w[b]).singularValues()(0) <= ball[b] * (1 + 1e-14));
    }
  }
}

TEST_CASE("scion: two instances fed the same gradients produce bit-identical iterates", "[scion]") {
  const std::string params = "{lr: 0.05, alpha: 0.2, radius: 3, schedule: cosine, horizon: 4}";
  optim_test::require_identical_instances("scion", params, kScionBlocks, scion_initial(),
                                          optim_test::fixed_sequence(scion_gradient), 5);
}
