// Gram Newton-Schulz: runs a Newton-Schulz polynomial schedule on the small p x p Gram
// matrix R = X X^T and applies the accumulated polynomial Q to X once at the end, in
// float64. Cheaper than the standard iteration when p << q. See README.md.
#include <muonlab/plugin.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <muonlab/orth/polynomial_iteration.hpp>
#include <muonlab/orth/schedules.hpp>
#include <muonlab/orth/shape_cache.hpp>

namespace {

using muonlab::ConstMatrixMap;
using muonlab::Matrix;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;
namespace ns = muonlab::newton_schulz;

// Buffers on a p x q wide iterate.
struct GramWorkspace {
  GramWorkspace(Eigen::Index p, Eigen::Index q) : x(p, q), next_x(p, q), r(p, p), q(p, p), z(p, p), product(p, p) {}
  Matrix x, next_x;         // X (replaced only at restarts) and Q X
  Matrix r, q, z, product;  // R = Q X X^T Q, accumulated Q, step polynomial Z, scratch
};

// Costs of the p x p and p x q products, 2 m n k flops each.
OrthogonalizerCost square_product(Eigen::Index p) {
  const double d = static_cast<double>(p);
  return OrthogonalizerCost{1, 2.0 * d * d * d};
}
OrthogonalizerCost wide_product(Eigen::Index p, Eigen::Index q) {
  const double dp = static_cast<double>(p);
  return OrthogonalizerCost{1, 2.0 * dp * dp * static_cast<double>(q)};
}

// m <- (m + m^T) / 2. R, Q and Z are polynomials in X0 X0^T, hence symmetric; products of
// them are symmetric only up to rounding, which this removes before it feeds back.
void symmetrize(Matrix& m, Matrix& scratch) {
  scratch = m.transpose();
  m += scratch;
  m *= 0.5;
}

// Steps before which Q is applied to X and R recomputed: integers in [1, steps - 1].
std::vector<char> restart_steps(const std::vector<double>& restart_after, std::int64_t steps) {
  std::vector<char> restart(static_cast<std::size_t>(steps), 0);
  for (const double value : restart_after) {
    if (value != std::floor(value) || value < 1.0 || value > static_cast<double>(steps - 1)) {
      throw std::invalid_argument("gram_ns: restart_after entries must be integers in [1, steps - 1] = [1, " +
                                  std::to_string(steps - 1) + "], got " + std::to_string(value));
    }
    restart[static_cast<std::size_t>(value)] = 1;
  }
  return restart;
}

class GramNewtonSchulz final : public muonlab::Orthogonalizer {
 public:
  GramNewtonSchulz(const muonlab::Params& params, const muonlab::CreateContext&)
      : GramNewtonSchulz(ns::named_schedule(params.text("schedule")), params.integer("steps"),
                         params.real_list("restart_after"), params.real("eps")) {}

  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    const double norm = ns::frobenius_norm(gradient);
    cost_ = OrthogonalizerCost{};
    if (norm == 0.0) {  // zero in, zero out, at no cost
      output.setZero();
      return;
    }
    const ns::WideShape shape = ns::wide_shape(gradient.rows(), gradient.cols());
    GramWorkspace& w = workspaces_.get(shape.p, shape.q);
    ns::load_wide(gradient, shape, safety_ * norm + eps_, w.x);
    bool q_is_identity = true;
    for (std::int64_t step = 0; step < steps_; ++step) {
      if (step == 0 || restart_[static_cast<std::size_t>(step)]) restart(w, shape, q_is_identity);
      const ns::OddPolynomial& polynomial = schedule_.at(step);
      form_step_polynomial(w, polynomial, shape.p);
      accumulate_into_q(w, q_is_identity, shape.p);
      const bool next_restarts = step + 1 < steps_ && restart_[static_cast<std::size_t>(step + 1)];
      if (step + 1 < steps_ && !next_restarts) update_gram(w, shape.p);  // R is not needed after the last step
    }
    w.next_x.noalias() = w.q * w.x;  // X_k = Q X
    ns::accumulate(cost_, wide_product(shape.p, shape.q));
    ns::store_wide(w.next_x, shape, output);
  }

  OrthogonalizerCost last_cost() const override { return cost_; }

 private:
  // steps == 0 runs the schedule's natural length.
  GramNewtonSchulz(ns::NamedSchedule named, std::int64_t steps, const std::vector<double>& restart_after, double eps)
      : schedule_(std::move(named.schedule)),
        steps_(steps == 0 ? named.default_steps : steps),
        restart_(restart_steps(restart_after, steps_)),
        safety_(named.safety),
        eps_(eps) {}

  // X <- Q X (after the first step) and R = X X^T; Q becomes the identity.
  void restart(GramWorkspace& w, const ns::WideShape& shape, bool& q_is_identity) {
    if (!q_is_identity) {
      w.next_x.noalias() = w.q * w.x;
      w.x.swap(w.next_x);
      ns::accumulate(cost_, wide_product(shape.p, shape.q));
    }
    w.r.noalias() = w.x * w.x.transpose();
    ns::accumulate(cost_, wide_product(shape.p, shape.q));
    q_is_identity = true;
  }

  // Z = a I + b R + c R R.
  void form_step_polynomial(GramWorkspace& w, const ns::OddPolynomial& polynomial, Eigen::Index p) {
    if (polynomial.is_cubic()) {
      w.z = polynomial.b * w.r;
    } else {
      w.z.noalias() = polynomial.c * w.r * w.r;
      w.z += polynomial.b * w.r;
      ns::accumulate(cost_, square_product(p));
    }
    w.z.diagonal().array() += polynomial.a;
  }

  // Q <- Q Z (just Z when Q is the identity).
  void accumulate_into_q(GramWorkspace& w, bool& q_is_identity, Eigen::Index p) {
    if (q_is_identity) {
      w.q = w.z;
      q_is_identity = false;
      return;
    }
    w.product.noalias() = w.q * w.z;
    w.q.swap(w.product);
    symmetrize(w.q, w.product);
    ns::accumulate(cost_, square_product(p));
  }

  // R <- Z R Z.
  void update_gram(GramWorkspace& w, Eigen::Index p) {
    w.product.noalias() = w.r * w.z;
    w.r.noalias() = w.z * w.product;
    symmetrize(w.r, w.product);
    ns::accumulate(cost_, square_product(p));
    ns::accumulate(cost_, square_product(p));
  }

  ns::Schedule schedule_;
  std::int64_t steps_;
  std::vector<char> restart_;
  double safety_;
  double eps_;
  muonlab::orth::ShapeCache<GramWorkspace> workspaces_;  // one per wide shape (p, q)
  OrthogonalizerCost cost_;
};

const muonlab::ParamSpec kParams[] = {
    muonlab::choice("schedule", "polar_express_5", muonlab::newton_schulz::kScheduleChoices)
        .doc(
            "polynomial schedule (with its input safety factor): polar_express_5 (sf 1.02), polar_express_8 (sf 1.01), "
            "you_quintic, cans_quintic, keller, cubic"),
    muonlab::integer("steps", "0")
        .at_least(0.0)
        .doc("number of iterations; 0 = the schedule's natural length (8 for polar_express_8, 14 for cubic, else 5)"),
    muonlab::real_list("restart_after", "[]")
        .at_least(1.0)
        .doc("steps after which Q is applied to X and R = X X^T recomputed (integers in [1, steps - 1])"),
    muonlab::real("eps", "1.0e-7")
        .at_least(0.0)
        .doc("guard in the normalization X0 = G / (s ||G||_F + eps), s the schedule's safety factor"),
};

}  // namespace

MUONLAB_PLUGIN(GramNewtonSchulz, "gram_ns", "1.0.0",
               "Gram Newton-Schulz: a Newton-Schulz schedule iterated on the p x p Gram matrix, float64", kParams)
