// Muon and its simplified form (docs/algorithms.md 2.6 and 2.7, docs/theory.md 1.2):
//   M_t = beta M_{t-1} + (1 - beta) G_t            (only when momentum beta > 0)
//   N_t = (1 - beta) G_t + beta M_t  (nesterov)    else N_t = M_t
//   O_t = orthogonalizer(N_t)                       (each block separately)
//   W  <- (1 - eta_t wd) W - eta_t s O_t            (same eta_t for every block)
// With momentum 0 this is simplified Muon, W <- W - eta_t s msign(G_t), and keeps no state.
#include <muonlab/plugin.hpp>

#include <string>
#include <vector>

#include <muonlab/optim/muon_step.hpp>
#include <muonlab/optim/optimizer_common.hpp>

namespace {

namespace optim = muonlab::optim;

constexpr const char* kName = "muon";

class Muon final : public optim::BlockwiseOptimizer<> {
 public:
  // Momentum 0 (simplified Muon) keeps no buffer: N = G; otherwise Keller's EMA convention.
  Muon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName), muon_(params, kName, optim::MomentumForm::Ema, /*optional_momentum=*/true) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    muon_.initialize(blocks);
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      muon_.orthogonalize(b, grads[b]);
      muon_.apply(b, params[b], eta_);
    }
  }

 private:
  optim::MuonBlocks muon_;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.1"),
    MUONLAB_STEP_SCHEDULE_PARAMS("geometric", "0.9"),
    optim::momentum_param("0", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t; 0 = simplified Muon"),
    optim::nesterov_param("false"),
    optim::orthogonalizer_param("svd"),
    optim::scaling_param("none"),
    optim::decoupled_weight_decay_param("0"),
};

}  // namespace

MUONLAB_PLUGIN(Muon, "muon", "1.1.0", "Muon: orthogonalized (momentum) steps, W <- W - eta_t s msign(N_t)", kParams)
