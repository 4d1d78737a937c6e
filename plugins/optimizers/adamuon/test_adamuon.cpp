// adamuon (orthogonalizer: svd) against the reference update written with plain Eigen:
//   M = b M + (1-b) G;  N = (1-b) G + b M (nesterov) or M;  O = U V^T of N (JacobiSVD)
//   V = b2 V + (1-b2) O^2;  P = O / (sqrt(V / (1 - b2^t)) + eps);  P *= sqrt(min(m,n)) / (||P||_F + eps)
//   W <- (1 - eta wd) W - eta s P.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "test_support.hpp"

#include "../common/optimizer_test_support.hpp"

using muonlab::BlockSpec;
using muonlab::Matrix;

namespace {

namespace optim_test = muonlab::optim_test;
using optim_test::max_abs_diff;

const std::vector<BlockSpec> kAdaMuonBlocks = optim_test::tall_square_wide_blocks();

std::vector<Matrix> adamuon_initial() { return optim_test::three_block_initial(); }

// Well-conditioned gradients (singular values in [0.5, 1.5] c_b, see test_muon.cpp). No entry
// of their polar factors is within 1e-4 of 0 (checked in the oracle), which bounds how much
// the element-wise division by sqrt(V) amplifies rounding.
std::vector<Matrix> adamuon_gradient(int t) { return optim_test::perturbed_identity_gradients(kAdaMuonBlocks, t); }

struct AdaMuonSettings {
  std::function<double(int)> eta = [](int) { return 0.02; };
  double momentum = 0.95, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
  bool nesterov = true;
  std::vector<double> scale = {0.2 * std::sqrt(3.0), 0.2 * std::sqrt(2.0),
                               0.2 * std::sqrt(3.0)};  // 0.2 sqrt(max(m, n))
};

class AdaMuonOracle {
 public:
  explicit AdaMuonOracle(AdaMuonSettings s) : s_(std::move(s)) {
    for (const BlockSpec& b : kAdaMuonBlocks) {
      m_.push_back(Matrix::Zero(b.rows, b.cols));
      v_.push_back(Matrix::Zero(b.rows, b.cols));
    }
  }
  void step(int t, std::vector<Matrix>& w, const std::vector<Matrix>& g) {
    const double eta = s_.eta(t);
    for (std::size_t b = 0; b < w.size(); ++b) {
      m_[b] = s_.momentum * m_[b] + (1 - s_.momentum) * g[b];
      const Matrix n = s_.nesterov ? Matrix((1 - s_.momentum) * g[b] + s_.momentum * m_[b]) : m_[b];
      const Matrix o = muonlab::testing::exact_polar(n);
      REQUIRE(o.cwiseAbs().minCoeff() > 1e-4);  // see adamuon_gradient
      v_[b] = (s_.beta2 * v_[b].array() + (1 - s_.beta2) * o.array().square()).matrix();
      const Eigen::ArrayXXd v_hat = v_[b].array() / (1 - std::pow(s_.beta2, t + 1));
      Matrix p = (o.array() / (v_hat.sqrt() + s_.eps)).matrix();
      p *= std::sqrt(static_cast<double>(std::min(p.rows(), p.cols()))) / (p.norm() + s_.eps);
      w[b] = (1 - eta * s_.weight_decay) * w[b] - eta * s_.scale[b] * p;
    }
  }

 private:
  AdaMuonSettings s_;
  std::vector<Matrix> m_, v_;
};

// Polar factors from two SVDs of inputs with condition number <= 3 agree to ~1e-15. The
// division by sqrt(V_hat) >= |O_ij| sqrt((1 - b2) / (1 - b2^t)) amplifies an absolute error
// in O by at most ~1.5 / min |O_ij| <= 1.5e4 (entries checked in the oracle), the Frobenius
// rescale is well conditioned, and eta s <= 0.15: each step agrees to ~3e-12 at worst, and
// in practice far better. 1e-11 covers three or four steps; a missing bias correction or a
// wrong rescale changes entries by more than 1e-4.
constexpr double kAdaMuonTolerance = 1e-11;

void check_adamuon_against_formula(const std::string& params_yaml, const AdaMuonSettings& settings, int steps) {
  AdaMuonOracle oracle(settings);
  optim_test::require_matches_oracle("adamuon", params_yaml, kAdaMuonBlocks, adamuon_initial(), adamuon_gradient,
                                     oracle, settings.eta, steps, kAdaMuonTolerance);
}

}  // namespace

TEST_CASE("adamuon: defaults (lr 0.02, beta 0.95, Nesterov, beta2 0.999, wd 0.01, rms scaling), three steps",
          "[adamuon]") {
  check_adamuon_against_formula("{}", AdaMuonSettings{}, 3);
}

TEST_CASE("adamuon: without Nesterov, shape scaling, a fast second moment and no decay", "[adamuon]") {
  AdaMuonSettings s;
  s.eta = [](int) { return 0.1; };
  s.nesterov = false;
  s.beta2 = 0.5;
  s.weight_decay = 0.0;
  s.scale = {std::sqrt(1.5), 1.0, 1.0};
  check_adamuon_against_formula("{lr: 0.1, nesterov: false, beta2: 0.5, weight_decay: 0, scaling: shape}", s, 4);
}

TEST_CASE("adamuon: momentum 0 with a list schedule", "[adamuon]") {
  AdaMuonSettings s;
  s.eta = [](int t) { return t == 0 ? 0.05 : 0.025; };
  s.momentum = 0.0;
  s.scale = {1.0, 1.0, 1.0};
  check_adamuon_against_formula("{momentum: 0, schedule: list, lr_list: [0.05, 0.025], scaling: none}", s, 3);
}

TEST_CASE("adamuon: the first step is the sign of the polar factor with RMS 0.2 eta", "[adamuon]") {
  // t = 1: V_hat = O^2, so P = O / (|O| + eps) = sign(O) up to eps / |O| <= 1e-5; after the
  // rescale ||P||_F = sqrt(min(m, n)), so ||s P||_F = 0.2 sqrt(max) sqrt(min) = 0.2 sqrt(m n).
  auto optimizer = muonlab::testing::make_optimizer("adamuon", "{lr: 0.1, weight_decay: 0}");
  optimizer->initialize(kAdaMuonBlocks);
  std::vector<Matrix> w = adamuon_initial();
  const std::vector<Matrix> g = adamuon_gradient(0);
  optimizer->step(0, w, g);
  for (std::size_t b = 0; b < w.size(); ++b) {
    const double m = static_cast<double>(w[b].rows()), n = static_cast<double>(w[b].cols());
    const Matrix step = adamuon_initial()[b] - w[b];
    const Matrix o = muonlab::testing::exact_polar(g[b]);  // N_1 = (1 - b^2) G_1: same polar factor
    const Matrix sign = o.unaryExpr([](double x) { return static_cast<double>((x > 0) - (x < 0)); });
    const Matrix expected = 0.1 * 0.2 * std::sqrt(std::max(m, n)) * std::sqrt(std::min(m, n)) / std::sqrt(m * n) * sign;
    // eps / |O| <= 1e-8 / 1e-3 relative, on steps of size <= 0.1.
    REQUIRE((step - expected).cwiseAbs().maxCoeff() <= 1e-6);
    // The eps in the rescale shrinks the norm by a relative eps / ||P|| < 1e-8.
    REQUIRE(step.norm() == Approx(0.1 * 0.2 * std::sqrt(m * n)).epsilon(1e-8));
  }
}

TEST_CASE("adamuon: a zero gradient with weight_decay 0 leaves W unchanged and finite", "[adamuon]") {
  auto optimizer = muonlab::testing::make_optimizer("adamuon", "{weight_decay: 0}");
  optimizer->initialize(kAdaMuonBlocks);
  std::vector<Matrix> w = adamuon_initial();
  const std::vector<Matrix> zero = {Matrix::Zero(3, 2), Matrix::Zero(2, 2), Matrix::Zero(2, 3)};
  // O = 0, V = 0, P = 0 / eps = 0 and 0 * sqrt(p) / eps = 0: no NaN, no step.
  for (int t = 0; t < 3; ++t) optimizer->step(t, w, zero);
  REQUIRE(max_abs_diff(w, adamuon_initial()) == 0.0);
}

TEST_CASE("adamuon: two instances fed the same gradients produce bit-identical iterates", "[adamuon]") {
  const std::string params = "{lr: 0.05, schedule: cosine, horizon: 4, warmup: 1}";
  optim_test::require_identical_instances("adamuon", params, kAdaMuonBlocks, adamuon_initial(),
                                          optim_test::fixed_sequence(adamuon_gradient), 5);
}
