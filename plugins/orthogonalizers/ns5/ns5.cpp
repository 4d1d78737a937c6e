// Keller Jordan's quintic Newton-Schulz iteration (the orthogonalizer of the original
// Muon), in float64. See README.md for the math, the scalar model and the cost.
#include <muonlab/plugin.hpp>

#include "../common/scheduled_iteration.hpp"

namespace {

namespace ns = muonlab::newton_schulz;

// X0 = G / (||G||_F + eps) on the wide orientation, then `steps` times
// A = X X^T;  B = b A + c A A;  X <- a X + B X.
class QuinticNewtonSchulz final : public ns::ScheduledIteration {
 public:
  QuinticNewtonSchulz(const muonlab::Params& params, const muonlab::CreateContext&)
      : ScheduledIteration(ns::Schedule({ns::OddPolynomial{params.real("a"), params.real("b"), params.real("c")}}),
                           params.integer("steps"), ns::Normalization{1.0, params.real("eps"), false}) {}
};

const muonlab::ParamSpec kParams[] = {
    ns::steps_param("5", 1.0, "number of iterations (3 GEMMs each; 2 when c = 0)"),
    {"a", muonlab::ParamType::Real, "3.4445", -muonlab::kUnbounded, muonlab::kUnbounded, 0, nullptr,
     "linear coefficient of p(x) = a x + b x^3 + c x^5"},
    {"b", muonlab::ParamType::Real, "-4.7750", -muonlab::kUnbounded, muonlab::kUnbounded, 0, nullptr,
     "cubic coefficient of p(x)"},
    {"c", muonlab::ParamType::Real, "2.0315", -muonlab::kUnbounded, muonlab::kUnbounded, 0, nullptr,
     "quintic coefficient of p(x)"},
    ns::eps_param(),
};

}  // namespace

MUONLAB_PLUGIN(QuinticNewtonSchulz, "ns5", "1.1.0",
               "Keller Jordan's quintic Newton-Schulz (Muon), float64, Frobenius-normalized", kParams)
