// Tests of the QDWH orthogonalizer against the exact polar factor (Eigen's JacobiSVD through
// muonlab::testing::exact_polar), closed forms for rank-deficient inputs, the iteration
// counts of docs/algorithms.md section 1.12 and the backward error on an ill-conditioned input.
#include <catch2/catch.hpp>

#include <muonlab/linalg.hpp>

#include <Eigen/SVD>

#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "qdwh_polar.hpp"
#include "test_support.hpp"

#include "../common/polar_test_support.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;
namespace qdwh = muonlab::orth::qdwh;
using muonlab::orth_test::apply;
using muonlab::orth_test::compose;
using muonlab::orth_test::Factors;
using muonlab::orth_test::geometric_spectrum;
using muonlab::orth_test::haar_factors;
using muonlab::orth_test::orthonormality_defect;

// Runs the header class directly, to read its report.
struct DirectRun {
  Matrix output;
  qdwh::Report report;
};

DirectRun run_direct(const Matrix& g, const qdwh::Settings& settings) {
  qdwh::QdwhPolar polar(std::max(g.rows(), g.cols()), std::min(g.rows(), g.cols()));
  DirectRun run{Matrix(g.rows(), g.cols()), {}};
  polar.compute(muonlab::ConstMatrixMap(g.data(), g.rows(), g.cols()),
                muonlab::MatrixMap(run.output.data(), g.rows(), g.cols()), settings);
  run.report = polar.report();
  return run;
}

}  // namespace

TEST_CASE("qdwh weights and iteration counts match the catalogue", "[qdwh]") {
  // docs/algorithms.md 1.12 [COMP]: for l0 = 1e-3 the weights are (251.992, 15749.3, 16000.3) and
  // l1 = 0.248, then (6.637, 7.943, 13.580) and l2 = 0.963 (quoted to 3-6 digits).
  const qdwh::Weights first = qdwh::halley_weights(1e-3);
  CHECK(first.a == Approx(251.992).epsilon(1e-5));
  CHECK(first.b == Approx(15749.3).epsilon(1e-5));
  CHECK(first.c == Approx(16000.3).epsilon(1e-5));
  const double l1 = qdwh::weighted_halley(1e-3, first);
  CHECK(l1 == Approx(0.248).epsilon(2e-3));
  const qdwh::Weights second = qdwh::halley_weights(l1);
  CHECK(second.a == Approx(6.637).epsilon(1e-3));
  CHECK(second.b == Approx(7.943).epsilon(1e-3));
  CHECK(second.c == Approx(13.580).epsilon(1e-3));
  CHECK(qdwh::weighted_halley(l1, second) == Approx(0.963).epsilon(1e-3));
  // At l = 1 the weights are Halley's (3, 1, 3) and f(1) = 1.
  const qdwh::Weights halley = qdwh::halley_weights(1.0);
  CHECK(halley.a == Approx(3.0));
  CHECK(halley.b == Approx(1.0));
  CHECK(halley.c == Approx(3.0));
  // Iterations to |1 - l| <= 5 eps: 1e-1 -> 4, 1e-3 -> 4, 1e-6 -> 5, 1e-9 -> 5, 1e-16 -> 6.
  CHECK(qdwh::iterations_for_bound(1e-1) == 4);
  CHECK(qdwh::iterations_for_bound(1e-3) == 4);
  CHECK(qdwh::iterations_for_bound(1e-6) == 5);
  CHECK(qdwh::iterations_for_bound(1e-9) == 5);
  CHECK(qdwh::iterations_for_bound(1e-16) == 6);
  CHECK(qdwh::iterations_for_bound(qdwh::kMinLowerBound) <= 6);
}

TEST_CASE("qdwh equals the exact polar factor on tall, wide and square inputs", "[qdwh]") {
  auto qdwh_handle = muonlab::testing::make_orthogonalizer("qdwh");
  const auto input = [](Eigen::Index rows, Eigen::Index cols) {
    const Eigen::Index p = std::min(rows, cols);
    return compose(haar_factors(rows, cols, p, 17 + static_cast<std::uint64_t>(rows)), geometric_spectrum(p, 10.0));
  };
  // QDWH is backward stable (Nakatsukasa & Higham 2012): it returns the polar factor of
  // G + E with ||E|| ~ p eps ||G||, as does the Jacobi SVD of the oracle. The polar factor
  // moves by ~ ||E|| / s_min, so with s_min = 0.1, ||G|| = 1 the two differ by ~1e-13 at
  // most; observed 1e-14 to 3e-14. Orthonormality is not amplified by the conditioning: a
  // few eps times sqrt(p) (1e-13).
  muonlab::orth_test::check_exact_polar_on_shapes(*qdwh_handle, input, 1e-12, 1e-13);
}

TEST_CASE("qdwh needs at most 6 iterations on a kappa 1e12 input and stays backward stable", "[qdwh]") {
  const Factors f = haar_factors(60, 30, 30, 23);
  const Vector s = geometric_spectrum(30, 1e12);
  const Matrix g = compose(f, s);
  // rank_threshold below 1e-12, so the smallest singular value (1e-12 s_1) is kept.
  qdwh::Settings settings;
  settings.rank_threshold = 1e-15;
  const DirectRun run = run_direct(g, settings);
  CHECK(run.report.rank == 30);
  CHECK(run.report.bound_rigorous);
  // The lower bound must really be one: s_min / ||G||_F (alpha is the Frobenius norm of the
  // reduced matrix, equal to ||G||_F up to rounding), and the pessimism of
  // 1 / (sqrt(r) ||R_11^{-1}||_1) costs at most a factor r ~ 30 here.
  CHECK(run.report.lower_bound <= s(29) / g.norm());
  CHECK(run.report.lower_bound >= s(29) / g.norm() / 1e3);
  CHECK(run.report.iterations <= 6);
  CHECK(run.report.iterations == qdwh::iterations_for_bound(run.report.lower_bound));
  CHECK(run.report.qr_iterations >= 1);  // the first, ill-conditioned steps use the QR form
  // The polar factor itself is determined only to ~eps kappa ~ 1e-4 here, so compare the
  // defining properties instead: orthonormal columns, and G = O H with H = sym(O^T G)
  // symmetric positive semidefinite. Both are backward-error quantities, O(p eps) for a
  // backward-stable method whatever kappa is (observed ~5e-15 and ~1e-15).
  const Matrix& o = run.output;
  CHECK(orthonormality_defect(o) < 1e-13);
  const Matrix h = 0.5 * (o.transpose() * g + g.transpose() * o);
  CHECK((g - o * h).norm() / g.norm() < 1e-13);
  const Vector h_eigenvalues = Eigen::SelfAdjointEigenSolver<Matrix>(h).eigenvalues();
  CHECK(h_eigenvalues.minCoeff() > -1e-13 * g.norm());
  // Directions with s_i >= 1e-4 are well determined (error ~ sqrt(p) eps / s_i <= 1e-11)
  // and must agree with the closed form: O v_i = u_i (observed <= 3e-13).
  for (Eigen::Index i = 0; i < 30 && s(i) >= 1e-4; ++i) {
    CAPTURE(i);
    CHECK((o * f.v.col(i) - f.u.col(i)).norm() < 1e-10);
  }
}

TEST_CASE("qdwh of a rank-deficient input is U_r V_r^T", "[qdwh]") {
  auto qdwh_handle = muonlab::testing::make_orthogonalizer("qdwh");
  const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{20, 10}, {10, 30}, {12, 12}};
  for (const auto& [rows, cols] : shapes) {
    CAPTURE(rows, cols);
    const Factors f = haar_factors(rows, cols, 3, 31 + static_cast<std::uint64_t>(cols));
    Vector s(3);
    s << 3.0, 1.0, 1e-3;
    const Matrix g = compose(f, s);
    const Matrix o = apply(*qdwh_handle, g);
    // Closed form: the factors G was built from. Without the rank-revealing QR the rounding
    // noise in the null space (~1e-16 ||G||) would be lifted towards 1 (QDWH lifts every
    // singular value above its lower bound). The kept block has condition number 3e3, so
    // the error is ~p eps * 3e3 ~ 1e-11 at most; observed ~1e-13.
    CHECK((o - f.u * f.v.transpose()).norm() < 1e-10);
    CHECK(std::abs(o.squaredNorm() - 3.0) < 1e-10);

    qdwh::Settings settings;
    CHECK(run_direct(g, settings).report.rank == 3);
  }
}

TEST_CASE("qdwh maps the zero matrix to exactly zero at no cost", "[qdwh]") {
  auto qdwh_handle = muonlab::testing::make_orthogonalizer("qdwh");
  const std::pair<Eigen::Index, Eigen::Index> shapes[] = {{7, 3}, {3, 7}, {4, 4}, {1, 1}};
  for (const auto& [rows, cols] : shapes) {
    CAPTURE(rows, cols);
    const Matrix o = apply(*qdwh_handle, Matrix::Zero(rows, cols));
    CHECK((o.array() == 0.0).all());
    CHECK(qdwh_handle->last_cost().gemms == 0);
    CHECK(qdwh_handle->last_cost().flops == 0.0);
  }
}

TEST_CASE("qdwh of a rank-one input is u v^T", "[qdwh]") {
  // G = 5 u v^T: one column survives the pivoted QR and the reduced matrix is a single
  // column, whose normalization already has singular value 1; the Halley steps keep it
  // there (f(1) = 1).
  const Factors f = haar_factors(9, 6, 1, 41);
  const Matrix g = 5.0 * f.u * f.v.transpose();
  const DirectRun run = run_direct(g, qdwh::Settings{});
  CHECK(run.report.rank == 1);
  CHECK(run.report.iterations <= 6);
  // Rounding of the QR, a few scalar steps and one product: a few eps.
  CHECK((run.output - f.u * f.v.transpose()).norm() < 1e-14);
}

TEST_CASE("qdwh counts one GEMM per QR step, three per Cholesky step and one at the end", "[qdwh]") {
  const Matrix g = compose(haar_factors(40, 16, 16, 43), geometric_spectrum(16, 1e6));
  const DirectRun run = run_direct(g, qdwh::Settings{});
  const int cholesky_iterations = run.report.iterations - run.report.qr_iterations;
  CHECK(run.report.cost.gemms == run.report.qr_iterations + 3 * cholesky_iterations + 1);
  // Hand count for a full-rank 40 x 16 input (p = r = 16, q = 40): pivoted QR and Q_1
  // 2 (2 q p^2 - 2 p^3 / 3), triangular inverse p^3 / 3, final product 2 q p^2; each QR step
  // 2 (2 (2p) p^2 - 2 p^3 / 3) + 2 p^3, each Cholesky step p^3 + p^3 / 3 + 2 p^3.
  const double p = 16, q = 40;
  const double expected = 2 * (2 * q * p * p - 2 * p * p * p / 3) + p * p * p / 3 + 2 * q * p * p +
                          run.report.qr_iterations * (2 * (4 * p * p * p - 2 * p * p * p / 3) + 2 * p * p * p) +
                          cholesky_iterations * (p * p * p + p * p * p / 3 + 2 * p * p * p);
  CHECK(run.report.cost.flops == Approx(expected));
}

TEST_CASE("qdwh rejects NaN input with a clear error", "[qdwh]") {
  auto qdwh_handle = muonlab::testing::make_orthogonalizer("qdwh");
  Matrix g = Matrix::Ones(5, 3);
  g(2, 1) = std::numeric_limits<double>::quiet_NaN();
  Matrix o(5, 3);
  CHECK_THROWS_WITH(qdwh_handle->apply(g, o), Catch::Contains("NaN or Inf"));
}

TEST_CASE("qdwh rejects out-of-range parameters", "[qdwh]") {
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("qdwh", "{rank_threshold: 1.0}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("qdwh", "{rank_threshold: -1.0e-3}"));
  CHECK_THROWS(muonlab::testing::make_orthogonalizer("qdwh", "{max_iterations: 0}"));
  CHECK_NOTHROW(muonlab::testing::make_orthogonalizer("qdwh", "{rank_threshold: 0.0, max_iterations: 6}"));
}
