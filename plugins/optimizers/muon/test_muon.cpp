// muon (orthogonalizer: svd) against hand-computed steps written with plain Eigen:
//   M = b M + (1-b) G;  N = (1-b) G + b M (nesterov) or M;  O = U V^T of N (JacobiSVD);
//   W <- (1 - eta_t wd) W - eta_t s O,  per block, with the same eta_t for every block.
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

// Tall, square and wide blocks, so that every scaling rule gives distinct factors.
const std::vector<BlockSpec> kMuonBlocks = optim_test::tall_square_wide_blocks();

std::vector<Matrix> muon_initial() { return optim_test::three_block_initial(); }

// G_t = c_b (I_{m x n} + 0.2 P_t) with |P_t(i,j)| <= 1, so ||0.2 P_t||_2 <= 0.2 sqrt(6) < 0.5
// and every gradient (and every EMA of them) has singular values in [0.5, 1.5] c_b:
// well conditioned, so its polar factor is unique and stable.
std::vector<Matrix> muon_gradient(int t) { return optim_test::perturbed_identity_gradients(kMuonBlocks, t); }

// The oracle polar factor U V^T from Eigen's JacobiSVD (independent of the svd plugin).
Matrix polar_factor(const Matrix& n) {
  Eigen::JacobiSVD<Matrix> svd(n, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd& s = svd.singularValues();
  // The tolerances below assume a well-conditioned input (see muon_gradient).
  REQUIRE(s.minCoeff() > 0.1 * s.maxCoeff());
  return svd.matrixU() * svd.matrixV().transpose();
}

struct MuonSettings {
  std::function<double(int)> eta;               // eta_t
  std::vector<double> scale = {1.0, 1.0, 1.0};  // s per block, written out by hand
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

class MuonOracle {
 public:
  explicit MuonOracle(MuonSettings s) : s_(std::move(s)) {
    for (const BlockSpec& b : kMuonBlocks) m_.push_back(Matrix::Zero(b.rows, b.cols));
  }
  void step(int t, std::vector<Matrix>& w, const std::vector<Matrix>& g) {
    const double eta = s_.eta(t);
    for (std::size_t b = 0; b < w.size(); ++b) {
      Matrix n = g[b];
      if (s_.momentum > 0) {
        m_[b] = s_.momentum * m_[b] + (1 - s_.momentum) * g[b];
        n = s_.nesterov ? Matrix((1 - s_.momentum) * g[b] + s_.momentum * m_[b]) : m_[b];
      }
      w[b] = (1 - eta * s_.weight_decay) * w[b] - eta * s_.scale[b] * polar_factor(n);
    }
  }

 private:
  MuonSettings s_;
  std::vector<Matrix> m_;
};

// Two backward-stable SVDs of an input with condition number <= 3 give polar factors that
// agree to a few times kappa * eps_machine ~ 1e-15 per step; with eta * s <= 1 and W = O(1),
// a handful of steps stays near 1e-14. 1e-12 leaves a wide margin without hiding a wrong
// formula (a wrong eta, s, momentum or decay changes entries by >= 1e-3).
constexpr double kMuonTolerance = 1e-12;

void check_muon_against_formula(const std::string& params_yaml, const MuonSettings& settings, int steps) {
  auto optimizer = muonlab::testing::make_optimizer("muon", params_yaml);
  REQUIRE(optimizer->diagnostics().size() == 1);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  REQUIRE(optimizer->diagnostics()[0].unit == "1");
  optimizer->initialize(kMuonBlocks);
  MuonOracle oracle(settings);
  std::vector<Matrix> w = muon_initial(), expected = muon_initial();
  for (int t = 0; t < steps; ++t) {
    const std::vector<Matrix> g = muon_gradient(t);
    optimizer->step(t, w, g);
    oracle.step(t, expected, g);
    REQUIRE(max_abs_diff(w, expected) <= kMuonTolerance);
    double used = 0.0;
    optimizer->read_diagnostics(&used);
    REQUIRE(used == Approx(settings.eta(t)).epsilon(1e-15));
  }
}

MuonSettings constant_step(double eta) {
  MuonSettings s;
  s.eta = [eta](int) { return eta; };
  return s;
}

MuonSettings geometric_step(double lr, double decay) {
  MuonSettings s;
  s.eta = [lr, decay](int t) { return lr * std::pow(decay, t); };
  return s;
}

}  // namespace

TEST_CASE("muon: simplified Muon, constant schedule, W <- W - eta U V^T per block", "[muon]") {
  check_muon_against_formula("{schedule: constant, lr: 0.05}", constant_step(0.05), 3);
}

TEST_CASE("muon: defaults are simplified Muon with geometric eta_t = 0.1 * 0.9^t", "[muon]") {
  check_muon_against_formula("{}", geometric_step(0.1, 0.9), 4);
}

TEST_CASE("muon: geometric schedule with explicit lr and decay", "[muon]") {
  check_muon_against_formula("{lr: 0.4, decay: 0.5}", geometric_step(0.4, 0.5), 4);
}

TEST_CASE("muon: list schedule uses lr_list[t] and holds the last value", "[muon]") {
  MuonSettings s;
  s.eta = [](int t) { return t == 0 ? 0.3 : t == 1 ? 0.2 : 0.1; };
  check_muon_against_formula("{schedule: list, lr_list: [0.3, 0.2, 0.1]}", s, 5);
}

TEST_CASE("muon: cosine schedule from lr to final_fraction * lr over horizon steps, then held", "[muon]") {
  // eta_t = lr (f + (1 - f) (1 + cos(pi min(t, H) / H)) / 2), written out here for H = 3.
  MuonSettings s;
  const double pi = std::acos(-1.0);
  s.eta = [pi](int t) {
    const double progress = std::min(t, 3) / 3.0;
    return 0.2 * (0.1 + 0.9 * 0.5 * (1.0 + std::cos(pi * progress)));
  };
  check_muon_against_formula("{schedule: cosine, lr: 0.2, horizon: 3, final_fraction: 0.1}", s, 5);
}

TEST_CASE("muon: cosine schedule values at its ends are lr and final_fraction * lr", "[muon]") {
  auto optimizer =
      muonlab::testing::make_optimizer("muon", "{schedule: cosine, lr: 0.4, horizon: 2, final_fraction: 0.25}");
  optimizer->initialize(kMuonBlocks);
  std::vector<Matrix> w = muon_initial();
  const double expected[] = {0.4, 0.25 * 0.4 + 0.75 * 0.4 * 0.5, 0.1, 0.1};  // cos(pi/2) = 0 at t = 1
  for (int t = 0; t < 4; ++t) {
    optimizer->step(t, w, muon_gradient(t));
    double used = 0.0;
    optimizer->read_diagnostics(&used);
    // cos(pi) = -1 exactly in double and cos(pi/2) ~ 6e-17: a few ulps of 0.4.
    REQUIRE(used == Approx(expected[t]).epsilon(1e-15).margin(1e-16));
  }
}

TEST_CASE("muon: linear warmup eta_t = base(0) (t+1)/(W+1), then the base schedule from its start", "[muon]") {
  MuonSettings s;
  s.eta = [](int t) { return t < 2 ? 0.3 * (t + 1) / 3.0 : 0.3 * std::pow(0.5, t - 2); };
  check_muon_against_formula("{schedule: geometric, lr: 0.3, decay: 0.5, warmup: 2}", s, 5);
}

TEST_CASE("muon: warmup composes with cosine and with list", "[muon]") {
  MuonSettings cosine;
  const double pi = std::acos(-1.0);
  cosine.eta = [pi](int t) {
    if (t < 3) return 0.1 * (t + 1) / 4.0;
    return 0.1 * 0.5 * (1.0 + std::cos(pi * std::min(t - 3, 2) / 2.0));
  };
  check_muon_against_formula("{schedule: cosine, lr: 0.1, horizon: 2, warmup: 3}", cosine, 6);

  MuonSettings list;
  list.eta = [](int t) { return t == 0 ? 0.3 / 2.0 : t == 1 ? 0.3 : t == 2 ? 0.2 : 0.1; };
  check_muon_against_formula("{schedule: list, lr_list: [0.3, 0.2, 0.1], warmup: 1}", list, 5);
}

TEST_CASE("muon: schedule list with an empty lr_list is refused at creation", "[muon]") {
  REQUIRE_THROWS_WITH(muonlab::testing::make_optimizer("muon", "{schedule: list}"), Catch::Contains("lr_list"));
}

TEST_CASE("muon: EMA momentum without Nesterov orthogonalizes M_t", "[muon]") {
  MuonSettings s = constant_step(0.1);
  s.momentum = 0.8;
  check_muon_against_formula("{schedule: constant, lr: 0.1, momentum: 0.8}", s, 4);
}

TEST_CASE("muon: Nesterov orthogonalizes (1-beta) G_t + beta M_t", "[muon]") {
  MuonSettings s = constant_step(0.1);
  s.momentum = 0.8;
  s.nesterov = true;
  check_muon_against_formula("{schedule: constant, lr: 0.1, momentum: 0.8, nesterov: true}", s, 4);
}

TEST_CASE("muon: shape scaling s = sqrt(max(1, m/n))", "[muon]") {
  MuonSettings s = constant_step(0.1);
  s.scale = {std::sqrt(1.5), 1.0, 1.0};  // 3x2, 2x2, 2x3
  check_muon_against_formula("{schedule: constant, lr: 0.1, scaling: shape}", s, 3);
}

TEST_CASE("muon: rms scaling s = 0.2 sqrt(max(m, n))", "[muon]") {
  MuonSettings s = constant_step(0.1);
  s.scale = {0.2 * std::sqrt(3.0), 0.2 * std::sqrt(2.0), 0.2 * std::sqrt(3.0)};
  check_muon_against_formula("{schedule: constant, lr: 0.1, scaling: rms}", s, 3);
}

TEST_CASE("muon: decoupled weight decay W <- (1 - eta_t wd) W uses eta_t, not s eta_t", "[muon]") {
  MuonSettings s = geometric_step(0.2, 0.5);
  s.scale = {0.2 * std::sqrt(3.0), 0.2 * std::sqrt(2.0), 0.2 * std::sqrt(3.0)};
  s.weight_decay = 0.5;
  check_muon_against_formula("{lr: 0.2, decay: 0.5, weight_decay: 0.5, scaling: rms}", s, 3);
}

TEST_CASE("muon: momentum, Nesterov, scaling and weight decay together", "[muon]") {
  MuonSettings s = geometric_step(0.3, 0.8);
  s.scale = {std::sqrt(1.5), 1.0, 1.0};
  s.momentum = 0.9;
  s.nesterov = true;
  s.weight_decay = 0.2;
  check_muon_against_formula("{lr: 0.3, decay: 0.8, momentum: 0.9, nesterov: true, scaling: shape, weight_decay: 0.2}",
                             s, 5);
}

TEST_CASE("muon: a zero gradient leaves W unchanged", "[muon]") {
  const std::vector<Matrix> zero = {Matrix::Zero(3, 2), Matrix::Zero(2, 2), Matrix::Zero(2, 3)};
  for (const char* params : {"{}", "{momentum: 0.9}", "{momentum: 0.9, nesterov: true, scaling: rms}"}) {
    INFO(params);
    auto optimizer = muonlab::testing::make_optimizer("muon", params);
    optimizer->initialize(kMuonBlocks);
    std::vector<Matrix> w = muon_initial();
    for (int t = 0; t < 3; ++t) optimizer->step(t, w, zero);
    // msign(0) = 0 exactly, and W - eta * s * 0 is W bit for bit.
    REQUIRE(max_abs_diff(w, muon_initial()) == 0.0);
  }
}

TEST_CASE("muon: a rank-1 gradient moves only its own direction, by eta", "[muon]") {
  // G = 3 u v^T has msign(G) = u v^T (docs/algorithms.md 2.6): the update is eta u v^T.
  Eigen::Vector3d u(1.0 / 3, 2.0 / 3, 2.0 / 3);
  Eigen::Vector2d v(0.6, 0.8);
  const Matrix rank_one = u * v.transpose();
  auto optimizer = muonlab::testing::make_optimizer("muon", "{schedule: constant, lr: 0.25}");
  optimizer->initialize({kMuonBlocks[0]});
  std::vector<Matrix> w = {muon_initial()[0]};
  optimizer->step(0, w, {Matrix(3.0 * rank_one)});
  // u, v are unit vectors to rounding; the svd routine must drop the rounding-level second
  // singular value, leaving u v^T to ~1e-15.
  REQUIRE((w[0] - (muon_initial()[0] - 0.25 * rank_one)).cwiseAbs().maxCoeff() <= kMuonTolerance);
}

TEST_CASE("muon: simplified Muon ignores the gradient's scale", "[muon]") {
  // msign(c G) = msign(G) for c > 0 (docs/theory.md 1.1).
  auto plain = muonlab::testing::make_optimizer("muon", "{}");
  auto scaled = muonlab::testing::make_optimizer("muon", "{}");
  plain->initialize(kMuonBlocks);
  scaled->initialize(kMuonBlocks);
  std::vector<Matrix> w1 = muon_initial(), w2 = muon_initial();
  for (int t = 0; t < 3; ++t) {
    std::vector<Matrix> g = muon_gradient(t);
    plain->step(t, w1, g);
    for (Matrix& block : g) block *= 1e3;
    scaled->step(t, w2, g);
  }
  REQUIRE(max_abs_diff(w1, w2) <= kMuonTolerance);
}

TEST_CASE("muon: two instances fed the same gradients produce bit-identical iterates", "[muon]") {
  const std::string params = "{momentum: 0.9, nesterov: true, weight_decay: 0.1, scaling: shape}";
  optim_test::require_identical_instances("muon", params, kMuonBlocks, muon_initial(),
                                          optim_test::fixed_sequence(muon_gradient), 5);
}
