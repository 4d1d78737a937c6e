// Keller Jordan's quintic Newton-Schulz iteration (the orthogonalizer of the original
// Muon), in float64. See README.md for the math, the scalar model and the cost.
#include <muonlab/plugin.hpp>

#include <muonlab/orth/scheduled_iteration.hpp>

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
    muonlab::real("a", "3.4445").doc("linear coefficient of p(x) = a x + b x^3 + c x^5"),
    muonlab::real("b", "-4.7750").doc("cubic coefficient of p(x)"),
    muonlab::real("c", "2.0315").doc("quintic coefficient of p(x)"),
    ns::eps_param(),
};

}  // namespace

MUONLAB_PLUGIN(QuinticNewtonSchulz, "ns5", "1.1.0",
               "Keller Jordan's quintic Newton-Schulz (Muon), float64, Frobenius-normalized", kParams)
