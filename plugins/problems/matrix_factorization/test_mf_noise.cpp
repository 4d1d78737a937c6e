// Stochastic gradients of matrix_factorization (noise: gaussian | subsample), through the
// real plugin library. Oracles: the same problem with noise: none (the exact gradient), the
// sample mean over many samples with its standard error, and, for subsample with Y = I, the
// closed form grad_X = (1/p) P_Omega(X - M) that exposes the mask.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using muonlab::Matrix;
using muonlab::ProblemHandle;

constexpr const char* kName = "matrix_factorization";
constexpr std::uint64_t kSeed = 17;

std::unique_ptr<ProblemHandle> make(const std::string& params) {
  return muonlab::testing::make_problem(kName, params, kSeed);
}

struct Evaluation {
  double loss = 0;
  double metrics[2] = {0, 0};
  std::vector<Matrix> grads;
};

Evaluation evaluate_sample(ProblemHandle& problem, const std::vector<Matrix>& params, std::uint64_t sample) {
  Evaluation e;
  e.grads = problem.allocate();
  e.loss = problem.evaluate(params, e.grads, e.metrics, muonlab::EvalContext{3, sample});
  return e;
}

// A point far from the solution (init_scale 0.7), so that every gradient entry is O(1).
std::vector<Matrix> start_point(ProblemHandle& problem) {
  std::vector<Matrix> params = problem.allocate();
  problem.initialize(params);
  return params;
}

double max_abs_diff(const std::vector<Matrix>& a, const std::vector<Matrix>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).cwiseAbs().maxCoeff());
  return worst;
}

const std::string kAsymmetric = "symmetric: false, n: 6, m: 5, rank: 2, k: 3, init_scale: 0.7, target: dense";
const std::string kSymmetric = "symmetric: true, n: 5, rank: 2, k: 3, init_scale: 0.7";

// Mean of `samples` noisy gradients against the exact one: every entry within 5 standard
// errors (estimated from the same samples). With ~30 entries the chance that an unbiased
// estimator fails is ~30 * 6e-7; a bias larger than 5 SE (at most 20 % of the gradient scale,
// checked below) fails. The seeds are fixed, so the outcome is deterministic.
void check_unbiased(const std::string& shape, const std::string& noise) {
  CAPTURE(shape, noise);
  auto exact_problem = make("{" + shape + "}");
  auto noisy_problem = make("{" + shape + ", " + noise + "}");
  const std::vector<Matrix> w = start_point(*exact_problem);
  const Evaluation exact = evaluate_sample(*exact_problem, w, 0);
  const int samples = 20000;
  std::vector<Matrix> sum, sum_sq;
  for (const Matrix& g : exact.grads) {
    sum.push_back(Matrix::Zero(g.rows(), g.cols()));
    sum_sq.push_back(Matrix::Zero(g.rows(), g.cols()));
  }
  for (int s = 0; s < samples; ++s) {
    const Evaluation e = evaluate_sample(*noisy_problem, w, static_cast<std::uint64_t>(s));
    for (std::size_t b = 0; b < sum.size(); ++b) {
      sum[b] += e.grads[b];
      sum_sq[b] += e.grads[b].cwiseAbs2();
    }
  }
  for (std::size_t b = 0; b < sum.size(); ++b) {
    const Matrix mean = sum[b] / samples;
    const Matrix variance = (sum_sq[b] / samples - mean.cwiseAbs2()) * (samples / (samples - 1.0));
    const Matrix standard_error = (variance.cwiseMax(0.0) / samples).cwiseSqrt();
    const double scale = exact.grads[b].cwiseAbs().maxCoeff();
    REQUIRE(scale > 0.01);
    CHECK(5.0 * standard_error.maxCoeff() < 0.2 * scale);  // the test can see a 20 % bias
    CHECK(standard_error.minCoeff() > 0.0);                // the gradient really is noisy
    const Matrix z = (mean - exact.grads[b]).cwiseQuotient(standard_error);
    CHECK(z.cwiseAbs().maxCoeff() < 5.0);
  }
}

}  // namespace

TEST_CASE("mf noise: noisy gradients average to the exact gradient", "[matrix_factorization][mf_noise]") {
  for (const std::string& shape : {kAsymmetric, kSymmetric}) {
    check_unbiased(shape, "noise: gaussian, noise_scale: 0.5");
    check_unbiased(shape, "noise: subsample, observe_fraction: 0.3");
  }
}

TEST_CASE("mf noise: gaussian noise has standard deviation noise_scale * RMS(G) per block",
          "[matrix_factorization][mf_noise]") {
  auto exact_problem = make("{" + kAsymmetric + "}");
  auto noisy_problem = make("{" + kAsymmetric + ", noise: gaussian, noise_scale: 0.3}");
  const std::vector<Matrix> w = start_point(*exact_problem);
  const Evaluation exact = evaluate_sample(*exact_problem, w, 0);
  for (std::size_t b = 0; b < exact.grads.size(); ++b) {
    const double expected_sd = 0.3 * exact.grads[b].norm() / std::sqrt(static_cast<double>(exact.grads[b].size()));
    double sum_sq = 0;
    const int samples = 3000;
    for (int s = 0; s < samples; ++s) {
      sum_sq +=
          (evaluate_sample(*noisy_problem, w, static_cast<std::uint64_t>(s)).grads[b] - exact.grads[b]).squaredNorm();
    }
    // 3000 * 15 or 18 squared N(0, sd^2) draws: the relative standard error of the pooled
    // variance is sqrt(2 / 45000) = 0.7 %, so 4 % is > 5 SE while a wrong convention (a
    // factor sqrt(size), or the whole-gradient RMS) is off by far more.
    const double measured_sd = std::sqrt(sum_sq / (samples * static_cast<double>(exact.grads[b].size())));
    CHECK(measured_sd == Approx(expected_sd).epsilon(0.04));
  }
}

TEST_CASE("mf noise: loss and metrics are those of the noise-free objective", "[matrix_factorization][mf_noise]") {
  for (const char* noise : {"noise: gaussian", "noise: subsample"}) {
    CAPTURE(noise);
    auto exact_problem = make("{" + kAsymmetric + "}");
    auto noisy_problem = make("{" + kAsymmetric + ", " + std::string(noise) + "}");
    const std::vector<Matrix> w = start_point(*exact_problem);
    const Evaluation exact = evaluate_sample(*exact_problem, w, 0);
    const Evaluation noisy = evaluate_sample(*noisy_problem, w, 5);
    CHECK(noisy.loss == exact.loss);
    CHECK(noisy.metrics[0] == exact.metrics[0]);
    CHECK(noisy.metrics[1] == exact.metrics[1]);
    CHECK(max_abs_diff(noisy.grads, exact.grads) > 1e-3);
  }
}

TEST_CASE("mf noise: none ignores the sample", "[matrix_factorization][mf_noise]") {
  auto problem = make("{" + kAsymmetric + "}");
  const std::vector<Matrix> w = start_point(*problem);
  const Evaluation a = evaluate_sample(*problem, w, 0);
  const Evaluation b = evaluate_sample(*problem, w, 12345);
  CHECK(max_abs_diff(a.grads, b.grads) == 0.0);
  CHECK(a.loss == b.loss);
}

TEST_CASE("mf noise: the same sample repeats its noise, another sample differs", "[matrix_factorization][mf_noise]") {
  for (const char* noise : {"noise: gaussian", "noise: subsample"}) {
    CAPTURE(noise);
    auto problem = make("{" + kAsymmetric + ", " + std::string(noise) + "}");
    const std::vector<Matrix> w = start_point(*problem);
    const Evaluation first = evaluate_sample(*problem, w, 42);
    const Evaluation again = evaluate_sample(*problem, w, 42);
    const Evaluation other = evaluate_sample(*problem, w, 43);
    CHECK(max_abs_diff(first.grads, again.grads) == 0.0);  // bit-identical
    CHECK(max_abs_diff(first.grads, other.grads) > 1e-3);
  }
}

TEST_CASE("mf noise: gaussian noise of a sample is the same Z at every point", "[matrix_factorization][mf_noise]") {
  auto exact_problem = make("{" + kAsymmetric + "}");
  auto noisy_problem = make("{" + kAsymmetric + ", noise: gaussian, noise_scale: 0.2}");
  const std::vector<Matrix> a = start_point(*exact_problem);
  std::vector<Matrix> b = a;
  b[0] *= 1.7;
  b[1](0, 0) += 0.5;
  auto standardized_noise = [&](const std::vector<Matrix>& w, std::size_t block) {
    const Evaluation exact = evaluate_sample(*exact_problem, w, 0);
    const Evaluation noisy = evaluate_sample(*noisy_problem, w, 9);
    const double sd = 0.2 * exact.grads[block].norm() / std::sqrt(static_cast<double>(exact.grads[block].size()));
    return Matrix((noisy.grads[block] - exact.grads[block]) / sd);
  };
  for (std::size_t block = 0; block < 2; ++block) {
    // Z = (G_noisy - G) / sd: O(1) entries recovered through one subtraction of O(1)
    // gradients and a division, so agreement to ~1e-14; 1e-10 is ample and still
    // distinguishes two independent draws (differences O(1)).
    CHECK((standardized_noise(a, block) - standardized_noise(b, block)).cwiseAbs().maxCoeff() < 1e-10);
  }
}

TEST_CASE("mf noise: subsample mask depends on the sample, not the point", "[matrix_factorization][mf_noise]") {
  // n = m = k = 4 and Y = I: grad_X = (1/p) P_Omega(X - M), so the mask can be read off.
  const std::string shape = "symmetric: false, n: 4, m: 4, rank: 2, k: 4, target: dense";
  const double p = 0.4;
  auto problem = make("{" + shape + ", noise: subsample, observe_fraction: 0.4}");
  auto exact_problem = make("{" + shape + "}");
  Matrix m_target;
  for (const muonlab::NamedArray& a : exact_problem->instance()) {
    if (a.name == "M") m_target = a.value;
  }
  REQUIRE(m_target.rows() == 4);
  auto observed_entries = [&](const Matrix& x, std::uint64_t sample) {
    const std::vector<Matrix> w = {x, Matrix::Identity(4, 4)};
    const Evaluation e = evaluate_sample(*problem, w, sample);
    const Matrix residual = x - m_target;
    Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic> mask(4, 4);
    for (Eigen::Index j = 0; j < 4; ++j) {
      for (Eigen::Index i = 0; i < 4; ++i) {
        mask(i, j) = e.grads[0](i, j) != 0.0;
        // observed entries are R / p (one product and a division: a few ulps)
        if (mask(i, j)) CHECK(e.grads[0](i, j) == Approx(residual(i, j) / p).epsilon(1e-13));
      }
    }
    return mask;
  };
  Matrix x_a(4, 4), x_b(4, 4);
  for (Eigen::Index j = 0; j < 4; ++j)
    for (Eigen::Index i = 0; i < 4; ++i) {
      x_a(i, j) = 1.0 + 0.3 * i - 0.2 * j;  // far from M, so no residual entry is zero
      x_b(i, j) = -2.0 + 0.1 * i * j;
    }
  const auto mask_a = observed_entries(x_a, 7);
  CHECK(mask_a == observed_entries(x_b, 7));
  CHECK(mask_a.count() > 0);
  CHECK(mask_a.count() < 16);
  bool some_sample_differs = false;
  for (std::uint64_t s = 8; s < 12; ++s) some_sample_differs |= !(observed_entries(x_a, s) == mask_a);
  CHECK(some_sample_differs);
}

TEST_CASE("mf noise: subsample gives the same gradient with either target path", "[matrix_factorization][mf_noise]") {
  const std::string shape = "symmetric: false, n: 6, m: 5, rank: 2, k: 3, init_scale: 0.7, noise: subsample";
  auto dense = make("{" + shape + ", target: dense}");
  auto factored = make("{" + shape + ", target: factored}");
  const std::vector<Matrix> w = start_point(*dense);
  // Same mask and the same dense residual formula; only M differs by rounding of its
  // construction (identical code), so agreement is to a few ulps of O(1) entries.
  CHECK(max_abs_diff(evaluate_sample(*dense, w, 3).grads, evaluate_sample(*factored, w, 3).grads) < 1e-13);
}
