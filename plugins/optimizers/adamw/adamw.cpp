// AdamW: decoupled weight decay, then Adam with exact bias correction (docs/algorithms.md 2.4):
//   W <- (1 - eta_t wd) W
//   m = b1 m + (1-b1) G;  v = b2 v + (1-b2) G^2;   t = 1, 2, ... counts the steps taken
//   W <- W - eta_t * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
#include <muonlab/plugin.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <muonlab/optim/adam_moments.hpp>
#include <muonlab/optim/optimizer_common.hpp>

namespace {

namespace optim = muonlab::optim;

constexpr const char* kName = "adamw";

// W <- (1 - eta_t wd) W - adam step: AdamOptimizer's block pass with decoupled decay.
class AdamW final : public optim::AdamOptimizer {
 public:
  AdamW(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : AdamOptimizer(params, kName, optim::WeightDecay::Decoupled) {}
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("1e-3", "base step size eta_0"),
    optim::beta1_param(),
    optim::beta2_param(),
    optim::eps_param(),
    optim::weight_decay_param("1e-2", "decoupled: W <- (1 - eta_t * weight_decay) W before the Adam step"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
};

}  // namespace

MUONLAB_PLUGIN(AdamW, "adamw", "1.0.0", "AdamW: decoupled weight decay and bias-corrected Adam step", kParams)
