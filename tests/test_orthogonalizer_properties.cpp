// Properties every orthogonalizer must have, checked for each one the registry lists, so a
// new orthogonalizer plugin is tested as soon as it is built. An orthogonalizer maps G to
// (an approximation of) its polar factor U V^T, which is
//   - invariant to positive scaling:      polar(c G) = polar(G), c > 0,
//   - orthogonally equivariant:           polar(Q1 G Q2^T) = Q1 polar(G) Q2^T,
//   - consistent with transposition:      polar(G^T) = polar(G)^T,
//   - zero on the zero matrix (section 1.15 of algorithms.md),
// and an approximation by an odd spectral map U f(Sigma) V^T with f > 0 keeps all of these
// and is positively aligned with G: <G, O> = sum_i s_i f(s_i) > 0.
// Every orthogonalizer must be constructible with its default parameters.
#include <catch2/catch.hpp>

#include <muonlab/linalg.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using muonlab::Matrix;
using muonlab::Vector;

// Methods that return the polar factor to machine precision (not a finite iteration).
const std::set<std::string> kExactMethods{"svd"};

bool is_exact(const std::string& name) { return kExactMethods.count(name) > 0; }

struct Shape {
  Eigen::Index rows, cols;
};
constexpr Shape kShapes[] = {{50, 20}, {20, 50}, {30, 30}};

std::vector<std::string> orthogonalizer_names() {
  return muonlab::testing::registry().names("orthogonalizer");
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
// Exact methods: backward-stable SVD, a relative perturbation ~p * eps ~ 1e-14 of G moves the
// polar factor by ~kappa times that (kappa = 10 here): 1e-12 leaves a margin of ~10.
// Finite iterations: each step rounds at ~p * eps ~ 1e-14 relative and later steps amplify a
// singular-value error by at most |x f'(x)| (< 14 for 6 Keller steps, algorithms.md section
// 1.14 inputs), so 1e-10 covers tens of steps of aggressive polynomials.
double rounding_tolerance(const std::string& name) { return is_exact(name) ? 1e-12 : 1e-10; }

}  // namespace

TEST_CASE("orthogonalizers: the registry lists the built-in ones", "[orthogonalizer]") {
  const std::vector<std::string> names = orthogonalizer_names();
  CHECK(std::count(names.begin(), names.end(), "svd") == 1);
  CHECK(std::count(names.begin(), names.end(), "ns5") == 1);
}

TEST_CASE("orthogonalizers are invariant to positive scaling of the input", "[orthogonalizer]") {
  for (const std::string& name : orthogonalizer_names()) {
    auto orthogonalizer = muonlab::testing::make_orthogonalizer(name);
    for (const Shape& shape : kShapes) {
      CAPTURE(name, shape.rows, shape.cols);
      // ||G||_F = 1e6, so c G has norm 1e3 .. 1e9. A normalization guard such as NS's
      // G / (||G||_F + eps) with eps ~ 1e-7 then changes the scale by a relative
      // eps / ||c G||_F <= 1e-10, which a finite polynomial iteration amplifies by at most
      // |x f'(x)| ~ 1e1..1e2: differences stay below 1e-8. At ||G||_F ~ 1e-3 the guard alone
      // would make a 1e-4 difference, which is why the base norm is large. Exact methods have
      // no guard and scaling by 1e-3 or 1e3 changes only rounding.
      const Matrix base = well_conditioned(shape.rows, shape.cols, 101);
      const Matrix g = base * (1e6 / base.norm());
      const Matrix reference = apply(*orthogonalizer, g);
      const double tolerance = is_exact(name) ? rounding_tolerance(name) : 1e-8;
      for (const double c : {1e-3, 1e3}) {
        CAPTURE(c);
        CHECK(relative_difference(apply(*orthogonalizer, c * g), reference) < tolerance);
      }
    }
  }
}

TEST_CASE("orthogonalizers commute with orthogonal transformations", "[orthogonalizer]") {
  for (const std::string& name : orthogonalizer_names()) {
    auto orthogonalizer = muonlab::testing::make_orthogonalizer(name);
    for (const Shape& shape : kShapes) {
      CAPTURE(name, shape.rows, shape.cols);
      const Matrix g = well_conditioned(shape.rows, shape.cols, 202);
      const Matrix q1 = haar_square(shape.rows, 303);
      const Matrix q2 = haar_square(shape.cols, 404);
      const Matrix rotated_input = q1 * g * q2.transpose();
      const Matrix rotated_output = q1 * apply(*orthogonalizer, g) * q2.transpose();
      CHECK(relative_difference(apply(*orthogonalizer, rotated_input), rotated_output) < rounding_tolerance(name));
    }
  }
}

TEST_CASE("orthogonalizers commute with transposition", "[orthogonalizer]") {
  for (const std::string& name : orthogonalizer_names()) {
    auto orthogonalizer = muonlab::testing::make_orthogonalizer(name);
    for (const Shape& shape : kShapes) {
      CAPTURE(name, shape.rows, shape.cols);
      const Matrix g = well_conditioned(shape.rows, shape.cols, 505);
      const Matrix transposed_output = apply(*orthogonalizer, g).transpose();
      CHECK(relative_difference(apply(*orthogonalizer, Matrix(g.transpose())), transposed_output) <
            rounding_tolerance(name));
    }
  }
}

TEST_CASE("orthogonalizers map the zero matrix to exactly zero", "[orthogonalizer]") {
  for (const std::string& name : orthogonalizer_names()) {
    auto orthogonalizer = muonlab::testing::make_orthogonalizer(name);
    for (const Shape& shape : kShapes) {
      CAPTURE(name, shape.rows, shape.cols);
      const Matrix o = apply(*orthogonalizer, Matrix::Zero(shape.rows, shape.cols));
      CHECK((o.array() == 0.0).all());
    }
  }
}

TEST_CASE("orthogonalizers give finite output aligned with a random input", "[orthogonalizer]") {
  for (const std::string& name : orthogonalizer_names()) {
    auto orthogonalizer = muonlab::testing::make_orthogonalizer(name);
    for (const Shape& shape : kShapes) {
      CAPTURE(name, shape.rows, shape.cols);
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
  for (const std::string& name : orthogonalizer_names()) {
    CAPTURE(name);
    // One instance sees every shape twice; a fresh instance per shape is the reference.
    // Buffers kept from an earlier shape must not leak into a later result.
    auto reused = muonlab::testing::make_orthogonalizer(name);
    for (int round = 0; round < 2; ++round) {
      for (const Shape& shape : kShapes) {
        CAPTURE(round, shape.rows, shape.cols);
        const Matrix g = well_conditioned(shape.rows, shape.cols, 707);
        auto fresh = muonlab::testing::make_orthogonalizer(name);
        CHECK(relative_difference(apply(*reused, g), apply(*fresh, g)) < rounding_tolerance(name));
      }
    }
  }
}

TEST_CASE("exact orthogonalizers equal the SVD polar factor", "[orthogonalizer]") {
  for (const std::string& name : orthogonalizer_names()) {
    if (!is_exact(name)) continue;
    auto orthogonalizer = muonlab::testing::make_orthogonalizer(name);
    for (const Shape& shape : kShapes) {
      CAPTURE(name, shape.rows, shape.cols);
      const Matrix g = well_conditioned(shape.rows, shape.cols, 808);
      // Two backward-stable SVDs (LAPACK vs Eigen's Jacobi), kappa = 10: see
      // rounding_tolerance; absolute here, ||O||_F = sqrt(p) ~ 5.
      CHECK((apply(*orthogonalizer, g) - muonlab::testing::exact_polar(g)).norm() < 1e-12);
    }
  }
}
