// Machinery shared by the Newton-Schulz family of orthogonalizers (ns3, ns5, ns_quintic,
// polar_express, cans, gram_ns): odd-polynomial schedules, the wide orientation, the
// Frobenius pre-scaling, the iteration workspace and the step
//     X <- a X + b (X X^T) X + c (X X^T)^2 X
// with its cost. Header-only: each plugin library compiles its own copy (hidden visibility).
// See README.md in this folder.
#pragma once

#include <muonlab/types.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "muonlab/orth/shape_cache.hpp"

namespace muonlab::newton_schulz {

// p(x) = a x + b x^3 + c x^5. With c == 0 it is a cubic and its step skips the A A product.
struct OddPolynomial {
  double a, b, c;

  bool is_cubic() const { return c == 0.0; }
  double operator()(double x) const {
    const double x2 = x * x;
    return x * (a + x2 * (b + c * x2));
  }
};

// The polynomials applied at steps 0, 1, ...; steps past the end repeat the last one
// (the "repeat_last" convention of the Polar Express and CANS tables).
class Schedule {
 public:
  Schedule() = default;
  explicit Schedule(std::vector<OddPolynomial> polynomials) : polynomials_(std::move(polynomials)) {
    if (polynomials_.empty()) throw std::invalid_argument("a polynomial schedule needs at least one polynomial");
  }

  const OddPolynomial& at(std::int64_t step) const {
    const auto last = static_cast<std::int64_t>(polynomials_.size()) - 1;
    return polynomials_[static_cast<std::size_t>(std::min(step, last))];
  }
  std::int64_t size() const { return static_cast<std::int64_t>(polynomials_.size()); }

 private:
  std::vector<OddPolynomial> polynomials_;
};

// X0 = G / (safety * ||G||_F + eps). safety > 1 is the Polar Express cushion against round-off
// pushing a singular value past the design interval; eps guards tiny gradients.
// With gelfand, X0 is further divided by ||X0 X0^T||_F^{1/2} = (sum_i x_i^4)^{1/4}, a tighter
// upper bound on sigma_max(X0) than 1 (the k = 1 Gelfand bound of CANS); it reuses the first
// step's Gram matrix, so it costs no extra product.
struct Normalization {
  double safety = 1.0;
  double eps = 0.0;
  bool gelfand = false;
};

// Working on the wide orientation (p x q, p <= q) makes the Gram matrix X X^T the small one.
struct WideShape {
  Eigen::Index p, q;
  bool tall;  // the input is m x n with m > n and is transposed on the way in and out
};

inline WideShape wide_shape(Eigen::Index rows, Eigen::Index cols) {
  return WideShape{std::min(rows, cols), std::max(rows, cols), rows > cols};
}

// x = (G or G^T) / denominator, in the wide orientation; x must already be p x q.
inline void load_wide(ConstMatrixMap gradient, const WideShape& shape, double denominator, Matrix& x) {
  if (shape.tall) {
    x = gradient.transpose() / denominator;
  } else {
    x = gradient / denominator;
  }
}

// output = x, or x^T for a tall input.
inline void store_wide(const Matrix& x, const WideShape& shape, MatrixMap output) {
  if (shape.tall) {
    output = x.transpose();
  } else {
    output = x;
  }
}

// Frobenius norm without overflow or underflow for gradients far from unit scale.
inline double frobenius_norm(ConstMatrixMap gradient) { return gradient.stableNorm(); }

// Cost of one step on a p x q wide iterate: X X^T (2p^2 q) and B X (2p^2 q), plus A A (2p^3)
// for a quintic. X X^T is a full GEMM (not a SYRK); the count follows what is computed.
inline OrthogonalizerCost step_cost(const OddPolynomial& polynomial, Eigen::Index short_side, Eigen::Index long_side) {
  const double p = static_cast<double>(short_side);
  const double q = static_cast<double>(long_side);
  if (polynomial.is_cubic()) return OrthogonalizerCost{2, 4.0 * p * p * q};
  return OrthogonalizerCost{3, 4.0 * p * p * q + 2.0 * p * p * p};
}

inline void accumulate(OrthogonalizerCost& total, const OrthogonalizerCost& part) {
  total.gemms += part.gemms;
  total.flops += part.flops;
}

// Buffers of the iteration on a p x q wide iterate.
struct IterationWorkspace {
  IterationWorkspace(Eigen::Index p, Eigen::Index q) : x(p, q), next_x(p, q), gram(p, p), poly(p, p) {}
  Matrix x, next_x;   // iterate and the next one (swapped each step)
  Matrix gram, poly;  // A = X X^T and B = b A + c A A
};

inline void form_gram(IterationWorkspace& w) { w.gram.noalias() = w.x * w.x.transpose(); }

// X <- a X + (b A + c A A) X, with A = X X^T already in w.gram.
inline void apply_polynomial(IterationWorkspace& w, const OddPolynomial& polynomial) {
  w.next_x = polynomial.a * w.x;
  if (polynomial.is_cubic()) {
    w.next_x.noalias() += polynomial.b * w.gram * w.x;
  } else {
    w.poly.noalias() = polynomial.c * w.gram * w.gram;
    w.poly += polynomial.b * w.gram;
    w.next_x.noalias() += w.poly * w.x;
  }
  w.x.swap(w.next_x);  // swaps storage pointers, no copy
}

// X <- X / ||X X^T||_F^{1/2} and A <- A / ||A||_F, for A = X X^T in w.gram (X nonzero).
inline void gelfand_rescale(IterationWorkspace& w) {
  const double gram_norm = w.gram.norm();
  w.x /= std::sqrt(gram_norm);
  w.gram /= gram_norm;
}

// Runs a polynomial schedule on G: orient wide, pre-scale, iterate, orient back.
// Zero in, zero out (for any eps, including 0), at zero cost.
// Workspaces are kept per wide shape (p, q) by muonlab::orth::ShapeCache, so calls that
// alternate between shapes never reallocate and G and G^T share one.
class PolynomialIteration {
 public:
  OrthogonalizerCost run(ConstMatrixMap gradient, MatrixMap output, const Schedule& schedule, std::int64_t steps,
                         const Normalization& normalization) {
    const double norm = frobenius_norm(gradient);
    if (norm == 0.0) {
      output.setZero();
      return OrthogonalizerCost{};
    }
    const WideShape shape = wide_shape(gradient.rows(), gradient.cols());
    IterationWorkspace& w = workspaces_.get(shape.p, shape.q);
    load_wide(gradient, shape, normalization.safety * norm + normalization.eps, w.x);
    OrthogonalizerCost cost;
    for (std::int64_t step = 0; step < steps; ++step) {
      form_gram(w);
      if (step == 0 && normalization.gelfand) gelfand_rescale(w);
      apply_polynomial(w, schedule.at(step));
      accumulate(cost, step_cost(schedule.at(step), shape.p, shape.q));
    }
    store_wide(w.x, shape, output);
    return cost;
  }

 private:
  muonlab::orth::ShapeCache<IterationWorkspace> workspaces_;
};

}  // namespace muonlab::newton_schulz
