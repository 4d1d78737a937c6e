// Classical cubic Newton-Schulz iteration X <- 1.5 X - 0.5 X X^T X, in float64: the
// converging baseline of the family. See README.md for the math, the default step count
// and the cost.
#include <muonlab/plugin.hpp>

#include <string>

#include <muonlab/orth/scheduled_iteration.hpp>
#include <muonlab/orth/schedules.hpp>

namespace {

namespace ns = muonlab::newton_schulz;

// X0 = G / (||G||_F + eps) on the wide orientation, then `steps` times
// A = X X^T;  X <- 1.5 X - 0.5 A X.
class CubicNewtonSchulz final : public ns::ScheduledIteration {
 public:
  CubicNewtonSchulz(const muonlab::Params& params, const muonlab::CreateContext&)
      : ScheduledIteration(ns::Schedule({ns::kCubicNewtonSchulz}), params.integer("steps"),
                           ns::Normalization{1.0, params.real("eps"), false}) {}
};

const std::string kDefaultSteps = std::to_string(ns::kCubicDefaultSteps);

const muonlab::ParamSpec kParams[] = {
    ns::steps_param(kDefaultSteps.c_str(), 1.0,
                    "number of cubic iterations (2 GEMMs each); the default takes every sigma >= 0.01 ||G||_F to "
                    "within 1e-3 of 1"),
    ns::eps_param(),
};

}  // namespace

MUONLAB_PLUGIN(CubicNewtonSchulz, "ns3", "1.0.0",
               "cubic Newton-Schulz X <- 1.5X - 0.5XX^TX, float64, Frobenius-normalized, converges to U V^T", kParams)
