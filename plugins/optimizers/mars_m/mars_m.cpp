// MARS-M (docs/algorithms.md 2.9): Muon with the MARS variance-reduction correction; the update
// is in mars_muon.hpp (shared with muon_mvr2, which uses other defaults).
#include <muonlab/plugin.hpp>

#include "mars_muon.hpp"

namespace {

namespace optim = muonlab::optim;
namespace mars = muonlab::mars;

class MarsM final : public mars::MarsMuon {
 public:
  MarsM(const muonlab::Params& params, const muonlab::CreateContext& /*context*/) : MarsMuon(params, "mars_m") {}
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("1e-3"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) c_t"),
    mars::gamma_param("0.025"),
    mars::variant_param("approx"),
    mars::clip_norm_param(),
    mars::orthogonalizer_param(),
    mars::scaling_param(),
    optim::decoupled_weight_decay_param("0.1"),
};

}  // namespace

MUONLAB_PLUGIN(MarsM, "mars_m", "1.0.0",
               "MARS-M: Muon on an EMA of clipped MARS-corrected gradients (exact or approximate correction)", kParams)
