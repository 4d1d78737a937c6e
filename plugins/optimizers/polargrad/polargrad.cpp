// PolarGrad (Lau, Long, Su, arXiv 2505.21799; reference timlautk/polargrad polar_grad.py,
// docs/algorithms.md 2.12): the polar step scaled by the nuclear norm, i.e. steepest descent for
// the spectral norm.
//   momentum first (default):  M_t = b M_{t-1} + (1-b) G_t,  U_t = polar(M_t),  nu_t = <M_t, U_t>,
//                              W <- (1 - eta_t wd) W - eta_t nu_t U_t
//   polar first:               U_t = polar(G_t),  nu_t = <G_t, U_t>,  M_t = b M_{t-1} + (1-b) U_t,
//                              W <- (1 - eta_t wd) W - eta_t nu_t M_t
// nu is computed from the orthogonalizer's output, so for an approximate polar factor it is
// the reference's <M, U> rather than the exact nuclear norm.
#include <muonlab/plugin.hpp>

#include <string>
#include <vector>

#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::ParamType;
namespace optim = muonlab::optim;

constexpr const char* kName = "polargrad";

// Buffers of one block, sized in initialize() so that step() allocates nothing.
struct BlockState {
  Matrix momentum;  // M
  Matrix polar;     // U
};

class PolarGrad final : public optim::BlockwiseOptimizer<BlockState> {
 public:
  PolarGrad(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        beta_(params.real("momentum")),
        polar_first_(params.boolean("polar_first")),
        orthogonalizer_(params.orthogonalizer("orthogonalizer")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      state_[b] = {Matrix::Zero(blocks[b].rows, blocks[b].cols), Matrix::Zero(blocks[b].rows, blocks[b].cols)};
    }
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    nuclear_total_ = 0.0;
    for (std::size_t b = 0; b < params.size(); ++b) {
      const double nu = polar_first_ ? polar_first_step(params[b], grads[b], state_[b])
                                     : momentum_first_step(params[b], grads[b], state_[b]);
      nuclear_total_ += nu;
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step (before the factor nu_t)"},
            {"nuclear_norm", "1", "sum over blocks of nu_t = <M_t, U_t> (or <G_t, U_t> with polar_first)"}};
  }
  void read_diagnostics(double* values) const override {
    values[0] = eta_;
    values[1] = nuclear_total_;
  }

 private:
  double momentum_first_step(muonlab::MatrixMap w, muonlab::ConstMatrixMap grad, BlockState& s) const {
    optim::accumulate_momentum(optim::MomentumForm::Ema, beta_, s.momentum, grad);
    orthogonalizer_.apply(s.momentum, s.polar);
    const double nu = s.momentum.cwiseProduct(s.polar).sum();
    apply_update(w, nu, s.polar);
    return nu;
  }

  double polar_first_step(muonlab::MatrixMap w, muonlab::ConstMatrixMap grad, BlockState& s) const {
    orthogonalizer_.apply(grad, s.polar);
    const double nu = grad.cwiseProduct(s.polar).sum();
    optim::accumulate_momentum(optim::MomentumForm::Ema, beta_, s.momentum, s.polar);
    apply_update(w, nu, s.momentum);
    return nu;
  }

  // W <- (1 - eta wd) W - eta nu D; with wd = 0 the factor is exactly 1.
  void apply_update(muonlab::MatrixMap w, double nu, const Matrix& direction) const {
    optim::decoupled_update(w, eta_, weight_decay_, eta_ * nu, direction);
  }

  const double beta_;
  const bool polar_first_;
  const muonlab::OrthogonalizerRef orthogonalizer_;
  const double weight_decay_;
  double nuclear_total_ = 0.0;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.02"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "EMA factor beta (M_t = beta M_{t-1} + (1-beta) X_t); 0 = PolarSGD"),
    muonlab::boolean("polar_first", "false")
        .doc("orthogonalize the gradient and average the polar factors (true) instead of the reverse"),
    optim::orthogonalizer_param("svd", "polar-factor routine (the reference defaults to QDWH)"),
    optim::decoupled_weight_decay_param("0"),
};

}  // namespace

MUONLAB_PLUGIN(PolarGrad, "polargrad", "1.0.0", "PolarGrad: nuclear-norm scaled polar steps, W <- W - eta_t <M,U> U",
               kParams)
