// Losses of the icl_linear_transformer problem, through the real plugin library.
//
// Oracles: the trace formulas of docs/theory.md 3.3 written out with plain Eigen, a
// Monte-Carlo average over sampled prompts, the full LSA forward pass
// f(Z) = Z + W_PV Z (Z^T W_KQ Z) / N computed here on the stored training prompts, central
// finite differences, and Gamma* = ((1 + 1/N) Lambda + tr(Lambda)/N I)^{-1} by matrix inverse.
#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <cmath>
#include <string>
#include <vector>

#include "util/errors.hpp"
#include "icl_test_support.hpp"

namespace {

using icl_test::evaluate_at;
using icl_test::Evaluation;
using icl_test::instance_array;
using icl_test::make;
using icl_test::metric;
using muonlab::EvalContext;
using muonlab::Matrix;
using muonlab::ProblemHandle;
using muonlab::Vector;

// docs/theory.md 3.3, term by term.
double notes_loss(const Matrix& gamma, const Matrix& lambda, double n) {
  const double t = lambda.trace();
  return 0.5 *
         ((1 + 1 / n) * (gamma.transpose() * lambda * gamma * lambda * lambda).trace() +
          (t / n) * (gamma.transpose() * lambda * gamma * lambda).trace() - 2 * (gamma * lambda * lambda).trace() + t);
}

Matrix notes_gradient(const Matrix& gamma, const Matrix& lambda, double n) {
  const double t = lambda.trace();
  return (1 + 1 / n) * lambda * gamma * lambda * lambda + (t / n) * lambda * gamma * lambda - lambda * lambda;
}

Matrix notes_minimizer(const Matrix& lambda, double n) {
  const Eigen::Index d = lambda.rows();
  return ((1 + 1 / n) * lambda + (lambda.trace() / n) * Matrix::Identity(d, d)).inverse();
}

// Central differences of the loss, or of one metric when metric_name is given.
std::vector<Matrix> finite_differences(ProblemHandle& problem, std::vector<Matrix> point, double h,
                                       const EvalContext& context, const std::string& metric_name = "") {
  auto value = [&](const std::vector<Matrix>& p) {
    const Evaluation e = evaluate_at(problem, p, context);
    return metric_name.empty() ? e.loss : metric(problem, e, metric_name);
  };
  std::vector<Matrix> out = problem.allocate();
  for (std::size_t b = 0; b < point.size(); ++b) {
    for (Eigen::Index i = 0; i < point[b].size(); ++i) {
      const double saved = point[b].data()[i];
      point[b].data()[i] = saved + h;
      const double plus = value(point);
      point[b].data()[i] = saved - h;
      const double minus = value(point);
      point[b].data()[i] = saved;
      out[b].data()[i] = (plus - minus) / (2 * h);
    }
  }
  return out;
}

// The structured LSA that the merged Gamma stands for: W_KQ = [[Gamma^T, 0], [0, 0]],
// W_PV = [[0, 0], [0, 1]].
std::vector<Matrix> lsa_of_gamma(const Matrix& gamma) {
  const Eigen::Index d = gamma.rows();
  Matrix kq = Matrix::Zero(d + 1, d + 1), pv = Matrix::Zero(d + 1, d + 1);
  kq.topLeftCorner(d, d) = gamma.transpose();
  pv(d, d) = 1.0;
  return {kq, pv};
}

// [Z + W_PV Z (Z^T W_KQ Z) / N]_{d+1, N+1}: the full forward pass, every entry computed.
double lsa_prediction(const Matrix& z, const Matrix& kq, const Matrix& pv, double n) {
  const Matrix out = z + pv * z * (z.transpose() * kq * z) / n;
  return out(z.rows() - 1, z.cols() - 1);
}

const char* const kSmall = "d: 4, N: 6, kappa: 4";

}  // namespace

TEST_CASE("icl: blocks, metrics and observables are declared as documented", "[icl]") {
  auto merged = make("{d: 5, N: 9}");
  REQUIRE(merged->blocks().size() == 1);
  CHECK(merged->blocks()[0].name == "Gamma");
  CHECK(merged->blocks()[0].rows == 5);
  CHECK(merged->blocks()[0].cols == 5);
  REQUIRE(merged->metrics().size() == 3);
  CHECK(merged->metrics()[0].name == "loss_gap");
  CHECK(merged->metrics()[1].name == "rel_loss_gap");
  CHECK(merged->metrics()[2].name == "gamma_error");
  REQUIRE(merged->observables().size() == 2);
  CHECK(merged->observables()[0].name == "eigen_coordinates");
  CHECK(merged->observables()[1].name == "off_diagonal");

  auto separate = make("{d: 5, N: 9, parametrization: separate, loss: sampled}");
  REQUIRE(separate->blocks().size() == 2);
  CHECK(separate->blocks()[0].name == "W_KQ");
  CHECK(separate->blocks()[1].name == "W_PV");
  CHECK(separate->blocks()[0].rows == 6);
  CHECK(separate->blocks()[1].cols == 6);
  REQUIRE(separate->metrics().size() == 4);
  CHECK(separate->metrics()[3].name == "batch_loss");
  REQUIRE(separate->observables().size() == 4);
  CHECK(separate->observables()[2].name == "value_weight");
  CHECK(separate->observables()[3].name == "off_structure");

  const std::vector<Matrix> x0 = icl_test::initial_point(*merged);
  const auto observed = merged->observe(x0);
  REQUIRE(observed.size() == 2);
  CHECK(observed[0].value.size() == 5);
  CHECK(observed[1].value.size() == 1);
}

TEST_CASE("icl: the covariance has the prescribed spectrum and the closed-form constants", "[icl]") {
  for (const char* spectrum : {"geometric", "two_level"}) {
    INFO(spectrum);
    const int d = 6;
    const double n = 11, kappa = 50;
    auto problem = make(std::string("{d: 6, N: 11, kappa: 50, spectrum: ") + spectrum + "}");
    const Vector lambda = instance_array(*problem, "lambda").col(0);
    const Matrix q = instance_array(*problem, "Q");
    REQUIRE(lambda.size() == d);
    for (int i = 0; i < d; ++i) {
      const double expected =
          std::string(spectrum) == "geometric" ? std::pow(kappa, -i / double(d - 1)) : (i + 1 < d ? 1.0 : 1.0 / kappa);
      CHECK(lambda(i) == Approx(expected).epsilon(1e-14));
    }
    // Householder QR: orthogonal to a small multiple of d eps; and a genuine rotation.
    CHECK((q.transpose() * q - Matrix::Identity(d, d)).norm() < 1e-14);
    CHECK((q - Matrix::Identity(d, d)).norm() > 0.5);

    // Gamma* by matrix inverse (condition number <= kappa): agrees to ~kappa eps.
    const Matrix lambda_matrix = icl_test::covariance(*problem);
    const Matrix expected_star = notes_minimizer(lambda_matrix, n);
    CHECK((instance_array(*problem, "Gamma_star") - expected_star).norm() < 1e-12 * expected_star.norm());
    const Vector gamma_star = instance_array(*problem, "gamma_star").col(0);
    const Vector h = instance_array(*problem, "h").col(0);
    const double t = lambda.sum();
    for (int i = 0; i < d; ++i) {
      CHECK(gamma_star(i) == Approx(1.0 / ((1 + 1 / n) * lambda(i) + t / n)).epsilon(1e-14));
      CHECK(h(i) == Approx((1 + 1 / n) * std::pow(lambda(i), 3) + (t / n) * lambda(i) * lambda(i)).epsilon(1e-14));
    }
    CHECK(instance_array(*problem, "h_ratio")(0, 0) == Approx(h.maxCoeff() / h.minCoeff()).epsilon(1e-14));
    // L* from the trace formula at Gamma*.
    CHECK(instance_array(*problem, "loss_star")(0, 0) ==
          Approx(notes_loss(expected_star, lambda_matrix, n)).epsilon(1e-12));
  }
  auto axis = make("{d: 6, rotated: false}");
  CHECK(instance_array(*axis, "Q") == Matrix(Matrix::Identity(6, 6)));
}

TEST_CASE("icl: the merged population loss is the trace formula of docs/theory.md 3.3", "[icl]") {
  for (const char* params : {"{d: 7, N: 5, kappa: 30}", "{d: 7, N: 40, kappa: 300, spectrum: two_level}"}) {
    INFO(params);
    auto problem = make(params);
    const double n = std::string(params).find("N: 5,") != std::string::npos ? 5 : 40;
    const Matrix lambda = icl_test::covariance(*problem);
    const std::vector<Matrix> point = icl_test::random_point(*problem, 0.7, 3);
    const Evaluation e = evaluate_at(*problem, point);
    const double expected = notes_loss(point[0], lambda, n);
    // The plugin sums non-negative terms in the eigenbasis; the trace formula of O(1) terms
    // agrees to rounding, ~1e-15 relative.
    CHECK(e.loss == Approx(expected).epsilon(1e-12));
    CHECK(metric(*problem, e, "loss_gap") ==
          Approx(expected - instance_array(*problem, "loss_star")(0, 0)).epsilon(1e-12));
    CHECK((e.grads[0] - notes_gradient(point[0], lambda, n)).norm() < 1e-12 * e.grads[0].norm());
  }
}

TEST_CASE("icl: population gradients match central finite differences", "[icl]") {
  // merged: L is quadratic, so central differences are exact up to rounding, eps |L| / h
  // ~ 1e-12 at h = 1e-4. separate: L is a quartic polynomial of the entries; the central
  // difference errs by h^2 |f'''| / 6 ~ 1e-10 at h = 1e-5 and an O(1) point, plus rounding
  // ~1e-11. Both far below the 1e-7 bound.
  for (const char* variant : {"parametrization: merged", "parametrization: separate"}) {
    INFO(variant);
    auto problem = make(std::string("{") + kSmall + ", " + variant + "}");
    const std::vector<Matrix> point = icl_test::random_point(*problem, 0.5, 11);
    const Evaluation at = evaluate_at(*problem, point);
    const double h = std::string(variant).find("merged") != std::string::npos ? 1e-4 : 1e-5;
    const std::vector<Matrix> finite = finite_differences(*problem, point, h, EvalContext{0, 0});
    CHECK(icl_test::relative_difference(at.grads, finite) < 1e-7);
  }
}

TEST_CASE("icl: sampled-loss gradients match finite differences of the batch loss", "[icl]") {
  // The batch loss is a quartic polynomial of the entries (yhat is bilinear in W_KQ, W_PV):
  // as above, h^2 |f'''| / 6 + eps |f| / h ~ 1e-9 at h = 1e-5, against a 1e-6 bound.
  for (const char* variant :
       {"parametrization: merged, fresh_batches: true", "parametrization: merged, fresh_batches: false",
        "parametrization: separate, fresh_batches: true", "parametrization: separate, fresh_batches: false"}) {
    INFO(variant);
    auto problem = make(std::string("{") + kSmall + ", loss: sampled, batch: 16, " + variant + "}");
    const std::vector<Matrix> point = icl_test::random_point(*problem, 0.5, 12);
    const EvalContext context{5, 0x1234567ULL};  // fresh batches: the same sample every call
    const Evaluation at = evaluate_at(*problem, point, context);
    const std::vector<Matrix> finite = finite_differences(*problem, point, 1e-5, context, "batch_loss");
    CHECK(icl_test::relative_difference(at.grads, finite) < 1e-6);
  }
}

TEST_CASE("icl: the sampled loss is the full LSA forward pass on real prompts", "[icl]") {
  const int d = 4, n = 6, b = 8;
  for (const char* variant : {"merged", "separate"}) {
    INFO(variant);
    auto problem = make(std::string("{d: 4, N: 6, kappa: 4, loss: sampled, batch: 8, fresh_batches: false, "
                                    "parametrization: ") +
                        variant + "}");
    const Matrix prompts = instance_array(*problem, "train_prompts");
    const Vector targets = instance_array(*problem, "train_targets").col(0);
    REQUIRE(prompts.rows() == d + 1);
    REQUIRE(prompts.cols() == b * (n + 1));

    const std::vector<Matrix> point = icl_test::random_point(*problem, 0.5, 21);
    const std::vector<Matrix> lsa = point.size() == 2 ? point : lsa_of_gamma(point[0]);
    double expected = 0;
    for (int p = 0; p < b; ++p) {
      const Matrix z = prompts.middleCols(p * (n + 1), n + 1);
      // Noiseless linear labels: with N >= d the context determines w exactly (least
      // squares on d x N data of full rank), and the query's label is <w, x_q>.
      const Matrix x = z.topLeftCorner(d, n);
      const Vector y = z.row(d).head(n).transpose();
      const Vector w = x.transpose().colPivHouseholderQr().solve(y);
      CHECK((x.transpose() * w - y).norm() < 1e-12 * y.norm());
      CHECK(targets(p) == Approx(w.dot(z.col(n).head(d))).epsilon(1e-10));
      CHECK(z(d, n) == 0.0);
      const double r = lsa_prediction(z, lsa[0], lsa[1], n) - targets(p);
      expected += 0.5 * r * r / b;
    }
    // Same sums in another order: rounding only.
    CHECK(metric(*problem, evaluate_at(*problem, point), "batch_loss") == Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("icl: closed-form population loss and gradient agree with Monte Carlo over prompts", "[icl]") {
  // Estimator: the plugin's own sampled loss (validated against the full LSA forward pass
  // above) on M = 400 independent batches of B = 2000 prompts, 8e5 prompts in all. Each batch
  // mean is close to Gaussian (CLT over 2000 prompts), so the mean over batches has standard
  // error SE = s / sqrt(M) with s the spread across batches, itself known to ~4%
  // (1/sqrt(2M)). A 5 SE bound per quantity fails by chance with probability ~6e-7 each.
  // Power: d = 4, N = 6 make the 1/N terms of the Wishart moment ~17% of the loss, and the
  // separate point has c, v != 0, so the w-even part of the prediction (sixth moments of x_q)
  // is present; both effects are required to exceed 20 SE below.
  const int batches = 400;
  for (const char* variant : {"parametrization: merged", "parametrization: separate"}) {
    INFO(variant);
    const std::string common = std::string("{") + kSmall + ", " + variant;
    auto sampled = make(common + ", loss: sampled, batch: 2000}");
    auto population = make(common + "}");
    const std::vector<Matrix> point = icl_test::random_point(*population, 0.4, 31);
    const Evaluation exact = evaluate_at(*population, point);

    double loss_sum = 0, loss_sq = 0;
    std::vector<Matrix> grad_sum = population->allocate(), grad_sq = population->allocate();
    for (int m = 0; m < batches; ++m) {
      const Evaluation e = evaluate_at(*sampled, point, EvalContext{m, 1000003ULL * (m + 1)});
      // The returned loss is the noise-free objective; only batch_loss and grads are noisy.
      CHECK(e.loss == Approx(exact.loss).epsilon(1e-13));
      const double value = metric(*sampled, e, "batch_loss");
      loss_sum += value;
      loss_sq += value * value;
      for (std::size_t b = 0; b < point.size(); ++b) {
        grad_sum[b] += e.grads[b];
        grad_sq[b] += e.grads[b].cwiseAbs2();
      }
    }
    const double mean_loss = loss_sum / batches;
    const double se_loss = std::sqrt((loss_sq / batches - mean_loss * mean_loss) / (batches - 1));
    INFO("loss: closed form " << exact.loss << ", Monte Carlo " << mean_loss << " +- " << se_loss);
    CHECK(std::abs(mean_loss - exact.loss) <= 5 * se_loss);
    CHECK(se_loss <= 0.01 * exact.loss);

    double se_total_sq = 0;
    for (std::size_t b = 0; b < point.size(); ++b) {
      const Matrix mean = grad_sum[b] / batches;
      const Matrix se = ((grad_sq[b] / batches - mean.cwiseAbs2()) / (batches - 1)).cwiseMax(0.0).cwiseSqrt();
      se_total_sq += se.squaredNorm();
      for (Eigen::Index i = 0; i < mean.size(); ++i) {
        INFO("block " << b << " entry " << i << ": closed form " << exact.grads[b](i) << ", Monte Carlo " << mean(i)
                      << " +- " << se(i));
        // Entries the prediction does not depend on are exactly zero on both sides.
        CHECK(std::abs(mean(i) - exact.grads[b](i)) <= 5 * se(i) + 1e-15);
      }
    }
    CHECK(std::sqrt(se_total_sq) <= 0.02 * icl_test::total_norm(exact.grads));

    const double n = 6;
    const Matrix lambda = icl_test::covariance(*population);
    const Matrix gamma = point.size() == 1 ? point[0]
                                           : Matrix(point[1](4, 4) * point[0].topLeftCorner(4, 4).transpose() +
                                                    point[0].row(4).head(4).transpose() * point[1].row(4).head(4));
    // Power: dropping the 1/N moment terms, or the w-even part, moves the loss by >> 5 SE.
    const double without_finite_n = notes_loss(gamma, lambda, 1e300);
    CHECK(std::abs(notes_loss(gamma, lambda, n) - without_finite_n) > 20 * se_loss);
    if (point.size() == 2) CHECK(exact.loss - notes_loss(gamma, lambda, n) > 20 * se_loss);
  }
}

TEST_CASE("icl: Gamma* is a stationary point with zero loss gap", "[icl]") {
  for (const char* params : {"{d: 6, N: 10, kappa: 100}", "{d: 6, N: 10, kappa: 100, parametrization: separate}"}) {
    INFO(params);
    auto problem = make(params);
    const Matrix star = notes_minimizer(icl_test::covariance(*problem), 10);
    std::vector<Matrix> point = problem->allocate();
    if (point.size() == 1) {
      point[0] = star;
    } else {
      // Structured LSA with u = 1.7 and W = Gamma*^T / u: the effective Gamma is Gamma*.
      point[0].topLeftCorner(6, 6) = star.transpose() / 1.7;
      point[1](6, 6) = 1.7;
      point[0].col(6).setConstant(0.3);  // entries no prediction depends on
      point[1].topRows(6).setConstant(-0.2);
    }
    const Evaluation e = evaluate_at(*problem, point);
    // Terms of the gradient are O(||Lambda||^2 ||Gamma*||) ~ 1; Gamma* by inverse carries
    // ~kappa eps relative error, so the gradient and gamma_error vanish to ~1e-14, the gap
    // (quadratic in the error) to ~1e-28.
    CHECK(icl_test::total_norm(e.grads) < 1e-12);
    CHECK(metric(*problem, e, "gamma_error") < 1e-13);
    CHECK(metric(*problem, e, "loss_gap") < 1e-24);
    CHECK(e.loss == Approx(instance_array(*problem, "loss_star")(0, 0)).epsilon(1e-14));
  }
}

TEST_CASE("icl: off-structure gradients vanish at structured LSA points", "[icl]") {
  // w -> -w flips the sign of y and of the residual but not of d yhat / d c or d yhat / d v
  // at c = v = 0, so those expectations are zero: population training keeps the structure.
  auto problem = make(std::string("{") + kSmall + ", parametrization: separate}");
  std::vector<Matrix> point = icl_test::random_point(*problem, 0.5, 41);
  point[0].row(4).setZero();
  point[1].row(4).head(4).setZero();
  const Evaluation e = evaluate_at(*problem, point);
  CHECK(e.grads[0].row(4).norm() == 0.0);
  CHECK(e.grads[1].row(4).head(4).norm() == 0.0);
  CHECK(e.grads[0].topLeftCorner(4, 4).norm() > 1e-3);
  CHECK(std::abs(e.grads[1](4, 4)) > 1e-3);
}

TEST_CASE("icl: normalize: h_max rescales the objective only", "[icl]") {
  auto plain = make("{d: 5, N: 8, kappa: 40}");
  auto scaled = make("{d: 5, N: 8, kappa: 40, normalize: h_max}");
  const double h_max = instance_array(*plain, "h").maxCoeff();
  CHECK(instance_array(*scaled, "loss_scale")(0, 0) == Approx(1 / h_max).epsilon(1e-15));
  const std::vector<Matrix> point = icl_test::random_point(*plain, 0.6, 51);
  const Evaluation a = evaluate_at(*plain, point), b = evaluate_at(*scaled, point);
  CHECK(b.loss == Approx(a.loss / h_max).epsilon(1e-14));
  CHECK((b.grads[0] - a.grads[0] / h_max).norm() < 1e-14 * a.grads[0].norm());
  CHECK(metric(*scaled, b, "loss_gap") == Approx(metric(*plain, a, "loss_gap") / h_max).epsilon(1e-14));
  CHECK(metric(*scaled, b, "rel_loss_gap") == Approx(metric(*plain, a, "rel_loss_gap")).epsilon(1e-14));
  CHECK(metric(*scaled, b, "gamma_error") == metric(*plain, a, "gamma_error"));
}

TEST_CASE("icl: inits and random streams", "[icl]") {
  const std::string base = "{d: 5, N: 8, kappa: 20";
  auto zero = make(base + "}", 3);
  CHECK(icl_test::initial_point(*zero)[0].norm() == 0.0);
  CHECK(instance_array(*zero, "initial_loss_gap")(0, 0) ==
        Approx(metric(*zero, evaluate_at(*zero, icl_test::initial_point(*zero)), "loss_gap")).epsilon(1e-15));
  CHECK(metric(*zero, evaluate_at(*zero, icl_test::initial_point(*zero)), "rel_loss_gap") == 1.0);

  auto commuting = make(base + ", init: commuting, init_scale: 0.3}", 3);
  CHECK(icl_test::initial_point(*commuting)[0] == Matrix(0.3 * Matrix::Identity(5, 5)));

  // Q depends on the seed and d only: not on kappa, spectrum, init, loss or parametrization.
  auto other = make(
      "{d: 5, N: 12, kappa: 900, spectrum: two_level, init: small_random, loss: sampled, "
      "parametrization: separate}",
      3);
  CHECK(instance_array(*zero, "Q") == instance_array(*other, "Q"));
  CHECK(instance_array(*zero, "Q") != instance_array(*make(base + "}", 4), "Q"));

  // small_random: Gamma_0 = init_scale G / sqrt(d), the same draw for every kappa.
  auto random_a = make(base + ", init: small_random, init_scale: 0.5}", 3);
  auto random_b = make("{d: 5, N: 30, kappa: 2, init: small_random, init_scale: 1.0}", 3);
  const Matrix g0 = icl_test::initial_point(*random_a)[0];
  CHECK((icl_test::initial_point(*random_b)[0] - 2.0 * g0).norm() <= 1e-15 * g0.norm());
  CHECK(g0.norm() > 0.1);

  // separate: the structured LSA whose effective Gamma = u W^T is the merged Gamma_0.
  auto lsa = make(base + ", init: small_random, init_scale: 0.5, parametrization: separate, value_init: 2.0}", 3);
  const std::vector<Matrix> blocks = icl_test::initial_point(*lsa);
  CHECK(blocks[1](5, 5) == 2.0);
  CHECK(blocks[1].topRows(5).norm() == 0.0);
  CHECK(blocks[1].row(5).head(5).norm() == 0.0);
  CHECK(blocks[0].row(5).norm() == 0.0);
  CHECK(blocks[0].col(5).norm() == 0.0);
  CHECK((2.0 * blocks[0].topLeftCorner(5, 5).transpose() - g0).norm() <= 1e-15 * g0.norm());

  // The fixed training set comes from its own stream: the init does not move it.
  auto set_a = make(base + ", loss: sampled, batch: 4, fresh_batches: false}", 3);
  auto set_b = make(base + ", loss: sampled, batch: 4, fresh_batches: false, init: small_random}", 3);
  CHECK(instance_array(*set_a, "train_prompts") == instance_array(*set_b, "train_prompts"));
  CHECK_FALSE(icl_test::has_instance_array(*make(base + ", loss: sampled}", 3), "train_prompts"));
}

TEST_CASE("icl: fresh batches are a function of the evaluation's sample", "[icl]") {
  auto problem = make(std::string("{") + kSmall + ", loss: sampled, batch: 8}");
  const std::vector<Matrix> point = icl_test::random_point(*problem, 0.5, 61);
  const std::vector<Matrix> other_point = icl_test::random_point(*problem, 0.5, 62);
  const Evaluation a = evaluate_at(*problem, point, EvalContext{3, 99});
  evaluate_at(*problem, other_point, EvalContext{4, 100});
  const Evaluation again = evaluate_at(*problem, point, EvalContext{3, 99});
  const Evaluation other = evaluate_at(*problem, point, EvalContext{3, 98});
  CHECK(again.grads[0] == a.grads[0]);
  CHECK(metric(*problem, again, "batch_loss") == metric(*problem, a, "batch_loss"));
  CHECK((other.grads[0] - a.grads[0]).norm() > 1e-3 * a.grads[0].norm());

  auto fixed = make(std::string("{") + kSmall + ", loss: sampled, batch: 8, fresh_batches: false}");
  const Evaluation f1 = evaluate_at(*fixed, point, EvalContext{0, 1});
  const Evaluation f2 = evaluate_at(*fixed, point, EvalContext{7, 12345});
  CHECK(f1.grads[0] == f2.grads[0]);
}
