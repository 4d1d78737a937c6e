// Heavy-ball momentum in the PyTorch SGD convention (docs/algorithms.md 2.2):
//   g   = G_t + wd W                        (coupled L2)
//   b_1 = g,   b_t = mu b_{t-1} + (1 - tau) g   for t > 1   (tau = dampening)
//   W  <- W - eta_t b_t
#include <muonlab/plugin.hpp>

#include <string>
#include <vector>

#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::Matrix;
using muonlab::ParamType;
namespace optim = muonlab::optim;

constexpr const char* kName = "heavy_ball";

class HeavyBall final : public optim::BlockwiseOptimizer<Matrix> {  // state: the buffer b of each block
 public:
  HeavyBall(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        momentum_(params.real("momentum")),
        dampening_(params.real("dampening")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    for (std::size_t b = 0; b < blocks.size(); ++b) state_[b] = Matrix::Zero(blocks[b].rows, blocks[b].cols);
    buffers_filled_ = false;
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      update_buffer(params[b], grads[b], state_[b]);
      params[b] -= eta_ * state_[b];
    }
    buffers_filled_ = true;
  }

 private:
  // PyTorch starts the buffer at the first (undamped) gradient, b_1 = g, not (1 - tau) g.
  void update_buffer(const muonlab::MatrixMap& w, muonlab::ConstMatrixMap grad, Matrix& buffer) const {
    if (!buffers_filled_) {
      buffer = grad + weight_decay_ * w;
      return;
    }
    buffer = momentum_ * buffer + (1.0 - dampening_) * (grad + weight_decay_ * w);
  }

  const double momentum_, dampening_, weight_decay_;
  bool buffers_filled_ = false;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.01"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.9", "mu in b_t = mu b_{t-1} + (1 - dampening) g"),
    muonlab::real("dampening", "0")
        .at_least(0.0)
        .at_most(1.0)
        .doc("tau: weight 1 - tau of the new gradient in the buffer (not applied to b_1 = g)"),
    optim::weight_decay_param("0", "coupled L2: g = G + weight_decay * W"),
};

}  // namespace

MUONLAB_PLUGIN(HeavyBall, "heavy_ball", "1.0.0",
               "heavy-ball momentum (PyTorch SGD): b = mu b + (1 - tau) g, W <- W - eta_t b", kParams)
