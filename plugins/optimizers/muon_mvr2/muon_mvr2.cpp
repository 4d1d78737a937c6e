// Muon-MVR2 (docs/algorithms.md 2.10): Muon on a variance-reduced momentum whose correction uses
// the current sample's gradient at the previous iterate (two gradient evaluations per step).
// The update is the MARS-M update of ../mars_m/mars_muon.hpp with variant exact by default;
// the defaults are those of the Python-matched port described in docs/algorithms.md 2.10.
#include <muonlab/plugin.hpp>

#include "../mars_m/mars_muon.hpp"

namespace {

namespace optim = muonlab::optim;
namespace mars = muonlab::mars;

class MuonMvr2 final : public mars::MarsMuon {
 public:
  MuonMvr2(const muonlab::Params& params, const muonlab::CreateContext& /*context*/) : MarsMuon(params, "muon_mvr2") {}
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("1e-3"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "EMA factor mu of M_t = mu M_{t-1} + (1-mu) c_t"),
    mars::gamma_param("0.025"),
    mars::variant_param("exact"),
    mars::clip_norm_param(),
    mars::orthogonalizer_param(),
    mars::scaling_param(),
    optim::decoupled_weight_decay_param("0"),
};

}  // namespace

MUONLAB_PLUGIN(MuonMvr2, "muon_mvr2", "1.0.0",
               "Muon-MVR2: Muon on a variance-reduced (STORM-type) momentum, two gradients of one sample per step",
               kParams)
