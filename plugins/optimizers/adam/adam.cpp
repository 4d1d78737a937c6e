// Adam with exact bias correction and coupled L2 weight decay (algorithms.md 2.4), with the
// shared step-size schedules (constant, geometric, cosine, list; optional linear warmup).
#include <muonlab/plugin.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../common/adam_moments.hpp"
#include "../common/optimizer_common.hpp"

namespace {

namespace optim = muonlab::optim;

constexpr const char* kName = "adam";

class Adam final : public optim::AdamOptimizer {
 public:
  Adam(const muonlab::Params& params, const muonlab::CreateContext& /*context*/) : AdamOptimizer(params, kName) {}

 private:
  // One fused pass over the block: g = G + wd W, the two moment updates, then
  // W -= lr_t * m_hat / (sqrt(v_hat) + eps). Element-wise, so a plain loop touches each
  // array once instead of once per Eigen expression.
  void update_block(muonlab::MatrixMap w, muonlab::ConstMatrixMap grad, muonlab::Matrix& m, muonlab::Matrix& v,
                    const optim::AdamBiasCorrection& correction) const override {
    const double weight_decay = this->weight_decay(), lr = eta();
    double* wd = w.data();
    const double* gd = grad.data();
    double* md = m.data();
    double* vd = v.data();
    const Eigen::Index size = w.size();
    for (Eigen::Index i = 0; i < size; ++i) {
      const double g = gd[i] + weight_decay * wd[i];
      // 0 where m_hat = 0, so beta1 = beta2 = eps = 0 is exactly signSGD with sign(0) = 0.
      wd[i] -= moments().element_step(md[i], vd[i], g, lr, correction);
    }
  }
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

MUONLAB_PLUGIN(Adam, "adam", "1.1.0", "Adam with bias correction, coupled L2 and step-size schedules",
               kParams)
