// Polar Express (Amsel, Persson, Musco, Gower 2025): a composition of per-step minimax-optimal
// odd quintics, in float64, with the published 5-step (safety 1.02) or 8-step (safety 1.01)
// table. See README.md for the math, the tables' recursion and the cost.
#include <muonlab/plugin.hpp>

#include <stdexcept>
#include <string>
#include <utility>

#include <muonlab/orth/scheduled_iteration.hpp>
#include <muonlab/orth/schedules.hpp>

namespace {

namespace ns = muonlab::newton_schulz;

// The table named by `variant`, with the input safety factor it was designed for.
ns::NamedSchedule variant_schedule(const std::string& variant) {
  if (variant == "five_step") return ns::named_schedule("polar_express_5");
  if (variant == "eight_step") return ns::named_schedule("polar_express_8");
  throw std::invalid_argument("unknown Polar Express variant '" + variant + "'");
}

// X0 = G / (s ||G||_F + eps) on the wide orientation, then the table's quintic steps.
class PolarExpress final : public ns::ScheduledIteration {
 public:
  PolarExpress(const muonlab::Params& params, const muonlab::CreateContext&)
      : PolarExpress(variant_schedule(params.text("variant")), params.integer("steps"), params.real("eps")) {}

 private:
  // steps == 0 runs the whole table.
  PolarExpress(ns::NamedSchedule table, std::int64_t steps, double eps)
      : ScheduledIteration(std::move(table.schedule), steps == 0 ? table.default_steps : steps,
                           ns::Normalization{table.safety, eps, false}) {}
};

const muonlab::ParamSpec kParams[] = {
    muonlab::choice("variant", "five_step", "five_step|eight_step")
        .doc("five_step: 5-step table, safety 1.02 (modded-nanogpt, dion; cost of ns5); eight_step: 8-step table, "
             "safety "
             "1.01 (paper; converges to U V^T for sigma >= 1e-3 ||G||_F)"),
    ns::steps_param("0", 0.0,
                    "number of quintic iterations (3 GEMMs each); 0 = the variant's table length (5 or 8); steps "
                    "past the table repeat its last triple"),
    ns::eps_param("guard in the normalization X0 = G / (s ||G||_F + eps), s = 1.02 or 1.01 by variant"),
};

}  // namespace

MUONLAB_PLUGIN(PolarExpress, "polar_express", "1.0.0",
               "Polar Express composition of optimal quintics (5-step sf 1.02 or 8-step sf 1.01 table), float64",
               kParams)
