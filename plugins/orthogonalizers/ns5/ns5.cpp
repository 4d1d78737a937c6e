// Keller Jordan's quintic Newton-Schulz iteration (the orthogonalizer of the original
// Muon), in float64. See README.md for the math, the scalar model and the cost.
#include <muonlab/plugin.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <vector>

namespace {

using muonlab::ConstMatrixMap;
using muonlab::Matrix;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;

// Buffers of the iteration on a p x q wide iterate (p <= q).
struct Workspace {
  Workspace(Eigen::Index p, Eigen::Index q) : x(p, q), next_x(p, q), gram(p, p), poly(p, p) {}
  Matrix x, next_x;  // iterate and the next one (swapped each step)
  Matrix gram, poly; // A = X X^T and B = b A + c A A
};

// One workspace per wide shape (p, q): an optimizer applies one orthogonalizer to all of
// its blocks, so calls alternate between shapes, and a single buffer set would be
// reallocated on every call. G and G^T share a workspace.
class WorkspacePerShape {
 public:
  Workspace& get(Eigen::Index p, Eigen::Index q) {
    for (Workspace& w : workspaces_) {
      if (w.x.rows() == p && w.x.cols() == q) return w;
    }
    workspaces_.emplace_back(p, q);
    return workspaces_.back();
  }

 private:
  std::vector<Workspace> workspaces_;
};

class QuinticNewtonSchulz final : public muonlab::Orthogonalizer {
 public:
  QuinticNewtonSchulz(const muonlab::Params& params, const muonlab::CreateContext&)
      : steps_(params.integer("steps")),
        a_(params.real("a")),
        b_(params.real("b")),
        c_(params.real("c")),
        eps_(params.real("eps")) {}

  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    // stableNorm: no overflow or underflow for gradients far from unit scale.
    const double norm = gradient.stableNorm();
    if (norm == 0.0) {  // zero in, zero out, whatever eps is (no work done)
      output.setZero();
      cost_ = OrthogonalizerCost{};
      return;
    }
    // Work on the wide orientation so that the Gram matrix X X^T is the small p x p one.
    const bool tall = gradient.rows() > gradient.cols();
    const Eigen::Index p = std::min(gradient.rows(), gradient.cols());
    const Eigen::Index q = std::max(gradient.rows(), gradient.cols());
    Workspace& w = workspaces_.get(p, q);
    // X0 = G / (||G||_F + eps)
    if (tall) {
      w.x = gradient.transpose() / (norm + eps_);
    } else {
      w.x = gradient / (norm + eps_);
    }
    for (std::int64_t step = 0; step < steps_; ++step) quintic_step(w);
    if (tall) {
      output = w.x.transpose();
    } else {
      output = w.x;
    }
    cost_ = cost(p, q);
  }

  OrthogonalizerCost last_cost() const override { return cost_; }

 private:
  // A = X X^T;  B = b A + c A A;  X <- a X + B X.
  void quintic_step(Workspace& w) const {
    w.gram.noalias() = w.x * w.x.transpose();
    w.poly.noalias() = c_ * w.gram * w.gram;
    w.poly += b_ * w.gram;
    w.next_x = a_ * w.x;
    w.next_x.noalias() += w.poly * w.x;
    w.x.swap(w.next_x);  // swaps storage pointers, no copy
  }

  // Three GEMMs per step on the p x q wide iterate: X X^T (2p^2 q), A A (2p^3), B X (2p^2 q).
  OrthogonalizerCost cost(Eigen::Index short_side, Eigen::Index long_side) const {
    const double p = static_cast<double>(short_side);
    const double q = static_cast<double>(long_side);
    const double steps = static_cast<double>(steps_);
    return OrthogonalizerCost{3 * steps_, steps * (4.0 * p * p * q + 2.0 * p * p * p)};
  }

  std::int64_t steps_;
  double a_, b_, c_, eps_;
  WorkspacePerShape workspaces_;
  OrthogonalizerCost cost_;
};

const muonlab::ParamSpec kParams[] = {
    {"steps", muonlab::ParamType::Integer, "5", 1.0, muonlab::kUnbounded, 0, nullptr,
     "number of quintic iterations (3 GEMMs each)"},
    {"a", muonlab::ParamType::Real, "3.4445", -muonlab::kUnbounded, muonlab::kUnbounded, 0, nullptr,
     "linear coefficient of p(x) = a x + b x^3 + c x^5"},
    {"b", muonlab::ParamType::Real, "-4.7750", -muonlab::kUnbounded, muonlab::kUnbounded, 0, nullptr,
     "cubic coefficient of p(x)"},
    {"c", muonlab::ParamType::Real, "2.0315", -muonlab::kUnbounded, muonlab::kUnbounded, 0, nullptr,
     "quintic coefficient of p(x)"},
    {"eps", muonlab::ParamType::Real, "1.0e-7", 0.0, muonlab::kUnbounded, 0, nullptr,
     "guard in the normalization X0 = G / (||G||_F + eps)"},
};

}  // namespace

MUONLAB_PLUGIN(QuinticNewtonSchulz, "ns5", "1.0.0",
               "Keller Jordan's quintic Newton-Schulz (Muon), float64, Frobenius-normalized", kParams)
