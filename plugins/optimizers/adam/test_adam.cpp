// adam against the bias-corrected formula of docs/algorithms.md 2.4, evaluated in the test with
// plain Eigen arrays:
//   g = G + wd W;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   W -= lr_t * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps),   t = 1, 2, ...
#include <catch2/catch.hpp>

#include <algorithm>
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

const std::vector<BlockSpec> kAdamBlocks = {{"X", 3, 2, ""}, {"Y", 2, 2, ""}};

std::vector<Matrix> adam_initial() {
  Matrix x(3, 2), y(2, 2);
  x << 0.5, -1.0, 0.25, 0.75, -0.5, 1.5;
  y << 1.0, 0.2, -0.3, 0.8;
  return {x, y};
}

// A fixed gradient sequence whose entries span three decades (1, 0.1, 0.01), so that eps
// and the second moment matter differently per entry, and which changes sign over time.
std::vector<Matrix> adam_gradient(int t) {
  std::vector<Matrix> g;
  for (std::size_t b = 0; b < kAdamBlocks.size(); ++b) {
    Matrix m(kAdamBlocks[b].rows, kAdamBlocks[b].cols);
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      for (Eigen::Index i = 0; i < m.rows(); ++i)
        m(i, j) = std::cos(1.3 * i + 0.7 * j + 2.1 * t + static_cast<double>(b)) * std::pow(10.0, -((i + j) % 3));
    g.push_back(m);
  }
  return g;
}

struct AdamSettings {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0, decay = 1.0;
};

// The formula, written out independently of the plugin.
class AdamOracle {
 public:
  explicit AdamOracle(const AdamSettings& s) : s_(s) {
    for (const BlockSpec& b : kAdamBlocks) {
      m_.push_back(Matrix::Zero(b.rows, b.cols));
      v_.push_back(Matrix::Zero(b.rows, b.cols));
    }
  }
  double lr_at(int iteration) const { return s_.lr * std::pow(s_.decay, iteration); }
  void step(int iteration, std::vector<Matrix>& w, const std::vector<Matrix>& grad) {
    const int t = iteration + 1;
    for (std::size_t b = 0; b < w.size(); ++b) {
      const Eigen::ArrayXXd g = grad[b].array() + s_.weight_decay * w[b].array();
      m_[b] = (s_.beta1 * m_[b].array() + (1 - s_.beta1) * g).matrix();
      v_[b] = (s_.beta2 * v_[b].array() + (1 - s_.beta2) * g.square()).matrix();
      const Eigen::ArrayXXd m_hat = m_[b].array() / (1 - std::pow(s_.beta1, t));
      const Eigen::ArrayXXd v_hat = v_[b].array() / (1 - std::pow(s_.beta2, t));
      w[b] = (w[b].array() - lr_at(iteration) * m_hat / (v_hat.sqrt() + s_.eps)).matrix();
    }
  }

 private:
  AdamSettings s_;
  std::vector<Matrix> m_, v_;
};

// Steps the plugin and the oracle together; checks iterates and the "lr" diagnostic.
void check_adam_against_formula(const std::string& params_yaml, const AdamSettings& settings, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("adam", params_yaml);
  REQUIRE(optimizer->diagnostics().size() == 1);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  REQUIRE(optimizer->diagnostics()[0].unit == "1");
  optimizer->initialize(kAdamBlocks);
  AdamOracle oracle(settings);
  std::vector<Matrix> w = adam_initial(), expected = adam_initial();
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = adam_gradient(t);
    optimizer->step(t, w, g);
    oracle.step(t, expected, g);
    // Each entry passes through about ten rounded operations per step with relative error
    // eps_machine each; the update is at most lr * O(1) and W is O(1), so three steps stay
    // within ~1e-14. 1e-13 leaves room for a different but equivalent order of operations.
    REQUIRE(max_abs_diff(w, expected) <= 1e-13);
    double used = 0.0;
    optimizer->read_diagnostics(&used);
    REQUIRE(used == Approx(oracle.lr_at(t)).epsilon(1e-15));
  }
}

}  // namespace

TEST_CASE("adam: bias correction makes step 1 exactly lr * g / (|g| + eps)", "[adam]") {
  // On step 1, m = (1-b1) g and v = (1-b2) g^2, so m_hat = g and v_hat = g^2. Without the
  // correction the step would be lr * 0.1 g / (0.0316 |g| + eps), about 3x larger.
  auto optimizer = muonlab::testing::make_optimizer("adam", "{lr: 0.01, eps: 1e-3}");
  optimizer->initialize(kAdamBlocks);
  std::vector<Matrix> w = adam_initial();
  const std::vector<Matrix> g = adam_gradient(0);
  optimizer->step(0, w, g);
  for (std::size_t b = 0; b < w.size(); ++b) {
    const Matrix step = (0.01 * g[b].array() / (g[b].array().abs() + 1e-3)).matrix();
    const Matrix expected = adam_initial()[b] - step;
    // m_hat and sqrt(v_hat) reproduce g and |g| to a few ulps; the step is <= 0.01.
    REQUIRE((w[b] - expected).cwiseAbs().maxCoeff() <= 1e-15);
  }
}

TEST_CASE("adam: defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8), three steps", "[adam]") {
  check_adam_against_formula("{}", AdamSettings{}, 3);
}

TEST_CASE("adam: step 2 and 3 with non-default betas and a visible eps", "[adam]") {
  AdamSettings s;
  s.lr = 0.1;
  s.beta1 = 0.5;
  s.beta2 = 0.75;
  s.eps = 0.01;
  check_adam_against_formula("{lr: 0.1, beta1: 0.5, beta2: 0.75, eps: 0.01}", s, 3);
}

TEST_CASE("adam: coupled L2 weight decay g <- g + wd W", "[adam]") {
  AdamSettings s;
  s.lr = 0.05;
  s.eps = 1e-4;
  s.weight_decay = 0.3;
  check_adam_against_formula("{lr: 0.05, eps: 1e-4, weight_decay: 0.3}", s, 3);
}

TEST_CASE("adam: geometric schedule lr_t = lr * decay^t, bias correction unchanged", "[adam]") {
  AdamSettings s;
  s.lr = 0.1;
  s.decay = 0.5;
  check_adam_against_formula("{lr: 0.1, schedule: geometric, decay: 0.5}", s, 4);
}

TEST_CASE("adam: decay is ignored by the constant schedule", "[adam]") {
  AdamSettings s;
  s.lr = 0.1;
  check_adam_against_formula("{lr: 0.1, decay: 0.5}", s, 3);
}

TEST_CASE("adam: beta1 = beta2 = eps = 0 is signSGD with sign(0) = 0", "[adam]") {
  // docs/theory.md 1.4: SignGD is the b1 = b2 = 0, eps -> 0 limit of Adam.
  auto optimizer = muonlab::testing::make_optimizer("adam", "{lr: 0.25, beta1: 0, beta2: 0, eps: 0}");
  optimizer->initialize(kAdamBlocks);
  std::vector<Matrix> w = adam_initial();
  std::vector<Matrix> g = adam_gradient(0);
  g[0](1, 1) = 0.0;
  g[1](0, 0) = 0.0;
  optimizer->step(0, w, g);
  for (std::size_t b = 0; b < w.size(); ++b) {
    const Matrix sign = g[b].unaryExpr([](double x) { return static_cast<double>((x > 0) - (x < 0)); });
    // Dyadic initial values minus 0.25 * (+-1 or 0) are exact.
    REQUIRE(w[b] == adam_initial()[b] - 0.25 * sign);
  }
}

TEST_CASE("adam: two instances fed the same gradients produce bit-identical iterates", "[adam]") {
  const std::string params = "{lr: 0.05, weight_decay: 0.1, schedule: geometric, decay: 0.9}";
  optim_test::require_identical_instances("adam", params, kAdamBlocks, adam_initial(),
                                          optim_test::fixed_sequence(adam_gradient), 5);
}
