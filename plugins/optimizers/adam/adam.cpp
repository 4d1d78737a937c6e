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

class Adam final : public muonlab::Optimizer {
 public:
  Adam(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : schedule_(optim::StepSchedule::from_params(params, kName)),
        moments_(params.real("beta1"), params.real("beta2"), params.real("eps")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    blocks_ = blocks;
    moments_.initialize(blocks);
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    optim::check_block_shapes(kName, blocks_, params, grads);
    lr_used_ = schedule_.at(iteration);
    // The bias correction counts the updates folded into m and v (t = 1 on the first step).
    const optim::AdamBiasCorrection correction = moments_.advance();
    for (std::size_t b = 0; b < params.size(); ++b) {
      update_block(params[b], grads[b], moments_.first(b), moments_.second(b), correction);
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step"}};
  }
  void read_diagnostics(double* values) const override { values[0] = lr_used_; }

 private:
  // One fused pass over the block: g = G + wd W, the two moment updates, then
  // W -= lr_t * m_hat / (sqrt(v_hat) + eps). Element-wise, so a plain loop touches each
  // array once instead of once per Eigen expression.
  void update_block(muonlab::MatrixMap w, muonlab::ConstMatrixMap grad, muonlab::Matrix& m,
                    muonlab::Matrix& v, const optim::AdamBiasCorrection& correction) const {
    double* wd = w.data();
    const double* gd = grad.data();
    double* md = m.data();
    double* vd = v.data();
    const Eigen::Index size = w.size();
    for (Eigen::Index i = 0; i < size; ++i) {
      const double g = gd[i] + weight_decay_ * wd[i];
      // 0 where m_hat = 0, so beta1 = beta2 = eps = 0 is exactly signSGD with sign(0) = 0.
      wd[i] -= moments_.element_step(md[i], vd[i], g, lr_used_, correction);
    }
  }

  const optim::StepSchedule schedule_;
  optim::AdamMoments moments_;
  const double weight_decay_;
  std::vector<muonlab::BlockSpec> blocks_;
  double lr_used_ = 0.0;
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
