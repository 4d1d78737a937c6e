// QDWH (QR-based dynamically weighted Halley) polar factor, after a rank-revealing QR that
// removes the numerical null space. Header-only so that the tests can read the iteration
// count and the lower bound; the plugin (qdwh.cpp) wraps it. See README.md for the math.
#pragma once

#include <muonlab/types.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include <muonlab/orth/lapack.hpp>

namespace muonlab::orth::qdwh {

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();
// Converged when the lower bound is within 5 eps of 1 (Nakatsukasa, Bai, Gygi 2010).
constexpr double kBoundTolerance = 5.0 * kEpsilon;
// Iterate-change test used when the lower bound is not rigorous: the iteration converges
// cubically, so a change of (5 eps)^{1/3} leaves an error of about 5 eps.
inline double change_tolerance() { return std::cbrt(5.0 * kEpsilon); }
// Smallest lower bound used: l0 >= eps keeps the iteration count at 6 or fewer.
constexpr double kMinLowerBound = kEpsilon;
// Above this weight c the QR form is used (the Cholesky form would square a condition
// number of about c); below it the cheaper Cholesky form is as accurate.
constexpr double kCholeskyMaxWeight = 100.0;

struct Weights {
  double a, b, c;
};

// Dynamically weighted Halley weights for a lower bound l in (0, 1] on the singular values
// of the iterate (docs/algorithms.md section 1.12): the rational map
// f(x) = x (a + b x^2) / (1 + c x^2) then sends [l, 1] into [f(l), 1] with f(l) as large as
// possible. At l = 1 they are Halley's (3, 1, 3).
inline Weights halley_weights(double l) {
  l = std::min(l, 1.0);
  const double l2 = l * l;
  const double d = std::cbrt(4.0 * (1.0 - l2) / (l2 * l2));
  const double root = std::sqrt(1.0 + d);
  const double a = root + 0.5 * std::sqrt(8.0 - 4.0 * d + 8.0 * (2.0 - l2) / (l2 * root));
  const double b = (a - 1.0) * (a - 1.0) / 4.0;
  return {a, b, a + b - 1.0};
}

inline double weighted_halley(double x, const Weights& w) {
  const double x2 = x * x;
  return x * (w.a + w.b * x2) / (1.0 + w.c * x2);
}

inline bool bound_converged(double l) { return std::abs(1.0 - l) <= kBoundTolerance; }

// Iterations the scalar recursion l <- f(l) needs from l0 to reach 1 within 5 eps.
inline int iterations_for_bound(double l0) {
  double l = std::max(l0, kMinLowerBound);
  int iterations = 0;
  while (!bound_converged(l)) {
    l = std::min(1.0, weighted_halley(l, halley_weights(l)));
    ++iterations;
  }
  return iterations;
}

// Flops of a Householder QR of a rows x cols matrix (rows >= cols); forming its thin Q
// explicitly costs the same (LAPACK Working Note 41 counts for dgeqrf and dorgqr).
inline double qr_flops(double rows, double cols) { return 2.0 * rows * cols * cols - 2.0 / 3.0 * cols * cols * cols; }

struct Settings {
  double rank_threshold = 1e-12;  // keep |R_ii| > rank_threshold * |R_11|
  int max_iterations = 10;
};

struct Report {
  Eigen::Index rank = 0;       // columns kept after the rank-revealing QR
  double lower_bound = 0.0;    // l0, lower bound on the singular values of the first iterate
  bool bound_rigorous = true;  // false when l0 was raised to kMinLowerBound
  int iterations = 0;
  int qr_iterations = 0;  // of which in QR form (the rest in Cholesky form)
  OrthogonalizerCost cost;
};

// Polar factor U_r V_r^T of a long x short or short x long matrix. Holds every buffer for
// that shape, sized in the constructor, so compute() allocates nothing.
class QdwhPolar {
 public:
  QdwhPolar(Eigen::Index long_side, Eigen::Index short_side)
      : long_(long_side),
        short_(short_side),
        a_(long_side, short_side),
        iterate_(short_side * short_side),
        next_(short_side * short_side),
        stack_(2 * short_side * short_side),
        small_(short_side * short_side),
        solve_(short_side * short_side) {
    pivoted_qr_.reserve(long_side, short_side);
    stack_qr_.reserve(2 * short_side, short_side);
  }

  void compute(ConstMatrixMap gradient, MatrixMap output, const Settings& settings) {
    report_ = Report{};
    const bool tall = gradient.rows() >= gradient.cols();
    if (tall) {
      a_ = gradient;
    } else {
      a_ = gradient.transpose();
    }
    if (!a_.allFinite()) throw std::invalid_argument("qdwh: the input has NaN or Inf entries");
    const double largest = a_.cwiseAbs().maxCoeff();
    if (largest == 0.0) {  // the polar factor of the zero matrix is zero
      output.setZero();
      return;
    }
    // Scaling by a power of two is exact and keeps every later quantity far from over- and
    // underflow; the polar factor does not depend on it.
    a_ *= std::ldexp(1.0, -std::ilogb(largest));
    const Eigen::Index r = reduce_to_full_rank(settings.rank_threshold);
    iterate(r, settings.max_iterations);
    const auto q1 = a_.leftCols(r);
    const Eigen::Map<const Matrix> w(iterate_.data(), short_, r);
    if (tall) {
      output.noalias() = q1 * w.transpose();
    } else {
      output.noalias() = w * q1.transpose();
    }
    report_.cost.gemms += 1;
    report_.cost.flops += 2.0 * static_cast<double>(long_ * short_ * r);
  }

  const Report& report() const { return report_; }

 private:
  // A P = Q R with column pivoting; keeps the r leading columns whose |R_ii| exceed the
  // threshold. With M = P R_1^T (short x r, full column rank, polar(A) = Q_1 polar(M)^T),
  // leaves X_0 = M / ||M||_F in iterate_, Q_1 in a_.leftCols(r) and the lower bound in the
  // report. Returns r.
  Eigen::Index reduce_to_full_rank(double rank_threshold) {
    const double p = static_cast<double>(short_), q = static_cast<double>(long_);
    pivoted_qr_.factor(a_.data(), long_, short_);
    report_.cost.flops += qr_flops(q, p);

    const double cutoff = rank_threshold * std::abs(a_(0, 0));
    Eigen::Index r = 0;
    while (r < short_ && std::abs(a_(r, r)) > cutoff) ++r;
    report_.rank = r;

    Eigen::Map<Matrix> m(iterate_.data(), short_, r);
    m.setZero();
    for (Eigen::Index j = 0; j < short_; ++j) {  // row original_column(j) of M = column j of R_1
      const int row = pivoted_qr_.original_column(j);
      for (Eigen::Index i = 0; i <= std::min(j, r - 1); ++i) m(row, i) = a_(i, j);
    }
    const double alpha = m.norm();  // >= sigma_max(M)
    set_lower_bound(r, alpha);

    m /= alpha;

    pivoted_qr_.form_q(a_.data(), long_, r);
    report_.cost.flops += qr_flops(q, static_cast<double>(r));
    return r;
  }

  // sigma_min(M) = sigma_min(R_1) >= sigma_min(R_11) >= 1 / (sqrt(r) ||R_11^{-1}||_1), since
  // R_1 = [R_11 R_12] and ||B||_2 <= sqrt(r) ||B||_1 for r x r B. Divided by alpha this
  // bounds the singular values of X_0 from below.
  void set_lower_bound(Eigen::Index r, double alpha) {
    Eigen::Map<Matrix> inverse(small_.data(), r, r);
    inverse = a_.topLeftCorner(r, r).triangularView<Eigen::Upper>();
    const bool invertible = lapack::invert_upper_triangular(inverse.data(), r);
    report_.cost.flops += std::pow(static_cast<double>(r), 3) / 3.0;
    const double inverse_norm =
        invertible ? inverse.cwiseAbs().colwise().sum().maxCoeff() : std::numeric_limits<double>::infinity();
    const double bound = 1.0 / (std::sqrt(static_cast<double>(r)) * inverse_norm * alpha);
    report_.bound_rigorous = bound >= kMinLowerBound;
    report_.lower_bound = std::min(1.0, std::max(bound, kMinLowerBound));
  }

  // X <- polar(X_0) by weighted Halley steps until the lower bound reaches 1.
  void iterate(Eigen::Index r, int max_iterations) {
    double l = report_.lower_bound;
    double change = std::numeric_limits<double>::infinity();
    while (!converged(l, change)) {
      if (report_.iterations == max_iterations) {
        char text[320];
        std::snprintf(text, sizeof(text),
                      "qdwh: no convergence after %d iterations (lower bound %.3g, rank %ld, last change "
                      "%.3g); the kept block is too ill-conditioned for its rank decision: raise "
                      "rank_threshold or use svd",
                      max_iterations, report_.lower_bound, static_cast<long>(r), change);
        throw std::runtime_error(text);
      }
      const Weights w = halley_weights(l);
      if (w.c > kCholeskyMaxWeight) {
        qr_step(r, w);
      } else {
        cholesky_step(r, w);
      }
      const Eigen::Map<const Matrix> x(iterate_.data(), short_, r), next(next_.data(), short_, r);
      change = (next - x).norm();
      iterate_.swap(next_);  // swaps storage pointers, no copy
      l = std::min(1.0, weighted_halley(l, w));
      ++report_.iterations;
    }
  }

  bool converged(double l, double change) const {
    return bound_converged(l) && (report_.bound_rigorous || change <= change_tolerance());
  }

  // [sqrt(c) X; I] = [Q_1; Q_2] R,  X_next = (b/c) X + (a - b/c) / sqrt(c) Q_1 Q_2^T.
  void qr_step(Eigen::Index r, const Weights& w) {
    const Eigen::Index p = short_;
    const Eigen::Map<const Matrix> x(iterate_.data(), p, r);
    Eigen::Map<Matrix> next(next_.data(), p, r), stack(stack_.data(), p + r, r);
    const double root_c = std::sqrt(w.c);
    stack.topRows(p) = root_c * x;
    stack.bottomRows(r).setIdentity();
    stack_qr_.factor(stack.data(), p + r, r);
    stack_qr_.form_q(stack.data(), p + r, r);
    next = (w.b / w.c) * x;
    next.noalias() += ((w.a - w.b / w.c) / root_c) * stack.topRows(p) * stack.bottomRows(r).transpose();
    const double pd = static_cast<double>(p), rd = static_cast<double>(r);
    report_.cost.flops += 2.0 * qr_flops(pd + rd, rd) + 2.0 * pd * rd * rd;
    report_.cost.gemms += 1;
    ++report_.qr_iterations;
  }

  // Z = I + c X^T X = U^T U,  X_next = (b/c) X + (a - b/c) X Z^{-1}  (two triangular solves).
  void cholesky_step(Eigen::Index r, const Weights& w) {
    const Eigen::Index p = short_;
    const Eigen::Map<const Matrix> x(iterate_.data(), p, r);
    Eigen::Map<Matrix> next(next_.data(), p, r), z(small_.data(), r, r), y(solve_.data(), p, r);
    z.setIdentity();
    z.selfadjointView<Eigen::Upper>().rankUpdate(x.transpose(), w.c);
    if (!lapack::cholesky_upper(z.data(), r)) {
      throw std::runtime_error("qdwh: Cholesky factorization of I + c X^T X failed (non-finite iterate)");
    }
    y = x;
    z.triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(y);              // X U^{-1}
    z.triangularView<Eigen::Upper>().transpose().solveInPlace<Eigen::OnTheRight>(y);  // X U^{-1} U^{-T}
    next = (w.b / w.c) * x + (w.a - w.b / w.c) * y;
    const double pd = static_cast<double>(p), rd = static_cast<double>(r);
    report_.cost.flops += pd * rd * rd + rd * rd * rd / 3.0 + 2.0 * pd * rd * rd;
    report_.cost.gemms += 3;  // SYRK and two TRSMs
  }

  Eigen::Index long_, short_;
  Matrix a_;  // the tall orientation; then R and reflectors; then Q_1 in its first r columns
  // Storage for matrices whose shape depends on the rank r (viewed through Eigen::Map):
  Vector iterate_;  // X, short x r (first M = P R_1^T)
  Vector next_;     // the next X
  Vector stack_;    // [sqrt(c) X; I], (short + r) x r, then its thin Q
  Vector small_;    // R_11^{-1}, then Z = I + c X^T X and its Cholesky factor, r x r
  Vector solve_;    // X Z^{-1}, short x r
  lapack::PivotedQr pivoted_qr_;
  lapack::HouseholderQr stack_qr_;
  Report report_;
};

}  // namespace muonlab::orth::qdwh
