// Adam with exact bias correction and coupled L2 weight decay (docs/algorithms.md 2.4), with the
// shared step-size schedules (constant, geometric, cosine, list; optional linear warmup).
#include <muonlab/plugin.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <muonlab/optim/adam_moments.hpp>
#include <muonlab/optim/optimizer_common.hpp>

namespace {

namespace optim = muonlab::optim;

constexpr const char* kName = "adam";

// g = G + wd W; m, v; W -= lr_t * m_hat / (sqrt(v_hat) + eps): AdamOptimizer's block pass
// with the decay coupled into the gradient.
class Adam final : public optim::AdamOptimizer {
 public:
  Adam(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : AdamOptimizer(params, kName, optim::WeightDecay::Coupled) {}
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("1e-3", "base step size eta_0"),
    optim::beta1_param(),
    optim::beta2_param(),
    optim::eps_param(),
    optim::weight_decay_param("0", "coupled L2 factor: g <- g + weight_decay * W"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
};

}  // namespace

MUONLAB_PLUGIN(Adam, "adam", "1.1.0", "Adam with bias correction, coupled L2 and step-size schedules", kParams)
