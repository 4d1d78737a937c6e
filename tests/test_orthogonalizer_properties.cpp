// Properties every orthogonalizer must have, checked for each one the registry lists, so a
// new orthogonalizer plugin is tested as soon as it is built. An orthogonalizer maps G to
// (an approximation of) its polar factor U V^T, which is
//   - invariant to positive scaling:      polar(c G) = polar(G), c > 0,
//   - orthogonally equivariant:           polar(Q1 G Q2^T) = Q1 polar(G) Q2^T,
//   - consistent with transposition:      polar(G^T) = polar(G)^T,
//   - zero on the zero matrix (section 1.15 of docs/algorithms.md),
// and an approximation by an odd spectral map U f(Sigma) V^T with f > 0 keeps all of these
// and is positively aligned with G: <G, O> = sum_i s_i f(s_i) > 0.
// Every orthogonalizer must be constructible with its default parameters. Each one is
// checked with its defaults, plus the extra parameter sets of kExtraConfigurations below;
// those marked scale_invariant = false there (spectral maps that depend on the size of G)
// skip only the scale-invariance check.
#include <catch2/catch.hpp>

#include <muonlab/linalg.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;

// Methods that return the polar factor to machine precision (not a finite iteration) with
// their default parameters, on the well-conditioned inputs below (gram_eig squares the
// condition number: exact here, kappa = 10, but not on ill-conditioned input).
const std::set<std::string> kExactMethods{"svd", "qdwh", "higham_newton", "gram_eig"};

// Methods computed by a backward-stable factorization (an SVD, QR, LU or symmetric
// eigendecomposition) rather than a fixed polynomial iteration, whatever spectral map they
// apply; they get the rounding tolerance of the exact methods.
const std::set<std::string> kFactorizationMethods{"svd",      "qdwh",           "higham_newton",
                                                  "gram_eig", "smoothed_polar", "schatten"};

// One orthogonalizer with one parameter set.
struct Configuration {
  std::string name;
  std::string params;  // YAML map
  bool scale_invariant = true;
  std::string label() const { return params == "{}" ? name : name + " " + params; }
};

// Non-default parameter sets that change the map itself, so that the properties below are
// also checked for them (only run when the plugin is registered).
//
// Exempt from scale invariance (scale_invariant = false): maps whose value depends on the
// size of the singular values and not only on their ratios,
//   - smoothed_polar with an absolute lambda: s / sqrt(s^2 + lambda^2) -> s / lambda for
//     small G and -> 1 for large G;
//   - schatten without normalization and c != 1/2: (G G^T)^{-c} G is homogeneous of degree
//     1 - 2c.
// Every other check (equivariance, transposition, zero, alignment, reuse) still applies.
// The default parameters of both plugins are scale invariant (relative lambda; Schatten-q
// normalization).
const Configuration kExtraConfigurations[] = {
    {"smoothed_polar", "{lambda: 0.1}", true},
    {"smoothed_polar", "{lambda: 2.0, lambda_scale: absolute}", false},
    {"schatten", "{c: 0.25}", true},
    {"schatten", "{c: 0.75, normalization: spectral}", true},
    {"schatten", "{c: 1.0, normalization: spectral}", true},
    {"schatten", "{c: 0.25, normalization: none}", false},
    {"schatten", "{c: 0.75, normalization: none}", false},
};

bool is_exact(const Configuration& configuration) {
  return configuration.params == "{}" && kExactMethods.count(configuration.name) > 0;
}

struct Shape {
  Eigen::Index rows, cols;
};
constexpr Shape kShapes[] = {{50, 20}, {20, 50}, {30, 30}};

std::vector<std::string> orthogonalizer_names() {
  return muonlab::testing::registry().names(muonlab::PluginKind::Orthogonalizer);
}

// Every registered orthogonalizer with its defaults, then the registered extra sets.
std::vector<Configuration> configurations() {
  std::vector<Configuration> all;
  const std::vector<std::string> names = orthogonalizer_names();
  for (const std::string& name : names) all.push_back(Configuration{name, "{}", true});
  for (const Configuration& extra : kExtraConfigurations) {
    if (std::count(names.begin(), names.end(), extra.name) > 0) all.push_back(extra);
  }
  return all;
}

std::unique_ptr<muonlab::OrthogonalizerHandle> make(const Configuration& configuration) {
  return muonlab::testing::make_orthogonalizer(configuration.name, configuration.params);
}

// Haar singular vectors, singular values evenly spaced in [1, 10] (condition number 10),
// so every exact polar factor here is well determined.
Matrix well_conditioned(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Eigen::Index p = std::min(rows, cols);
  const Matrix u = muonlab::haar_orthonormal(rows, p, rng);
  const Matrix v = muonlab::haar_orthonormal(cols, p, rng);
  return u * Vector::LinSpaced(p, 10.0, 1.0).asDiagonal() * v.transpose();
}

Matrix gaussian(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix g(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) g(i, j) = normal(rng);
  return g;
}

Matrix haar_square(Eigen::Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return muonlab::haar_orthonormal(n, n, rng);
}

// Output pre-filled with NaN so that an entry the plugin forgets to write is caught.
Matrix apply(muonlab::OrthogonalizerHandle& orthogonalizer, const Matrix& gradient) {
  Matrix output = Matrix::Constant(gradient.rows(), gradient.cols(), std::numeric_limits<double>::quiet_NaN());
  orthogonalizer.apply(gradient, output);
  return output;
}

double relative_difference(const Matrix& value, const Matrix& reference) {
  return (value - reference).norm() / reference.norm();
}

// Tolerance for identities that hold exactly in exact arithmetic (equivariance, transpose,
// repeated calls), where the two sides differ only by rounding of inputs and products.
// Factorization methods: backward stable, a relative perturbation ~p * eps ~ 1e-14 of G moves
// the polar factor by ~kappa times that (kappa = 10 here): 1e-12 leaves a margin of ~10. The
// same holds for the smooth spectral maps computed by SVD: their Lipschitz constants on
// [1, 10] are at most ~1 (gram_eig: ~kappa^2 eps ~ 2e-14, observed ~3e-14).
// Finite iterations: each step rounds at ~p * eps ~ 1e-14 relative and later steps amplify a
// singular-value error by at most |x f'(x)| (< 14 for 6 Keller steps, docs/algorithms.md section
// 1.14 inputs), so 1e-10 covers tens of steps of aggressive polynomials.
double rounding_tolerance(const Configuration& configuration) {
  return kFactorizationMethods.count(configuration.name) > 0 ? 1e-12 : 1e-10;
}

}  // namespace

TEST_CASE("orthogonalizers: the registry lists the built-in ones", "[orthogonalizer]") {
  const std::vector<std::string> names = orthogonalizer_names();
  for (const char* name : {"svd", "ns5", "qdwh", "higham_newton", "gram_eig", "smoothed_polar", "schatten"}) {
    CAPTURE(name);
    CHECK(std::count(names.begin(), names.end(), name) == 1);
  }
}

TEST_CASE("orthogonalizers are invariant to positive scaling of the input", "[orthogonalizer]") {
  for (const Configuration& configuration : configurations()) {
    if (!configuration.scale_invariant) continue;  // see kExtraConfigurations
    auto orthogonalizer = make(configuration);
    for (const Shape& shape : kShapes) {
      CAPTURE(configuration.label(), shape.rows, shape.cols);
      // ||G||_F = 1e6, so c G has norm 1e3 .. 1e9. A normalization guard such as NS's
      // G / (||G||_F + eps) with eps ~ 1e-7 then changes the scale by a relative
      // eps / ||c G||_F <= 1e-10, which a finite polynomial iteration amplifies by at most
      // |x f'(x)| ~ 1e1..1e2: differences stay below 1e-8. At ||G||_F ~ 1e-3 the guard alone
      // would make a 1e-4 difference, which is why the base norm is large. Exact methods have
      // no guard and scaling by 1e-3 or 1e3 changes only rounding.
      const Matrix base = well_conditioned(shape.rows, shape.cols, 101);
      const Matrix g = base * (1e6 / base.norm());
      const Matrix reference = apply(*orthogonalizer, g);
      const double tolerance =
          kFactorizationMethods.count(configuration.name) > 0 ? rounding_tolerance(configuration) : 1e-8;
      for (const double c : {1e-3, 1e3}) {
        CAPTURE(c);
        CHECK(relative_difference(apply(*orthogonalizer, c * g), reference) < tolerance);
      }
    }
  }
}

TEST_CASE("orthogonalizers commute with orthogonal transformations", "[orthogonalizer]") {
  for (const Configuration& configuration : configurations()) {
    auto orthogonalizer = make(configuration);
    for (const Shape& shape : kShapes) {
      CAPTURE(configuration.label(), shape.rows, shape.cols);
      const Matrix g = well_conditioned(shape.rows, shape.cols, 202);
      const Matrix q1 = haar_square(shape.rows, 303);
      const Matrix q2 = haar_square(shape.cols, 404);
      const Matrix rotated_input = q1 * g * q2.transpose();
      const Matrix rotated_output = q1 * apply(*orthogonalizer, g) * q2.transpose();
      CHECK(relative_difference(apply(*orthogonalizer, rotated_input), rotated_output) <
            rounding_tolerance(configuration));
    }
  }
}

TEST_CASE("orthogonalizers commute with transposition", "[orthogonalizer]") {
  for (const Configuration& configuration : configurations()) {
    auto orthogonalizer = make(configuration);
    for (const Shape& shape : kShapes) {
      CAPTURE(configuration.label(), shape.rows, shape.cols);
      const Matrix g = well_conditioned(shape.rows, shape.cols, 505);
      const Matrix transposed_output = apply(*orthogonalizer, g).transpose();
      CHECK(relative_difference(apply(*orthogonalizer, Matrix(g.transpose())), transposed_output) <
            rounding_tolerance(configuration));
    }
  }
}

TEST_CASE("orthogonalizers map the zero matrix to exactly zero", "[orthogonalizer]") {
  for (const Configuration& configuration : configurations()) {
    auto orthogonalizer = make(configuration);
    for (const Shape& shape : kShapes) {
      CAPTURE(configuration.label(), shape.rows, shape.cols);
      const Matrix o = apply(*orthogonalizer, Matrix::Zero(shape.rows, shape.cols));
      CHECK((o.array() == 0.0).all());
    }
  }
}

TEST_CASE("orthogonalizers give finite output aligned with a random input", "[orthogonalizer]") {
  for (const Configuration& configuration : configurations()) {
    auto orthogonalizer = make(configuration);
    for (const Shape& shape : kShapes) {
      CAPTURE(configuration.label(), shape.rows, shape.cols);
      // A Gaussian square matrix is often ill-conditioned: a realistic gradient.
      const Matrix g = gaussian(shape.rows, shape.cols, 606);
      const Matrix o = apply(*orthogonalizer, g);
      CHECK(o.allFinite());
      CHECK((g.array() * o.array()).sum() > 0.0);  // <G, O> > 0: a descent direction
      CHECK(orthogonalizer->last_cost().flops > 0.0);
      CHECK(orthogonalizer->last_cost().gemms >= 0);
    }
  }
}

TEST_CASE("orthogonalizers give the same result after calls at other shapes", "[orthogonalizer]") {
  for (const Configuration& configuration : configurations()) {
    CAPTURE(configuration.label());
    // One instance sees every shape twice; a fresh instance per shape is the reference.
    // Buffers kept from an earlier shape must not leak into a later result.
    auto reused = make(configuration);
    for (int round = 0; round < 2; ++round) {
      for (const Shape& shape : kShapes) {
        CAPTURE(round, shape.rows, shape.cols);
        const Matrix g = well_conditioned(shape.rows, shape.cols, 707);
        auto fresh = make(configuration);
        CHECK(relative_difference(apply(*reused, g), apply(*fresh, g)) < rounding_tolerance(configuration));
      }
    }
  }
}

TEST_CASE("exact orthogonalizers equal the SVD polar factor", "[orthogonalizer]") {
  for (const Configuration& configuration : configurations()) {
    if (!is_exact(configuration)) continue;
    auto orthogonalizer = make(configuration);
    for (const Shape& shape : kShapes) {
      CAPTURE(configuration.label(), shape.rows, shape.cols);
      const Matrix g = well_conditioned(shape.rows, shape.cols, 808);
      // Two backward-stable computations (e.g. LAPACK SVD or QDWH vs Eigen's Jacobi SVD),
      // kappa = 10: see rounding_tolerance; absolute here, ||O||_F = sqrt(p) ~ 5. gram_eig
      // adds ~q eps kappa^2 ~ 1e-13. Observed 1e-14 to 3e-14 for all four.
      CHECK((apply(*orthogonalizer, g) - muonlab::testing::exact_polar(g)).norm() < 1e-12);
    }
  }
}
