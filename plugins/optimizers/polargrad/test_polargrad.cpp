// polargrad (orthogonalizer: svd) against the reference update written with plain Eigen:
//   momentum first: M = b M + (1-b) G;  U = U V^T of M (JacobiSVD);  nu = sum of singular values of M
//   polar first:    U = polar(G);  nu = ||G||_*;  M = b M + (1-b) U
//   W <- (1 - eta wd) W - eta nu U   (momentum first)   or   - eta nu M   (polar first).
// The oracle takes nu as the nuclear norm from the singular values, not as <M, U>: the two
// agree for an exact polar factor, so this also checks the plugin's inner product.
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

const std::vector<BlockSpec> kPolarBlocks = optim_test::tall_square_wide_blocks();

std::vector<Matrix> polar_initial() { return optim_test::three_block_initial(); }

// Well-conditioned gradients (singular values in [0.5, 1.5] c_b, see test_muon.cpp).
std::vector<Matrix> polar_gradient(int t) { return optim_test::perturbed_identity_gradients(kPolarBlocks, t); }

double nuclear_norm(const Matrix& m) { return Eigen::JacobiSVD<Matrix>(m).singularValues().sum(); }

struct PolarSettings {
  std::function<double(int)> eta = [](int) { return 0.02; };
  double momentum = 0.95, weight_decay = 0.0;
  bool polar_first = false;
};

class PolarOracle {
 public:
  explicit PolarOracle(PolarSettings s) : s_(std::move(s)) {
    for (const BlockSpec& b : kPolarBlocks) m_.push_back(Matrix::Zero(b.rows, b.cols));
  }
  // Returns the sum of nu over blocks (the "nuclear_norm" diagnostic).
  double step(int t, std::vector<Matrix>& w, const std::vector<Matrix>& g) {
    const double eta = s_.eta(t);
    double total = 0.0;
    for (std::size_t b = 0; b < w.size(); ++b) {
      Matrix direction;
      double nu = 0.0;
      if (s_.polar_first) {
        nu = nuclear_norm(g[b]);
        m_[b] = s_.momentum * m_[b] + (1 - s_.momentum) * muonlab::testing::exact_polar(g[b]);
        direction = m_[b];
      } else {
        m_[b] = s_.momentum * m_[b] + (1 - s_.momentum) * g[b];
        nu = nuclear_norm(m_[b]);
        direction = muonlab::testing::exact_polar(m_[b]);
      }
      w[b] = (1 - eta * s_.weight_decay) * w[b] - eta * nu * direction;
      total += nu;
    }
    return total;
  }

 private:
  PolarSettings s_;
  std::vector<Matrix> m_;
};

// Polar factors of inputs with condition number <= 3 agree to ~1e-15 between two SVDs, and
// nu = <M, U> equals the sum of singular values to the same relative accuracy; nu <= 8 and
// eta <= 0.1 make each step's update O(1), so a few steps agree to ~1e-14. 1e-12 leaves a
// margin; a wrong nu (e.g. the Frobenius norm) changes entries by more than 1e-3.
constexpr double kPolarTolerance = 1e-12;

void check_polargrad_against_formula(const std::string& params_yaml, const PolarSettings& settings, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("polargrad", params_yaml);
  REQUIRE(optimizer->diagnostics().size() == 2);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  REQUIRE(optimizer->diagnostics()[1].name == "nuclear_norm");
  optimizer->initialize(kPolarBlocks);
  PolarOracle oracle(settings);
  std::vector<Matrix> w = polar_initial(), expected = polar_initial();
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = polar_gradient(t);
    optimizer->step(t, w, g);
    const double nu = oracle.step(t, expected, g);
    REQUIRE(max_abs_diff(w, expected) <= kPolarTolerance);
    double values[2] = {0.0, 0.0};
    optimizer->read_diagnostics(values);
    REQUIRE(values[0] == Approx(settings.eta(t)).epsilon(1e-15));
    REQUIRE(values[1] == Approx(nu).epsilon(1e-13));
  }
}

}  // namespace

TEST_CASE("polargrad: defaults (lr 0.02, EMA momentum 0.95, momentum first), three steps", "[polargrad]") {
  check_polargrad_against_formula("{}", PolarSettings{}, 3);
}

TEST_CASE("polargrad: momentum 0 is PolarSGD, W <- W - eta ||G||_* msign(G)", "[polargrad]") {
  PolarSettings s;
  s.eta = [](int) { return 0.1; };
  s.momentum = 0.0;
  check_polargrad_against_formula("{lr: 0.1, momentum: 0}", s, 3);
}

TEST_CASE("polargrad: polar first averages the polar factors and scales by ||G_t||_*", "[polargrad]") {
  PolarSettings s;
  s.eta = [](int) { return 0.05; };
  s.momentum = 0.6;
  s.polar_first = true;
  check_polargrad_against_formula("{lr: 0.05, momentum: 0.6, polar_first: true}", s, 4);
}

TEST_CASE("polargrad: decoupled weight decay with a geometric schedule", "[polargrad]") {
  PolarSettings s;
  s.eta = [](int t) { return 0.08 * std::pow(0.5, t); };
  s.momentum = 0.5;
  s.weight_decay = 0.5;
  check_polargrad_against_formula("{lr: 0.08, schedule: geometric, decay: 0.5, momentum: 0.5, weight_decay: 0.5}", s,
                                  3);
}

TEST_CASE("polargrad: unlike Muon, the step scales with the gradient", "[polargrad]") {
  // nu(c G) msign(c G) = c nu(G) msign(G): the displacement is linear in the gradient's scale.
  auto plain = muonlab::testing::make_optimizer("polargrad", "{lr: 0.1, momentum: 0}");
  auto scaled = muonlab::testing::make_optimizer("polargrad", "{lr: 0.1, momentum: 0}");
  plain->initialize(kPolarBlocks);
  scaled->initialize(kPolarBlocks);
  std::vector<Matrix> w1 = polar_initial(), w2 = polar_initial();
  std::vector<Matrix> g = polar_gradient(0);
  plain->step(0, w1, g);
  for (Matrix& block : g) block *= 3.0;
  scaled->step(0, w2, g);
  for (std::size_t b = 0; b < w1.size(); ++b) {
    const Matrix step1 = w1[b] - polar_initial()[b], step3 = w2[b] - polar_initial()[b];
    // Same rounding argument as kPolarTolerance, relative to steps of size O(1).
    REQUIRE((step3 - 3.0 * step1).cwiseAbs().maxCoeff() <= kPolarTolerance);
  }
}

TEST_CASE("polargrad: a zero gradient gives nu = 0 and no step, in both orders", "[polargrad]") {
  const std::vector<Matrix> zero = {Matrix::Zero(3, 2), Matrix::Zero(2, 2), Matrix::Zero(2, 3)};
  for (const char* params : {"{}", "{polar_first: true}"}) {
    INFO(params);
    auto optimizer = muonlab::testing::make_optimizer("polargrad", params);
    optimizer->initialize(kPolarBlocks);
    std::vector<Matrix> w = polar_initial();
    for (int t = 0; t < 3; ++t) optimizer->step(t, w, zero);
    REQUIRE(max_abs_diff(w, polar_initial()) == 0.0);
    double values[2] = {1.0, 1.0};
    optimizer->read_diagnostics(values);
    REQUIRE(values[1] == 0.0);
  }
}

TEST_CASE("polargrad: two instances fed the same gradients produce bit-identical iterates", "[polargrad]") {
  const std::string params = "{lr: 0.05, momentum: 0.9, weight_decay: 0.1, schedule: cosine, horizon: 3, warmup: 1}";
  optim_test::require_identical_instances("polargrad", params, kPolarBlocks, polar_initial(),
                                          optim_test::fixed_sequence(polar_gradient), 5);
}
