// normuon (orthogonalizer: svd) against the reference update written with plain Eigen:
//   M = b M + (1-b) G;  N = (1-b) G + b M (nesterov) or M;  O = U V^T of N (JacobiSVD);  phi = ||O||_F
//   v = b2 v + (1-b2) rowmean(O^2);  P = diag(1 / (sqrt(v) + eps)) O;  P *= phi / (||P||_F + eps)
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
using muonlab::Vector;

namespace {

namespace optim_test = muonlab::optim_test;
using optim_test::max_abs_diff;

const std::vector<BlockSpec> kNorMuonBlocks = optim_test::tall_square_wide_blocks();

std::vector<Matrix> normuon_initial() { return optim_test::three_block_initial(); }

// G_t = c_b (B_b + 0.2 P_t) with |P_t(i,j)| <= 1 and B_b with orthonormal columns (or rows):
// singular values in [0.5, 1.5] c_b as in test_muon.cpp. The row-wise normalization needs
// every row of the polar factor to be substantial: rows of a square or wide polar factor have
// norm 1, and for the tall block B = [u1 u2] with u1 = (1,1,1)/sqrt3, u2 = (1,-1,0)/sqrt2
// spreads the mass over all three rows (identity-like bases leave a near-empty third row).
Matrix tall_base() {
  Matrix b(3, 2);
  const double a = 1.0 / std::sqrt(3.0), c = 1.0 / std::sqrt(2.0);
  b << a, c, a, -c, a, 0.0;
  return b;
}

std::vector<Matrix> normuon_gradient(int t) {
  const auto base = [](std::size_t b) {
    return b == 0 ? tall_base() : Matrix(Matrix::Identity(kNorMuonBlocks[b].rows, kNorMuonBlocks[b].cols));
  };
  return optim_test::perturbed_identity_gradients(kNorMuonBlocks, t, optim_test::cos_wave, base);
}

struct NorMuonSettings {
  std::function<double(int)> eta = [](int) { return 0.02; };
  double momentum = 0.95, beta2 = 0.95, eps = 1e-10, weight_decay = 0.0;
  bool nesterov = true;
  std::vector<double> scale = {std::sqrt(1.5), 1.0, 1.0};  // sqrt(max(1, m/n))
};

class NorMuonOracle {
 public:
  explicit NorMuonOracle(NorMuonSettings s) : s_(std::move(s)) {
    for (const BlockSpec& b : kNorMuonBlocks) {
      m_.push_back(Matrix::Zero(b.rows, b.cols));
      v_.push_back(Vector::Zero(b.rows));
    }
  }
  void step(int t, std::vector<Matrix>& w, const std::vector<Matrix>& g) {
    const double eta = s_.eta(t);
    for (std::size_t b = 0; b < w.size(); ++b) {
      m_[b] = s_.momentum * m_[b] + (1 - s_.momentum) * g[b];
      const Matrix n = s_.nesterov ? Matrix((1 - s_.momentum) * g[b] + s_.momentum * m_[b]) : m_[b];
      const Matrix o = muonlab::testing::exact_polar(n);
      REQUIRE(o.rowwise().norm().minCoeff() > 0.2);  // see kNorMuonTolerance
      Vector row_mean(o.rows());
      for (Eigen::Index i = 0; i < o.rows(); ++i) row_mean(i) = o.row(i).array().square().mean();
      v_[b] = s_.beta2 * v_[b] + (1 - s_.beta2) * row_mean;
      Matrix p = (v_[b].array().sqrt() + s_.eps).inverse().matrix().asDiagonal() * o;
      p *= o.norm() / (p.norm() + s_.eps);
      w[b] = (1 - eta * s_.weight_decay) * w[b] - eta * s_.scale[b] * p;
    }
  }

 private:
  NorMuonSettings s_;
  std::vector<Matrix> m_;
  std::vector<Vector> v_;
};

// Polar factors from two SVDs of inputs with condition number <= 3 agree to ~1e-15 in
// absolute terms; every row of them has norm > 0.2 (see normuon_gradient; checked in the oracle), so
// each row, and its mean square v_i, is known to a relative ~1e-15 / 0.2 = 5e-15. The row scaling and the Frobenius
// rescale keep relative errors, the rescaled P has O(1) entries and eta s <= 0.2: a few steps agree to ~1e-14. 1e-12
// leaves a margin; a wrong reduction axis or a missing rescale changes entries by more than 1e-3.
constexpr double kNorMuonTolerance = 1e-12;

void check_normuon_against_formula(const std::string& params_yaml, const NorMuonSettings& settings, int steps) {
  NorMuonOracle oracle(settings);
  optim_test::require_matches_oracle("normuon", params_yaml, kNorMuonBlocks, normuon_initial(), normuon_gradient,
                                     oracle, settings.eta, steps, kNorMuonTolerance);
}

}  // namespace

TEST_CASE("normuon: defaults (lr 0.02, beta 0.95, Nesterov, beta2 0.95, shape scaling), three steps", "[normuon]") {
  check_normuon_against_formula("{}", NorMuonSettings{}, 3);
}

TEST_CASE("normuon: without Nesterov, rms scaling, weight decay and a slow second moment", "[normuon]") {
  NorMuonSettings s;
  s.eta = [](int) { return 0.1; };
  s.nesterov = false;
  s.beta2 = 0.99;
  s.weight_decay = 0.3;
  s.scale = {0.2 * std::sqrt(3.0), 0.2 * std::sqrt(2.0), 0.2 * std::sqrt(3.0)};
  check_normuon_against_formula("{lr: 0.1, nesterov: false, beta2: 0.99, weight_decay: 0.3, scaling: rms}", s, 4);
}

TEST_CASE("normuon: geometric schedule after warmup, momentum 0", "[normuon]") {
  NorMuonSettings s;
  s.eta = [](int t) { return t == 0 ? 0.05 : 0.1 * std::pow(0.5, t - 1); };
  s.momentum = 0.0;
  check_normuon_against_formula("{lr: 0.1, schedule: geometric, decay: 0.5, warmup: 1, momentum: 0}", s, 4);
}

TEST_CASE("normuon: the update keeps the Frobenius norm of O and equalizes row norms on step 1", "[normuon]") {
  // ||P||_F = ||O||_F = sqrt(min(m, n)) for a full-rank polar factor. On step 1,
  // v_i = (1 - b2) ||O_i||^2 / n, so every row of P has the same norm ||O||_F / sqrt(m).
  auto optimizer = muonlab::testing::make_optimizer("normuon", "{lr: 0.1, scaling: none}");
  optimizer->initialize(kNorMuonBlocks);
  std::vector<Matrix> w = normuon_initial();
  optimizer->step(0, w, normuon_gradient(0));
  for (std::size_t b = 0; b < w.size(); ++b) {
    const Matrix step = normuon_initial()[b] - w[b];
    const double p = static_cast<double>(std::min(step.rows(), step.cols()));
    // The rescale restores ||O||_F = sqrt(min(m, n)) (the svd oracle's is exact to ~1e-15) up to
    // a relative eps / ||P|| < 1e-10, whatever the row scaling did.
    REQUIRE(step.norm() == Approx(0.1 * std::sqrt(p)).epsilon(1e-9));
    // Row i of P has norm ||O_i|| / (sqrt(v_i) + eps) = sqrt(n / (1 - b2)) / (1 + eps / sqrt(v_i)),
    // and sqrt(v_i) >= sqrt(0.05 / 3) * 0.2 > 0.025 (row norms > 0.2, checked in the oracle):
    // rows agree to a relative 1e-10 / 0.025 = 4e-9.
    const Vector rows = step.rowwise().norm();
    REQUIRE(rows.maxCoeff() - rows.minCoeff() <= 5e-9 * rows.maxCoeff());
  }
}

TEST_CASE("normuon: a zero gradient leaves W unchanged and finite", "[normuon]") {
  auto optimizer = muonlab::testing::make_optimizer("normuon", "{}");
  optimizer->initialize(kNorMuonBlocks);
  std::vector<Matrix> w = normuon_initial();
  const std::vector<Matrix> zero = {Matrix::Zero(3, 2), Matrix::Zero(2, 2), Matrix::Zero(2, 3)};
  // O = 0, phi = 0, v = 0: P = 0 / eps = 0, then 0 * 0 / eps = 0.
  for (int t = 0; t < 3; ++t) optimizer->step(t, w, zero);
  REQUIRE(max_abs_diff(w, normuon_initial()) == 0.0);
}

TEST_CASE("normuon: two instances fed the same gradients produce bit-identical iterates", "[normuon]") {
  const std::string params = "{lr: 0.05, weight_decay: 0.1, schedule: cosine, horizon: 4}";
  optim_test::require_identical_instances("normuon", params, kNorMuonBlocks, normuon_initial(),
                                          optim_test::fixed_sequence(normuon_gradient), 5);
}
