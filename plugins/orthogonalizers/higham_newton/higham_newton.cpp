// Higham's scaled Newton iteration for the polar factor, X <- (zeta X + X^{-T} / zeta) / 2,
// on the square input or on the R of a thin QR of a tall one. Needs a full-rank input and
// says so clearly otherwise. See README.md for the math, the cost and the limits.
#include <muonlab/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <muonlab/orth/lapack.hpp>
#include <muonlab/orth/shape_cache.hpp>

namespace {

using muonlab::ConstMatrixMap;
using muonlab::Matrix;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;
namespace lapack = muonlab::orth::lapack;

struct Settings {
  double min_rcond;        // reject inputs whose 1-norm reciprocal condition estimate is below
  double tolerance;        // stop when the relative change of X is at most this
  double scale_tolerance;  // stop scaling once the relative change is below this
  int max_iterations;
};

double norm_1(const Matrix& x) { return x.cwiseAbs().colwise().sum().maxCoeff(); }
double norm_inf(const Matrix& x) { return x.cwiseAbs().rowwise().sum().maxCoeff(); }

[[noreturn]] void throw_singular(double rcond, double min_rcond) {
  char text[400];
  std::snprintf(text, sizeof(text),
                "higham_newton: the input is singular or numerically rank-deficient (1-norm reciprocal "
                "condition estimate %.3g < min_rcond %.3g); Newton's iteration inverts the iterate and "
                "needs a full-rank input. Use qdwh or svd, which return U_r V_r^T for rank-deficient input",
                rcond, min_rcond);
  throw std::invalid_argument(text);
}

// Buffers for one tall shape long x short (G and G^T share them).
struct Workspace {
  Workspace(Eigen::Index long_side, Eigen::Index short_side)
      : a(long_side, short_side),
        x(short_side, short_side),
        inverse(short_side, short_side),
        next(short_side, short_side) {
    qr.reserve(long_side, short_side);
    lu.reserve(short_side);
  }
  Matrix a;        // tall orientation of G; then its QR factors; then the thin Q
  Matrix x;        // Newton iterate (short x short)
  Matrix inverse;  // X^{-1}
  Matrix next;     // the next X
  lapack::HouseholderQr qr;
  lapack::LuInverse lu;
};

class HighamNewton final : public muonlab::Orthogonalizer {
 public:
  HighamNewton(const muonlab::Params& params, const muonlab::CreateContext&)
      : settings_{params.real("min_rcond"), params.real("tolerance"), params.real("scale_tolerance"),
                  static_cast<int>(params.integer("max_iterations"))} {}

  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    const bool tall = gradient.rows() >= gradient.cols();
    const Eigen::Index q = std::max(gradient.rows(), gradient.cols());
    const Eigen::Index p = std::min(gradient.rows(), gradient.cols());
    Workspace& w = workspaces_.get(q, p);
    cost_ = OrthogonalizerCost{};
    if (tall) {
      w.a = gradient;
    } else {
      w.a = gradient.transpose();
    }
    if (!w.a.allFinite()) throw std::invalid_argument("higham_newton: the input has NaN or Inf entries");
    const double largest = w.a.cwiseAbs().maxCoeff();
    if (largest == 0.0) {  // the polar factor of the zero matrix is zero (U_r V_r^T with r = 0)
      output.setZero();
      return;
    }
    // An exact power-of-two scaling keeps X, X^{-1} and their norm products far from over-
    // and underflow; the polar factor does not depend on it.
    w.a *= std::ldexp(1.0, -std::ilogb(largest));
    const bool reduce = q > p;
    if (reduce) {
      reduce_to_square(w);
    } else {
      w.x = w.a;
    }
    newton(w);
    write_output(w, tall, reduce, output);
  }

  OrthogonalizerCost last_cost() const override { return cost_; }

 private:
  // A = Q R (thin): polar(A) = Q polar(R). R goes to x, Q stays in a.
  void reduce_to_square(Workspace& w) {
    const Eigen::Index q = w.a.rows(), p = w.a.cols();
    w.qr.factor(w.a.data(), q, p);
    w.x = w.a.topRows(p).triangularView<Eigen::Upper>();
    w.qr.form_q(w.a.data(), q, p);
    const double qd = static_cast<double>(q), pd = static_cast<double>(p);
    cost_.flops += 2.0 * (2.0 * qd * pd * pd - 2.0 / 3.0 * pd * pd * pd);  // dgeqrf + dorgqr
  }

  // X <- (zeta X + X^{-T} / zeta) / 2 with the (1, inf)-norm scaling until the relative
  // change is at most the tolerance.
  void newton(Workspace& w) {
    const Eigen::Index p = w.x.rows();
    const double pd = static_cast<double>(p);
    bool scaling = true;
    for (int iteration = 0;; ++iteration) {
      if (iteration == settings_.max_iterations) {
        throw std::runtime_error("higham_newton: no convergence after " + std::to_string(iteration) +
                                 " iterations; raise max_iterations or tolerance, or use qdwh");
      }
      invert(w, iteration == 0);
      const double zeta =
          scaling ? std::pow(norm_1(w.inverse) * norm_inf(w.inverse) / (norm_1(w.x) * norm_inf(w.x)), 0.25) : 1.0;
      w.next = (0.5 * zeta) * w.x + (0.5 / zeta) * w.inverse.transpose();
      const double change = (w.next - w.x).norm() / w.next.norm();
      w.x.swap(w.next);                   // swaps storage pointers, no copy
      cost_.flops += 2.0 * pd * pd * pd;  // LU (2/3 p^3) and inverse from it (4/3 p^3)
      if (change < settings_.scale_tolerance) scaling = false;
      if (change <= settings_.tolerance) return;
    }
  }

  // inverse = X^{-1}; on the first iteration X is the input (or its R), whose conditioning
  // decides whether Newton's iteration applies at all.
  void invert(Workspace& w, bool check_rank) {
    const Eigen::Index p = w.x.rows();
    const double norm = norm_1(w.x);
    w.inverse = w.x;
    if (!w.lu.factor(w.inverse.data(), p)) throw_singular(0.0, settings_.min_rcond);
    if (check_rank) {
      const double rcond = w.lu.reciprocal_condition(w.inverse.data(), p, norm);
      if (!(rcond >= settings_.min_rcond)) throw_singular(rcond, settings_.min_rcond);
    }
    w.lu.invert(w.inverse.data(), p);
  }

  void write_output(Workspace& w, bool tall, bool reduced, MatrixMap output) {
    if (!reduced) {  // square: no Q
      if (tall) {
        output = w.x;
      } else {
        output = w.x.transpose();
      }
      return;
    }
    if (tall) {
      output.noalias() = w.a * w.x;
    } else {
      output.noalias() = w.x.transpose() * w.a.transpose();
    }
    const double q = static_cast<double>(w.a.rows()), p = static_cast<double>(w.a.cols());
    cost_.gemms += 1;
    cost_.flops += 2.0 * q * p * p;
  }

  Settings settings_;
  muonlab::orth::ShapeCache<Workspace> workspaces_;
  OrthogonalizerCost cost_;
};

const muonlab::ParamSpec kParams[] = {
    muonlab::real("min_rcond", "1.0e-12")
        .at_least(0.0)
        .below(1.0)
        .doc("an input (or the R of its QR) whose 1-norm reciprocal condition estimate is below this is "
             "rejected as rank-deficient, with an error suggesting qdwh or svd"),
    muonlab::real("tolerance", "1.0e-8")
        .above(0.0)
        .at_most(1.0)
        .doc("stop when ||X_{k+1} - X_k||_F <= tolerance ||X_{k+1}||_F; by quadratic convergence the "
             "error left is about tolerance^2 / 2"),
    muonlab::real("scale_tolerance", "1.0e-2")
        .at_least(0.0)
        .at_most(1.0)
        .doc("the (1,inf)-norm scaling is switched off for good once the relative change drops below this"),
    muonlab::integer("max_iterations", "30")
        .at_least(1.0)
        .at_most(1000.0)
        .doc("limit on the Newton iterations; reaching it is an error"),
};

}  // namespace

MUONLAB_PLUGIN(
    HighamNewton, "higham_newton", "1.0.0",
    "Higham's scaled Newton iteration for the polar factor (square, or on R of a thin QR); full-rank input only",
    kParams)
