// AdamW: decoupled weight decay, then Adam with exact bias correction (algorithms.md 2.4):
//   W <- (1 - eta_t wd) W
//   m = b1 m + (1-b1) G;  v = b2 v + (1-b2) G^2;   t = 1, 2, ... counts the steps taken
//   W <- W - eta_t * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
#include <muonlab/plugin.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../common/adam_moments.hpp"
#include "../common/optimizer_common.hpp"

namespace {

using muonlab::Matrix;
namespace optim = muonlab::optim;

constexpr const char* kName = "adamw";

class AdamW final : public muonlab::Optimizer {
 public:
  AdamW(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : schedule_(optim::StepSchedule::from_params(params, kName)),
        moments_(params.real("beta1"), params.real("beta2"), params.real("eps")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    blocks_ = blocks;
    moments_.initialize(blocks);
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    optim::check_block_shapes(kName, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
    // The bias correction counts the updates folded into m and v (t = 1 on the first step).
    const optim::AdamBiasCorrection correction = moments_.advance();
    for (std::size_t b = 0; b < params.size(); ++b) {
      update_block(params[b], grads[b], moments_.first(b), moments_.second(b), correction);
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step"}};
  }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  // One fused element-wise pass: decay, the two moment updates, the Adam step.
  void update_block(muonlab::MatrixMap w, muonlab::ConstMatrixMap grad, Matrix& m, Matrix& v,
                    const optim::AdamBiasCorrection& correction) const {
    // (1 - eta wd) is exactly 1 for wd = 0, so W is not perturbed then.
    const double shrink = 1.0 - eta_ * weight_decay_;
    double* wd = w.data();
    const double* gd = grad.data();
    double* md = m.data();
    double* vd = v.data();
    const Eigen::Index size = w.size();
    for (Eigen::Index i = 0; i < size; ++i) {
      const double step = moments_.element_step(md[i], vd[i], gd[i], eta_, correction);
      wd[i] *= shrink;
      // As in adam: m_hat = 0 takes no Adam step (step = 0), so eps = 0 with a zero gradient stays 0.
      wd[i] -= step;
    }
  }

  const optim::StepSchedule schedule_;
  optim::AdamMoments moments_;
  const double weight_decay_;
  std::vector<muonlab::BlockSpec> blocks_;
  double eta_ = 0.0;
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
