// signSGD and Signum (docs/algorithms.md 2.5):
//   signSGD (momentum 0):  W <- (1 - eta_t wd) W - eta_t sign(G_t)
//   Signum  (momentum b):  M_t = b M_{t-1} + (1 - b) G_t,  W <- (1 - eta_t wd) W - eta_t sign(M_t)
// with sign(0) = 0: an entry whose direction is exactly zero does not move.
#include <muonlab/plugin.hpp>

#include <string>
#include <vector>

#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::Matrix;
namespace optim = muonlab::optim;

constexpr const char* kName = "signsgd";

class SignSgd final : public optim::BlockwiseOptimizer<Matrix> {  // state: M of each block (Signum only)
 public:
  SignSgd(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName), beta_(params.real("momentum")), weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    if (!uses_momentum()) return;  // signSGD keeps no state
    for (std::size_t b = 0; b < blocks.size(); ++b) state_[b] = Matrix::Zero(blocks[b].rows, blocks[b].cols);
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    // (1 - eta wd) is exactly 1 for wd = 0, so W is not perturbed then.
    const double shrink = 1.0 - eta_ * weight_decay_;
    for (std::size_t b = 0; b < params.size(); ++b) {
      muonlab::MatrixMap w = params[b];
      if (!uses_momentum()) {
        w = shrink * w - eta_ * grads[b].cwiseSign();
        continue;
      }
      optim::accumulate_momentum(optim::MomentumForm::Ema, beta_, state_[b], grads[b]);
      w = shrink * w - eta_ * state_[b].cwiseSign();
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step (every entry moves by eta_t or 0)"}};
  }

 private:
  bool uses_momentum() const { return beta_ > 0.0; }

  const double beta_, weight_decay_;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.01"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t; 0 = signSGD, > 0 = Signum"),
    optim::weight_decay_param("0", "decoupled: W <- (1 - eta_t * weight_decay) W"),
};

}  // namespace

MUONLAB_PLUGIN(SignSgd, "signsgd", "1.0.0", "signSGD / Signum: W <- W - eta_t sign(M_t), sign(0) = 0", kParams)
