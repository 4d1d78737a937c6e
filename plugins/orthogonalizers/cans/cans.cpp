// CANS, Chebyshev-accelerated Newton-Schulz (Grishina, Smirnov, Rakhuba 2025), in float64:
// either the published 5-step quintic table, or the composition of minimax-optimal odd cubics
// on a shrinking interval [l_k, u_k] (closed form from the Chebyshev alternance), optionally
// with the Gelfand pre-scaling. See README.md for the math and the cost.
#include <muonlab/plugin.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <muonlab/orth/scheduled_iteration.hpp>
#include <muonlab/orth/schedules.hpp>

namespace {

namespace ns = muonlab::newton_schulz;

// The minimax-optimal odd cubic p(x) = a x + b x^3 approximating 1 on [l, u], 0 < l <= u:
// p = beta g(alpha x) with g(y) = 1.5 y - 0.5 y^3, where alpha makes g(alpha l) = g(alpha u)
// and beta balances the error 1 - p(l) = p(1/alpha) - 1 (alternance at l, 1/alpha, u).
ns::OddPolynomial optimal_cubic(double l, double u) {
  const double alpha = std::sqrt(3.0 / (u * u + l * u + l * l));
  const double alpha3 = alpha * alpha * alpha;
  const double beta = 4.0 / (2.0 + l * u * (l + u) * alpha3);
  return ns::OddPolynomial{1.5 * alpha * beta, -0.5 * alpha3 * beta, 0.0};
}

// A step count that no sensible (lower_bound, delta) needs: from l = 1e-12 the interval
// reaches 1 +- 1e-15 in about 25 steps.
constexpr std::int64_t kMaxAutomaticSteps = 1000;

// The optimal cubics for [l_0, u_0] = [lower_bound, 1], [l_{k+1}, u_{k+1}] = [p_k(l_k),
// 2 - p_k(l_k)]: every x0 in [lower_bound, 1] stays inside [l_k, u_k]. Runs `steps`
// polynomials, or with steps == 0 the fewest for which [l_k, u_k] lies in [1 - delta, 1 + delta].
std::vector<ns::OddPolynomial> cubic_composition(double lower_bound, std::int64_t steps, double delta) {
  std::vector<ns::OddPolynomial> composition;
  double l = lower_bound;
  double u = 1.0;
  const auto done = [&] {
    return steps > 0 ? static_cast<std::int64_t>(composition.size()) == steps : 1.0 - l <= delta;
  };
  while (!done()) {
    if (static_cast<std::int64_t>(composition.size()) == kMaxAutomaticSteps) {
      throw std::invalid_argument("cans: the cubic composition does not reach delta = " + std::to_string(delta) +
                                  " within " + std::to_string(kMaxAutomaticSteps) + " steps");
    }
    composition.push_back(optimal_cubic(l, u));
    l = composition.back()(l);
    u = 2.0 - l;
  }
  return composition;
}

std::vector<ns::OddPolynomial> schedule_for(const muonlab::Params& params) {
  const std::string variant = params.text("variant");
  if (variant == "quintic_table") return ns::to_vector(ns::kCansQuintic);
  if (variant == "cubic") {
    return cubic_composition(params.real("lower_bound"), params.integer("steps"), params.real("delta"));
  }
  throw std::invalid_argument("unknown CANS variant '" + variant + "'");
}

// X0 = G / (||G||_F + eps) on the wide orientation (further divided by ||X0 X0^T||_F^{1/2}
// with the Gelfand normalization), then the schedule's steps (steps 0: the schedule's length).
class ChebyshevNewtonSchulz final : public ns::ScheduledIteration {
 public:
  ChebyshevNewtonSchulz(const muonlab::Params& params, const muonlab::CreateContext&)
      : ScheduledIteration(ns::Schedule(schedule_for(params)), params.integer("steps"),
                           ns::Normalization{1.0, params.real("eps"), params.text("normalization") == "gelfand"}) {}
};

const muonlab::ParamSpec kParams[] = {
    muonlab::choice("variant", "quintic_table", "quintic_table|cubic")
        .doc("quintic_table: the published 5-step quintic schedule (Emerging-Optimizers 'cans'); cubic: optimal odd "
             "cubics "
             "on the shrinking interval [l_k, 2 - l_k] from [lower_bound, 1]"),
    ns::steps_param("0", 0.0,
                    "number of iterations; 0 = 5 for quintic_table, and for cubic the fewest whose guaranteed "
                    "interval lies in [1 - delta, 1 + delta]; quintic_table steps past 5 repeat its last triple"),
    muonlab::real("lower_bound", "1.0e-3")
        .above(0.0)
        .below(1.0)
        .doc("cubic: assumed lower bound of the normalized singular values (smaller ones are not lifted)"),
    muonlab::real("delta", "1.0e-3")
        .at_least(1.0e-15)
        .at_most(0.5)
        .doc("cubic with steps = 0: target half-width of the interval around 1"),
    muonlab::choice("normalization", "frobenius", "frobenius|gelfand")
        .doc("frobenius: X0 = G / (||G||_F + eps); gelfand: then divide by ||X0 X0^T||_F^{1/2} >= sigma_max (no extra "
             "GEMM)"),
    ns::eps_param(),
};

}  // namespace

MUONLAB_PLUGIN(ChebyshevNewtonSchulz, "cans", "1.0.0",
               "CANS Chebyshev-accelerated Newton-Schulz: 5-step quintic table or adaptive optimal cubics, float64",
               kParams)
