// You Jiacheng's 5-step quintic Newton-Schulz schedule (a different (a, b, c) at each step),
// in float64. See README.md for the math, the scalar model and the cost.
#include <muonlab/plugin.hpp>

#include <muonlab/orth/scheduled_iteration.hpp>
#include <muonlab/orth/schedules.hpp>

namespace {

namespace ns = muonlab::newton_schulz;

// X0 = G / (||G||_F + eps) on the wide orientation, then at step i
// A = X X^T;  B = b_i A + c_i A A;  X <- a_i X + B X   (steps past 5 reuse step 5).
class ScheduledQuinticNewtonSchulz final : public ns::ScheduledIteration {
 public:
  ScheduledQuinticNewtonSchulz(const muonlab::Params& params, const muonlab::CreateContext&)
      : ScheduledIteration(ns::Schedule(ns::to_vector(ns::kYouQuintic)), params.integer("steps"),
                           ns::Normalization{1.0, params.real("eps"), false}) {}
};

const muonlab::ParamSpec kParams[] = {
    ns::steps_param(
        "5", 1.0, "number of quintic iterations (3 GEMMs each); steps past the 5 of the table repeat its last triple"),
    ns::eps_param(),
};

}  // namespace

MUONLAB_PLUGIN(ScheduledQuinticNewtonSchulz, "ns_quintic", "1.0.0",
               "You Jiacheng's 5-step quintic Newton-Schulz schedule, float64, Frobenius-normalized", kParams)
