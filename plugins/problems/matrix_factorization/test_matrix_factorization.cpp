// Tests of the matrix_factorization problem plugin, through the real plugin library.
//
// Oracles: central finite differences of the loss, the dense target path (for the factored
// one), Eigen's JacobiSVD of U diag(sigma) V^T, and closed forms at special points.
#include <catch2/catch.hpp>

#include <Eigen/SVD>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "util/errors.hpp"
#include "test_support.hpp"

namespace {

using muonlab::Matrix;
using muonlab::ProblemHandle;
using muonlab::Vector;

constexpr const char* kName = "matrix_factorization";

std::unique_ptr<ProblemHandle> make(const std::string& params, std::uint64_t seed = 7) {
  return muonlab::testing::make_problem(kName, params, seed);
}

struct Evaluation {
  double loss = 0;
  std::vector<Matrix> grads;
  double rel_error = 0;
  double grad_norm = 0;
};

Evaluation evaluate_at(ProblemHandle& problem, const std::vector<Matrix>& params) {
  Evaluation e;
  e.grads = problem.allocate();
  double metrics[2] = {0, 0};
  e.loss = problem.evaluate(params, e.grads, metrics);
  e.rel_error = metrics[0];
  e.grad_norm = metrics[1];
  return e;
}

std::vector<Matrix> initial_point(ProblemHandle& problem) {
  std::vector<Matrix> params = problem.allocate();
  problem.initialize(params);
  return params;
}

Matrix instance_array(ProblemHandle& problem, const std::string& name) {
  for (const muonlab::NamedArray& a : problem.instance()) {
    if (a.name == name) return a.value;
  }
  FAIL("instance() has no array '" << name << "'");
  return {};
}

// The message of the PluginError that creating the problem raises ("" when none is raised).
std::string creation_error(const std::string& params) {
  try {
    make(params);
  } catch (const muonlab::PluginError& e) {
    return e.what();
  }
  return "";
}

bool has_instance_array(ProblemHandle& problem, const std::string& name) {
  for (const muonlab::NamedArray& a : problem.instance()) {
    if (a.name == name) return true;
  }
  return false;
}

// Entries N(0, 1/rows): X X^T then has the same O(1) scale as a target with sigma_1 = 1.
std::vector<Matrix> random_point(const ProblemHandle& problem, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Matrix> params = problem.allocate();
  for (Matrix& p : params) {
    std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(p.rows())));
    for (Eigen::Index i = 0; i < p.size(); ++i) p.data()[i] = normal(rng);
  }
  return params;
}

double relative_difference(const std::vector<Matrix>& a, const std::vector<Matrix>& b) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]).squaredNorm();
    norm += b[i].squaredNorm();
  }
  return std::sqrt(diff / norm);
}

// Exact factors of the target from its instance arrays: X* = U sqrt(Sigma), padded to k
// columns with zeros (Y* likewise from V).
std::vector<Matrix> optimum(ProblemHandle& problem, bool symmetric) {
  const Vector root = instance_array(problem, "sigma").col(0).cwiseSqrt();
  std::vector<Matrix> params = problem.allocate();
  const Matrix u = instance_array(problem, "U");
  params[0].leftCols(u.cols()) = u * root.asDiagonal();
  if (!symmetric) {
    const Matrix v = instance_array(problem, "V");
    params[1].leftCols(v.cols()) = v * root.asDiagonal();
  }
  return params;
}

const char* const kVariants[] = {
    "{symmetric: true, n: 30, rank: 4, k: 6, kappa: 20, target: factored}",
    "{symmetric: true, n: 30, rank: 4, k: 6, kappa: 20, target: dense}",
    "{symmetric: false, n: 30, m: 20, rank: 4, k: 6, kappa: 20, target: factored}",
    "{symmetric: false, n: 30, m: 20, rank: 4, k: 6, kappa: 20, target: dense}",
};

}  // namespace

TEST_CASE("matrix_factorization: blocks and metrics are declared as documented", "[matrix_factorization]") {
  auto sym = make("{n: 30, rank: 4}");
  REQUIRE(sym->blocks().size() == 1);
  CHECK(sym->blocks()[0].name == "X");
  CHECK(sym->blocks()[0].rows == 30);
  CHECK(sym->blocks()[0].cols == 4);  // k: 0 means k = rank

  auto asym = make("{symmetric: false, n: 30, m: 20, rank: 4, k: 6}");
  REQUIRE(asym->blocks().size() == 2);
  CHECK(asym->blocks()[0].name == "X");
  CHECK(asym->blocks()[0].rows == 30);
  CHECK(asym->blocks()[0].cols == 6);
  CHECK(asym->blocks()[1].name == "Y");
  CHECK(asym->blocks()[1].rows == 20);
  CHECK(asym->blocks()[1].cols == 6);

  REQUIRE(asym->metrics().size() == 2);
  CHECK(asym->metrics()[0].name == "rel_error");
  CHECK(asym->metrics()[0].unit == "1");
  CHECK(asym->metrics()[1].name == "grad_norm");
}

TEST_CASE("matrix_factorization: gradients match central finite differences", "[matrix_factorization]") {
  for (const char* params : kVariants) {
    INFO(params);
    auto problem = make(params);
    std::vector<Matrix> point = random_point(*problem, 11);
    const Evaluation at = evaluate_at(*problem, point);

    // f is a quartic polynomial, so along one coordinate the central difference errs by
    // exactly c3 h^2 (c3 the cubic coefficient, O(1) at this O(1) point): ~1e-10 for
    // h = 1e-5; rounding adds ~eps |f| / h ~ 1e-11. Both sit far below the 1e-6 bound.
    const double h = 1e-5;
    std::vector<Matrix> finite = problem->allocate();
    for (std::size_t b = 0; b < point.size(); ++b) {
      for (Eigen::Index i = 0; i < point[b].size(); ++i) {
        const double saved = point[b].data()[i];
        point[b].data()[i] = saved + h;
        const double plus = evaluate_at(*problem, point).loss;
        point[b].data()[i] = saved - h;
        const double minus = evaluate_at(*problem, point).loss;
        point[b].data()[i] = saved;
        finite[b].data()[i] = (plus - minus) / (2 * h);
      }
    }
    CHECK(relative_difference(at.grads, finite) < 1e-6);
  }
}

TEST_CASE("matrix_factorization: dense and factored targets agree at a random point", "[matrix_factorization]") {
  for (const char* shape : {"symmetric: true, n: 30", "symmetric: false, n: 30, m: 20"}) {
    INFO(shape);
    const std::string common = std::string("{") + shape + ", rank: 4, k: 6, kappa: 100, ";
    auto factored = make(common + "target: factored}");
    auto dense = make(common + "target: dense}");
    const std::vector<Matrix> point = random_point(*dense, 5);
    const Evaluation f = evaluate_at(*factored, point);
    const Evaluation d = evaluate_at(*dense, point);
    // Both paths are backward stable on O(1) data; they differ by rounding only (~1e-15).
    CHECK(std::abs(f.loss - d.loss) <= 1e-10 * d.loss);
    CHECK(std::abs(f.rel_error - d.rel_error) <= 1e-10 * d.rel_error);
    CHECK(std::abs(f.grad_norm - d.grad_norm) <= 1e-10 * d.grad_norm);
    CHECK(relative_difference(f.grads, d.grads) < 1e-10);
  }
}

TEST_CASE("matrix_factorization: factored residual stays accurate near the optimum", "[matrix_factorization]") {
  // A Gram-trace formula ||XY^T||^2 - 2<XY^T, M> + ||M||^2 cancels down to eps ||M||^2, so
  // its rel_error is noise below ~1e-8. The factored path sums non-negative pieces instead
  // and must track the dense residual (whose own error is ~eps ||M||) deep below that.
  for (const char* shape : {"symmetric: true, n: 30", "symmetric: false, n: 30, m: 20"}) {
    const bool symmetric = std::string(shape).find("true") != std::string::npos;
    const std::string common = std::string("{") + shape + ", rank: 4, k: 6, kappa: 100, ";
    auto factored = make(common + "target: factored}");
    auto dense = make(common + "target: dense}");
    const std::vector<Matrix> star = optimum(*dense, symmetric);
    const std::vector<Matrix> direction = random_point(*dense, 9);
    for (double offset : {1e-5, 1e-10}) {
      INFO(shape << ", offset " << offset);
      std::vector<Matrix> point = star;
      for (std::size_t b = 0; b < point.size(); ++b) point[b] += offset * direction[b];
      const Evaluation f = evaluate_at(*factored, point);
      const Evaluation d = evaluate_at(*dense, point);
      REQUIRE(d.rel_error > 0.1 * offset);
      REQUIRE(d.rel_error < 10 * offset);
      // Both errors are a few eps ||M|| in absolute terms, so relative to rel_error they
      // are ~1e-15 / rel_error; 1e-13 / rel_error leaves a factor ~100 of headroom
      // (1e-8 at rel_error 1e-5, 1e-3 at 1e-10, where a Gram-trace formula returns noise).
      CHECK(std::abs(f.rel_error - d.rel_error) <= 1e-13);
      CHECK(relative_difference(f.grads, d.grads) <= 1e-13 / d.rel_error);
    }
  }
}

TEST_CASE("matrix_factorization: target has the requested spectrum and orthonormal factors", "[matrix_factorization]") {
  const double kappa = 100, scale = 2.5;
  const int rank = 5;
  for (const char* spectrum : {"geometric", "two_level"}) {
    for (const char* shape : {"symmetric: true, n: 30", "symmetric: false, n: 30, m: 20"}) {
      INFO(spectrum << ", " << shape);
      const bool symmetric = std::string(shape).find("true") != std::string::npos;
      auto problem = make(std::string("{") + shape + ", rank: 5, kappa: 100, scale: 2.5, spectrum: " + spectrum +
                          ", target: dense}");
      const Matrix u = instance_array(*problem, "U");
      const Matrix v = symmetric ? u : instance_array(*problem, "V");
      const Vector sigma = instance_array(*problem, "sigma").col(0);
      REQUIRE(u.rows() == 30);
      REQUIRE(u.cols() == rank);
      REQUIRE(v.cols() == rank);
      CHECK(symmetric == !has_instance_array(*problem, "V"));

      // Householder QR gives orthonormality to a small multiple of n eps.
      CHECK((u.transpose() * u - Matrix::Identity(rank, rank)).norm() < 1e-13);
      CHECK((v.transpose() * v - Matrix::Identity(rank, rank)).norm() < 1e-13);

      Vector expected(rank);
      for (int i = 0; i < rank; ++i) {
        expected(i) = std::string(spectrum) == "geometric" ? scale * std::pow(kappa, -i / double(rank - 1))
                                                           : (i + 1 < rank ? scale : scale / kappa);
      }
      const Matrix m = u * sigma.asDiagonal() * v.transpose();
      CHECK((instance_array(*problem, "M") - m).norm() < 1e-14 * scale);

      // JacobiSVD is accurate to ~eps ||M|| per singular value; 1e-12 * sigma_1 is ample
      // and still resolves sigma_r = sigma_1 / 100 to 1e-10 relative.
      Eigen::JacobiSVD<Matrix> svd(m);
      const Vector s = svd.singularValues();
      CHECK((s.head(rank) - expected).cwiseAbs().maxCoeff() < 1e-12 * scale);
      CHECK(s.tail(s.size() - rank).cwiseAbs().maxCoeff() < 1e-12 * scale);
      CHECK(s(0) / s(rank - 1) == Approx(kappa).epsilon(1e-9));
    }
  }
}

TEST_CASE("matrix_factorization: rank 1 and rotated: false", "[matrix_factorization]") {
  auto one = make("{n: 30, rank: 1, kappa: 50, scale: 3}");
  const Matrix sigma = instance_array(*one, "sigma");
  REQUIRE(sigma.size() == 1);
  CHECK(sigma(0, 0) == 3.0);

  auto axis = make("{symmetric: false, n: 30, m: 20, rank: 4, rotated: false}");
  CHECK(instance_array(*axis, "U") == Matrix(Matrix::Identity(30, 4)));
  CHECK(instance_array(*axis, "V") == Matrix(Matrix::Identity(20, 4)));
}

TEST_CASE("matrix_factorization: the instance depends on the seed only", "[matrix_factorization]") {
  const std::string base = "{symmetric: false, n: 30, m: 20, rank: 4, k: 6";
  auto first = make(base + "}", 3);
  auto again = make(base + "}", 3);
  auto other_seed = make(base + "}", 4);
  CHECK(instance_array(*first, "U") == instance_array(*again, "U"));
  CHECK(instance_array(*first, "V") == instance_array(*again, "V"));
  CHECK(initial_point(*first)[0] == initial_point(*again)[0]);
  CHECK(initial_point(*first)[1] == initial_point(*again)[1]);
  CHECK(instance_array(*first, "U") != instance_array(*other_seed, "U"));

  // Common random numbers across a sweep: kappa, spectrum, scale and init never move U*, V*.
  for (const char* change : {", kappa: 1000}", ", spectrum: two_level, scale: 4}", ", init: balanced}",
                             ", init: aligned, init_scale: 0.5}", ", target: dense}"}) {
    INFO(change);
    auto changed = make(base + change, 3);
    CHECK(instance_array(*first, "U") == instance_array(*changed, "U"));
    CHECK(instance_array(*first, "V") == instance_array(*changed, "V"));
  }
  // ... and the target parameters never move the initial iterate.
  auto other_kappa = make(base + ", kappa: 1000, spectrum: two_level}", 3);
  CHECK(initial_point(*first)[0] == initial_point(*other_kappa)[0]);
  CHECK(initial_point(*first)[1] == initial_point(*other_kappa)[1]);

  // The symmetric U* is the asymmetric one (U* is drawn first in both).
  auto symmetric = make("{n: 30, rank: 4, k: 6}", 3);
  CHECK(instance_array(*first, "U") == instance_array(*symmetric, "U"));
}

TEST_CASE("matrix_factorization: small_random init has the documented scale", "[matrix_factorization]") {
  auto problem = make("{symmetric: false, n: 400, m: 300, rank: 4, k: 10, init_scale: 0.01}");
  const std::vector<Matrix> x0 = initial_point(*problem);
  // ||X0||_F^2 / (alpha^2 / n) is chi-square with n k = 4000 degrees of freedom, so
  // ||X0||_F^2 / (alpha^2 k) = 1 +- 2.2% (one sigma); 10% is ~4.5 sigma.
  const double alpha = 0.01, k = 10;
  CHECK(x0[0].squaredNorm() / (alpha * alpha * k) == Approx(1.0).epsilon(0.10));
  CHECK(x0[1].squaredNorm() / (alpha * alpha * k) == Approx(1.0).epsilon(0.10));
  // Entry mean: standard error alpha / sqrt(n * n k) = alpha / 1265; bound at ~5 sigma.
  CHECK(std::abs(x0[0].mean()) < alpha / 250.0);

  // The init stream is fixed: doubling alpha doubles the draw.
  auto doubled = make("{symmetric: false, n: 400, m: 300, rank: 4, k: 10, init_scale: 0.02}");
  CHECK((initial_point(*doubled)[0] - 2.0 * x0[0]).norm() <= 1e-15 * x0[0].norm());
}

TEST_CASE("matrix_factorization: aligned init gives the closed-form relative error", "[matrix_factorization]") {
  const double alpha = 0.7;
  for (const char* shape : {"symmetric: true, n: 30", "symmetric: false, n: 30, m: 20"}) {
    for (const char* target : {"factored", "dense"}) {
      INFO(shape << ", " << target);
      const bool symmetric = std::string(shape).find("true") != std::string::npos;
      auto problem = make(std::string("{") + shape +
                          ", rank: 4, k: 6, kappa: 50, init: aligned, init_scale: 0.7, target: " + target + "}");
      const std::vector<Matrix> x0 = initial_point(*problem);
      const Matrix u = instance_array(*problem, "U");
      // Same arithmetic as the plugin (alpha times U*), so equal up to the last bit.
      Matrix expected = Matrix::Zero(30, 6);
      expected.leftCols(4) = alpha * u;
      CHECK((x0[0] - expected).norm() < 1e-15);
      if (!symmetric) {
        Matrix expected_y = Matrix::Zero(20, 6);
        expected_y.leftCols(4) = alpha * instance_array(*problem, "V");
        CHECK((x0[1] - expected_y).norm() < 1e-15);
      }
      // X0 Y0^T = alpha^2 U* V*^T, so rel_error = ||alpha^2 I - Sigma||_F / ||Sigma||_F.
      const Vector sigma = instance_array(*problem, "sigma").col(0);
      const double closed_form = (Vector::Constant(4, alpha * alpha) - sigma).norm() / sigma.norm();
      CHECK(evaluate_at(*problem, x0).rel_error == Approx(closed_form).epsilon(1e-12));
    }
  }
}

TEST_CASE("matrix_factorization: balanced init is balanced and aligned", "[matrix_factorization]") {
  const double alpha = 0.3;
  auto problem = make("{symmetric: false, n: 30, m: 20, rank: 4, k: 6, init: balanced, init_scale: 0.3}");
  const std::vector<Matrix> x0 = initial_point(*problem);
  const Matrix u = instance_array(*problem, "U");
  const Matrix v = instance_array(*problem, "V");
  // X0 = U* D0 R, Y0 = V* D0 R: equal Grams R^T D0^T D0 R, product alpha^2 U* V*^T.
  // Entries are O(alpha^2) = 0.09 built from sums of k = 6 terms: rounding ~1e-17 each.
  CHECK((x0[0].transpose() * x0[0] - x0[1].transpose() * x0[1]).norm() < 1e-15);
  CHECK((x0[0] * x0[1].transpose() - alpha * alpha * u * v.transpose()).norm() < 1e-15);
  // Singular values alpha (rank times) and 0 (k - rank times).
  Eigen::JacobiSVD<Matrix> svd(x0[0]);
  CHECK((svd.singularValues().head(4) - Vector::Constant(4, alpha)).cwiseAbs().maxCoeff() < 1e-14);
  CHECK(svd.singularValues().tail(2).cwiseAbs().maxCoeff() < 1e-14);
  // R is a genuine random rotation: X0 is not the aligned alpha [U*, 0].
  CHECK((x0[0].leftCols(4) - alpha * u).norm() > 0.1 * alpha);

  auto symmetric = make("{n: 30, rank: 4, k: 6, init: balanced, init_scale: 0.3}");
  const std::vector<Matrix> s0 = initial_point(*symmetric);
  const Matrix us = instance_array(*symmetric, "U");
  CHECK((s0[0] * s0[0].transpose() - alpha * alpha * us * us.transpose()).norm() < 1e-15);
}

TEST_CASE("matrix_factorization: the exact factorization has zero error and gradient", "[matrix_factorization]") {
  for (const char* params : kVariants) {
    INFO(params);
    const bool symmetric = std::string(params).find("true") != std::string::npos;
    auto problem = make(params);
    const Evaluation at = evaluate_at(*problem, optimum(*problem, symmetric));
    // X* Y*^T reproduces M up to rounding of O(1) entries: residual ~ n eps ||M||.
    CHECK(at.rel_error < 1e-13);
    CHECK(at.grad_norm < 1e-13);
    CHECK(at.loss < 1e-26);
  }
}

TEST_CASE("matrix_factorization: instance lists M only for a dense target up to 1e6 entries",
          "[matrix_factorization]") {
  CHECK_FALSE(has_instance_array(*make("{n: 30, rank: 4}"), "M"));
  CHECK(has_instance_array(*make("{n: 30, rank: 4, target: dense}"), "M"));
  CHECK(has_instance_array(*make("{n: 1000, rank: 2, target: dense}"), "M"));
  CHECK_FALSE(has_instance_array(*make("{n: 1001, rank: 2, target: dense}"), "M"));
}

TEST_CASE("matrix_factorization: invalid parameter combinations name the parameter", "[matrix_factorization]") {
  using Catch::Matchers::Contains;
  CHECK_THAT(creation_error("{symmetric: true, n: 30, m: 20, rank: 4}"), Contains("'m'"));
  CHECK_THAT(creation_error("{n: 30, rank: 4, k: 3}"), Contains("'k'"));
  CHECK_THAT(creation_error("{n: 30, rank: 31}"), Contains("'rank'"));
  CHECK_THAT(creation_error("{symmetric: false, n: 30, m: 5, rank: 6}"), Contains("'rank'"));
  CHECK_THAT(creation_error("{symmetric: false, n: 30, m: 8, rank: 4, k: 10}"), Contains("'k'"));
  CHECK_NOTHROW(make("{symmetric: true, n: 30, m: 30, rank: 4}"));
  CHECK_NOTHROW(make("{symmetric: false, n: 30, m: 8, rank: 4, k: 8}"));
}
