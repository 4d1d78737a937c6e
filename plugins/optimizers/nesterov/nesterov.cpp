// Nesterov momentum in the PyTorch SGD convention (docs/algorithms.md 2.3):
//   g   = G_t + wd W                        (coupled L2)
//   b_1 = g,   b_t = mu b_{t-1} + g         for t > 1   (no dampening)
//   W  <- W - eta_t (g + mu b_t)
#include <muonlab/plugin.hpp>

#include <string>
#include <vector>

#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::Matrix;
using muonlab::ParamType;
namespace optim = muonlab::optim;

constexpr const char* kName = "nesterov";

// Buffers of one block, sized in initialize() so that step() allocates nothing.
struct BlockState {
  Matrix buffer;    // b
  Matrix gradient;  // g = G + wd W, used twice per step
};

class Nesterov final : public optim::BlockwiseOptimizer<BlockState> {
 public:
  Nesterov(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        momentum_(params.real("momentum")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      state_[b] = {Matrix::Zero(blocks[b].rows, blocks[b].cols), Matrix::Zero(blocks[b].rows, blocks[b].cols)};
    }
    buffers_filled_ = false;
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) update_block(params[b], grads[b], state_[b]);
    buffers_filled_ = true;
  }

 private:
  void update_block(muonlab::MatrixMap w, muonlab::ConstMatrixMap grad, BlockState& s) const {
    s.gradient = grad + weight_decay_ * w;
    // PyTorch starts the buffer at the first gradient, b_1 = g.
    if (buffers_filled_) {
      optim::accumulate_momentum(optim::MomentumForm::Sum, momentum_, s.buffer, s.gradient);
    } else {
      s.buffer = s.gradient;
    }
    w -= eta_ * (s.gradient + momentum_ * s.buffer);
  }

  const double momentum_, weight_decay_;
  bool buffers_filled_ = false;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.01"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    muonlab::real("momentum", "0.9")
        .above(0.0)
        .below(1.0)
        .doc("mu in b_t = mu b_{t-1} + g and the step g + mu b_t; PyTorch requires mu > 0"),
    optim::weight_decay_param("0", "coupled L2: g = G + weight_decay * W"),
};

}  // namespace

MUONLAB_PLUGIN(Nesterov, "nesterov", "1.0.0",
               "Nesterov momentum (PyTorch SGD): b = mu b + g, W <- W - eta_t (g + mu b)", kParams)
