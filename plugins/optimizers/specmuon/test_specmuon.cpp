// specmuon against its update written out with plain Eigen (JacobiSVD), per block:
//   E = sqrt(max(L, 0) + c);  G_hat = G / (||G||_F + eps) = sum_j s_j u_j v_j^T
//   r_j = E at the first step, else r_j <- xi r_j / (1 + eta s_j^2 / (2 (E^2 + eps))) + (1 - xi) E
//   O = sum_{j<k} (r_j / (E + eps)) u_j v_j^T + sum_{j>=k} s_j u_j v_j^T;  B = mu B + O
//   W <- (1 - eta wd) W - eta B
// The loss of each step reaches the plugin through the gradient oracle's loss member, as the
// core passes it (plugin ABI 1.1).
#include <catch2/catch.hpp>

#include <Eigen/SVD>
#include <muonlab/linalg.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "grid/grid.hpp"
#include "run/runner.hpp"
#include "test_support.hpp"

#include "../common/optimizer_test_support.hpp"

using muonlab::BlockSpec;
using muonlab::Matrix;
using muonlab::Vector;

namespace {

namespace optim_test = muonlab::optim_test;
using optim_test::max_abs_diff;

const std::vector<BlockSpec> kSpecBlocks = {{"tall", 5, 3, ""}, {"wide", 3, 5, ""}};

std::vector<Matrix> spec_initial() {
  Matrix x(5, 3), y(3, 5);
  x << 0.5, -1.0, 0.25, 0.75, -0.5, 1.5, 0.1, 0.2, -0.3, 0.4, -0.6, 0.7, 0.9, 0.05, -0.8;
  y << 0.1, -0.2, 0.3, 0.4, -0.5, 0.6, -0.7, 0.8, 0.15, 0.25, -0.35, 0.45, 1.1, -0.9, 0.2;
  return {x, y};
}

// G = Q1 diag(d) Q2^T with Haar factors that change with t and singular values d well
// separated (ratio >= 1.6), so every rank-one term u_j v_j^T is well determined.
Matrix gradient_with_spectrum(const BlockSpec& block, const Vector& d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Eigen::Index p = std::min(block.rows, block.cols);
  const Matrix q1 = muonlab::haar_orthonormal(block.rows, p, rng);
  const Matrix q2 = muonlab::haar_orthonormal(block.cols, p, rng);
  return q1 * d.asDiagonal() * q2.transpose();
}

std::vector<Matrix> spec_gradient(int t) {
  std::vector<Matrix> g;
  for (std::size_t b = 0; b < kSpecBlocks.size(); ++b) {
    Vector d(3);
    d << 3.0 * (1.0 + 0.5 * static_cast<double>(b)), 1.5 + 0.2 * t, 0.4;
    g.push_back(gradient_with_spectrum(kSpecBlocks[b], d, 100 + 10 * b + static_cast<std::uint64_t>(t)));
  }
  return g;
}

struct SpecSettings {
  std::function<double(int)> eta = [](int) { return 0.02; };
  Eigen::Index rank = 4;
  double relaxation = 0.9, energy_shift = 0.0, eps = 1e-30, momentum = 0.9, weight_decay = 0.0;
};

// The update written out mode by mode.
class SpecReference {
 public:
  explicit SpecReference(SpecSettings s) : s_(std::move(s)) {
    for (const BlockSpec& b : kSpecBlocks) {
      r_.push_back(Vector::Zero(std::min<Eigen::Index>(s_.rank, std::min(b.rows, b.cols))));
      velocity_.push_back(Matrix::Zero(b.rows, b.cols));
    }
  }

  void step(int t, double loss, std::vector<Matrix>& w, const std::vector<Matrix>& g) {
    const double eta = s_.eta(t);
    energy_ = std::sqrt(std::max(loss, 0.0) + s_.energy_shift);
    double ratio_sum = 0.0;
    int ratio_count = 0;
    for (std::size_t b = 0; b < w.size(); ++b) {
      const double norm = g[b].norm();
      const Matrix normalized =
          norm > 0 ? Matrix(g[b] / (norm + s_.eps)) : Matrix(Matrix::Zero(g[b].rows(), g[b].cols()));
      Eigen::JacobiSVD<Matrix> svd(normalized, Eigen::ComputeThinU | Eigen::ComputeThinV);
      const Vector sv = svd.singularValues();
      Matrix direction = Matrix::Zero(g[b].rows(), g[b].cols());
      for (Eigen::Index j = 0; j < sv.size(); ++j) {
        double coefficient = sv(j);
        if (j < r_[b].size()) {
          if (t == 0) {
            r_[b](j) = energy_;
          } else {
            const double shrunk = r_[b](j) / (1 + eta * sv(j) * sv(j) / (2 * (energy_ * energy_ + s_.eps)));
            r_[b](j) = s_.relaxation * shrunk + (1 - s_.relaxation) * energy_;
          }
          const double ratio = r_[b](j) / (energy_ + s_.eps);
          ratio_sum += ratio;
          ++ratio_count;
          coefficient = sv(j) > 1e-12 * sv(0) ? ratio : 0.0;
        }
        direction += coefficient * svd.matrixU().col(j) * svd.matrixV().col(j).transpose();
      }
      velocity_[b] = s_.momentum * velocity_[b] + direction;
      w[b] = (1 - eta * s_.weight_decay) * w[b] - eta * velocity_[b];
    }
    mean_ratio_ = ratio_count > 0 ? ratio_sum / ratio_count : 0.0;
  }

  double energy() const { return energy_; }
  double mean_ratio() const { return mean_ratio_; }

 private:
  SpecSettings s_;
  std::vector<Vector> r_;
  std::vector<Matrix> velocity_;
  double energy_ = 0.0, mean_ratio_ = 0.0;
};

// What the core hands to step(): here only the loss is needed.
muonlab::GradientOracleAbi loss_only(double loss) { return {nullptr, nullptr, loss}; }

void step_with_loss(muonlab::OptimizerHandle& optimizer, int t, double loss, std::vector<Matrix>& w,
                    const std::vector<Matrix>& g) {
  const muonlab::GradientOracleAbi oracle = loss_only(loss);
  optimizer.step(t, w, g, &oracle);
}

double max_abs(const std::vector<Matrix>& a) {
  double worst = 0.0;
  for (const Matrix& m : a) worst = std::max(worst, m.cwiseAbs().maxCoeff());
  return worst;
}

// Two backward-stable SVDs of matrices whose singular values are separated by a factor >= 1.6
// give rank-one terms u_j v_j^T that agree to ~1e-15; the SAV factors are smooth in s_j and E,
// so three O(1) steps agree to ~1e-14 relative. A wrong factor (s_j for s_j^2, a missing 1/2,
// the relaxation on the wrong side) moves entries by more than 1e-4.
constexpr double kSpecTolerance = 1e-12;

void check_against_reference(const std::string& params_yaml, const SpecSettings& settings,
                             const std::vector<double>& losses) {
  auto optimizer = muonlab::testing::make_optimizer("specmuon", params_yaml);
  REQUIRE(optimizer->diagnostics().size() == 3);
  REQUIRE(optimizer->diagnostics()[0].name == "lr");
  REQUIRE(optimizer->diagnostics()[1].name == "energy");
  REQUIRE(optimizer->diagnostics()[2].name == "mean_ratio");
  optimizer->initialize(kSpecBlocks);
  SpecReference reference(settings);
  std::vector<Matrix> w = spec_initial(), expected = spec_initial();
  for (int t = 0; t < static_cast<int>(losses.size()); ++t) {
    CAPTURE(t);
    const std::vector<Matrix> g = spec_gradient(t);
    step_with_loss(*optimizer, t, losses[t], w, g);
    reference.step(t, losses[t], expected, g);
    REQUIRE(max_abs_diff(w, expected) <= kSpecTolerance * max_abs(expected));
    double values[3] = {0.0, 0.0, 0.0};
    optimizer->read_diagnostics(values);
    CHECK(values[0] == Approx(settings.eta(t)).epsilon(1e-15));
    CHECK(values[1] == Approx(reference.energy()).epsilon(1e-15));
    CHECK(values[2] == Approx(reference.mean_ratio()).epsilon(1e-13));
  }
}

std::string temp_h5(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "muonlab-tests";
  std::filesystem::create_directories(dir);
  const std::filesystem::path p = dir / (name + "-" + std::to_string(::getpid()) + ".h5");
  std::filesystem::remove(p);
  return p.string();
}

}  // namespace

TEST_CASE("specmuon: rank 2 of 3 modes, relaxation, momentum, energy shift and weight decay, three steps",
          "[specmuon]") {
  SpecSettings s;
  s.eta = [](int) { return 0.3; };
  s.rank = 2;
  s.relaxation = 0.7;
  s.momentum = 0.5;
  s.energy_shift = 0.01;
  s.weight_decay = 0.1;
  check_against_reference("{lr: 0.3, rank: 2, relaxation: 0.7, momentum: 0.5, energy_shift: 0.01, weight_decay: 0.1}",
                          s, {2.0, 0.5, 0.05});
}

TEST_CASE("specmuon: defaults (rank 4 clamped to 3) with a geometric schedule, three steps", "[specmuon]") {
  SpecSettings s;
  s.eta = [](int t) { return 0.2 * std::pow(0.5, t); };
  check_against_reference("{lr: 0.2, schedule: geometric, decay: 0.5}", s, {1.0, 0.2, 0.01});
}

TEST_CASE("specmuon: relaxation 0 and momentum 0 make the top-k part msign of those modes", "[specmuon]") {
  // r_j = E_t after every step, so the weight r_j / (E_t + eps) is 1 up to eps / E_t:
  // W_t - W_{t+1} = eta (U_k V_k^T + sum_{j>=k} s_j u_j v_j^T), whatever the losses.
  auto optimizer = muonlab::testing::make_optimizer("specmuon", "{lr: 0.1, rank: 2, relaxation: 0, momentum: 0}");
  optimizer->initialize(kSpecBlocks);
  std::vector<Matrix> w = spec_initial();
  const std::vector<double> losses = {3.0, 0.4, 0.02, 1e-6};
  for (int t = 0; t < static_cast<int>(losses.size()); ++t) {
    CAPTURE(t);
    const std::vector<Matrix> g = spec_gradient(t), before = w;
    step_with_loss(*optimizer, t, losses[t], w, g);
    for (std::size_t b = 0; b < w.size(); ++b) {
      Eigen::JacobiSVD<Matrix> svd(g[b] / g[b].norm(), Eigen::ComputeThinU | Eigen::ComputeThinV);
      const Matrix top = svd.matrixU().leftCols(2) * svd.matrixV().leftCols(2).transpose();
      const Matrix tail = svd.singularValues()(2) * svd.matrixU().col(2) * svd.matrixV().col(2).transpose();
      REQUIRE(((before[b] - w[b]) / 0.1 - tail - top).cwiseAbs().maxCoeff() <= 1e-12);
    }
    double values[3] = {0.0, 0.0, 0.0};
    optimizer->read_diagnostics(values);
    CHECK(values[2] == Approx(1.0).epsilon(1e-15));
  }
}

TEST_CASE("specmuon: the first step with rank >= rank(G) and momentum 0 is Muon's, W - eta U V^T", "[specmuon]") {
  auto optimizer = muonlab::testing::make_optimizer("specmuon", "{lr: 0.05, momentum: 0}");
  SECTION("full-rank gradients (default rank 4 covers all 3 modes)") {
    optimizer->initialize(kSpecBlocks);
    std::vector<Matrix> w = spec_initial();
    const std::vector<Matrix> g = spec_gradient(0), before = w;
    step_with_loss(*optimizer, 0, 0.7, w, g);
    for (std::size_t b = 0; b < w.size(); ++b) {
      REQUIRE((w[b] - (before[b] - 0.05 * muonlab::testing::exact_polar(g[b]))).cwiseAbs().maxCoeff() <= 1e-14);
    }
  }
  SECTION("rank-one gradients: the zero modes' arbitrary singular vectors are not used") {
    optimizer->initialize(kSpecBlocks);
    std::vector<Matrix> w = spec_initial(), g;
    for (std::size_t b = 0; b < kSpecBlocks.size(); ++b)
      g.push_back(gradient_with_spectrum(kSpecBlocks[b], Vector::Unit(3, 0) * 2.0, 7 + b));
    const std::vector<Matrix> before = w;
    step_with_loss(*optimizer, 0, 0.7, w, g);
    for (std::size_t b = 0; b < w.size(); ++b) {
      REQUIRE((w[b] - (before[b] - 0.05 * muonlab::testing::exact_polar(g[b]))).cwiseAbs().maxCoeff() <= 1e-14);
    }
  }
}

TEST_CASE("specmuon: a zero gradient leaves the iterate unchanged and everything finite", "[specmuon]") {
  for (const double loss : {1.0, 0.0}) {
    CAPTURE(loss);
    auto optimizer = muonlab::testing::make_optimizer("specmuon", "{}");
    optimizer->initialize(kSpecBlocks);
    const std::vector<Matrix> initial = spec_initial();
    std::vector<Matrix> w = initial;
    const std::vector<Matrix> zero = {Matrix::Zero(5, 3), Matrix::Zero(3, 5)};
    for (int t = 0; t < 3; ++t) step_with_loss(*optimizer, t, loss, w, zero);
    for (std::size_t b = 0; b < w.size(); ++b) CHECK(w[b] == initial[b]);
    double values[3] = {0.0, 0.0, 0.0};
    optimizer->read_diagnostics(values);
    for (double v : values) CHECK(std::isfinite(v));
  }
}

TEST_CASE("specmuon: the loss is used, two loss sequences give different second steps", "[specmuon]") {
  std::vector<std::vector<Matrix>> after_first, after_second;
  for (const double second_loss : {1.0, 0.1}) {
    auto optimizer = muonlab::testing::make_optimizer("specmuon", "{lr: 0.1}");
    optimizer->initialize(kSpecBlocks);
    std::vector<Matrix> w = spec_initial();
    step_with_loss(*optimizer, 0, 1.0, w, spec_gradient(0));
    after_first.push_back(w);
    step_with_loss(*optimizer, 1, second_loss, w, spec_gradient(1));
    after_second.push_back(w);
  }
  CHECK(max_abs_diff(after_first[0], after_first[1]) == 0.0);
  CHECK(max_abs_diff(after_second[0], after_second[1]) > 1e-3);
}

TEST_CASE("specmuon: a step without a loss is a clear error", "[specmuon]") {
  auto optimizer = muonlab::testing::make_optimizer("specmuon", "{}");
  optimizer->initialize(kSpecBlocks);
  std::vector<Matrix> w = spec_initial();
  const std::vector<Matrix> g = spec_gradient(0);
  CHECK_THROWS_WITH(optimizer->step(0, w, g), Catch::Contains("specmuon needs the loss"));
  const muonlab::GradientOracleAbi no_loss{nullptr, nullptr};  // loss left at its NaN default
  CHECK_THROWS_WITH(optimizer->step(0, w, g, &no_loss), Catch::Contains("specmuon needs the loss"));
}

TEST_CASE("specmuon: a grid cell on matrix factorization gets the loss from the core and converges", "[specmuon]") {
  // Without the loss (plugin ABI 1.1) every step would throw and the cell would be "failed".
  // These settings reach rel_error 1e-6 in 116 steps (muon with lr 0.3: 108).
  const std::string yaml =
      "name: t\nseeds: [0]\nstop: {max_iters: 300, tol: 1.0e-6, metric: rel_error}\nrecord: {every: 1, spectra: off}\n"
      "problem: {name: matrix_factorization, params: {n: 20, rank: 3, kappa: 10, init_scale: 0.01}}\n"
      "optimizer: {name: specmuon, params: {lr: 0.3, schedule: geometric, decay: 0.9, momentum: 0, relaxation: 0.5}}\n";
  const muonlab::Grid grid = muonlab::parse_grid(yaml, "specmuon.yaml", {}, muonlab::testing::registry());
  muonlab::RunOptions options;
  options.output = temp_h5("specmuon-grid");
  const muonlab::RunReport report = muonlab::run_grid(grid, muonlab::testing::registry(), options);
  REQUIRE(report.rows.size() == 1);
  CHECK(report.failed == 0);
  CHECK(report.rows[0].status == muonlab::CellStatus::Converged);
  CHECK(report.rows[0].final_metric <= 1e-6);
}
