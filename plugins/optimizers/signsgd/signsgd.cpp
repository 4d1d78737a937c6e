// signSGD and Signum (algorithms.md 2.5):
//   signSGD (momentum 0):  W <- (1 - eta_t wd) W - eta_t sign(G_t)
//   Signum  (momentum b):  M_t = b M_{t-1} + (1 - b) G_t,  W <- (1 - eta_t wd) W - eta_t sign(M_t)
// with sign(0) = 0: an entry whose direction is exactly zero does not move.
#include <muonlab/plugin.hpp>

#include <string>
#include <vector>

#include "../common/optimizer_common.hpp"

namespace {

using muonlab::Matrix;
namespace optim = muonlab::optim;

constexpr const char* kName = "signsgd";

class SignSgd final : public muonlab::Optimizer {
 public:
  SignSgd(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : schedule_(optim::StepSchedule::from_params(params, kName)),
        beta_(params.real("momentum")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    blocks_ = blocks;
    momentum_.clear();
    if (!uses_momentum()) return;  // signSGD keeps no state
    for (const muonlab::BlockSpec& block : blocks) momentum_.push_back(Matrix::Zero(block.rows, block.cols));
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    optim::check_block_shapes(kName, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
    // (1 - eta wd) is exactly 1 for wd = 0, so W is not perturbed then.
    const double shrink = 1.0 - eta_ * weight_decay_;
    for (std::size_t b = 0; b < params.size(); ++b) {
      muonlab::MatrixMap w = params[b];
      if (!uses_momentum()) {
        w = shrink * w - eta_ * grads[b].cwiseSign();
        continue;
      }
      optim::accumulate_momentum(optim::MomentumForm::Ema, beta_, momentum_[b], grads[b]);
      w = shrink * w - eta_ * momentum_[b].cwiseSign();
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step (every entry moves by eta_t or 0)"}};
  }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  bool uses_momentum() const { return beta_ > 0.0; }

  const optim::StepSchedule schedule_;
  const double beta_, weight_decay_;
  std::vector<muonlab::BlockSpec> blocks_;
  std::vector<Matrix> momentum_;  // M, one per block (empty for signSGD)
  double eta_ = 0.0;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.01"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t; 0 = signSGD, > 0 = Signum"),
    optim::weight_decay_param("0", "decoupled: W <- (1 - eta_t * weight_decay) W"),
};

}  // namespace

MUONLAB_PLUGIN(SignSgd, "signsgd", "1.0.0", "signSGD / Signum: W <- W - eta_t sign(M_t), sign(0) = 0", kParams)
