// AdaMuon (Si, Zhang, Shen, arXiv 2507.11005; reference Chongjie-Si/AdaMuon adamuon.py,
// docs/algorithms.md 2.14): Muon's orthogonalized direction with an element-wise second moment of
// it, then a rescale to the Frobenius norm of a full-rank polar factor:
//   M_t = b M_{t-1} + (1-b) G_t;   N_t = (1-b) G_t + b M_t (nesterov) or M_t
//   O_t = orthogonalizer(N_t)
//   V_t = b2 V_{t-1} + (1-b2) O_t^2;   V_hat = V_t / (1 - b2^t)        (t = 1, 2, ...)
//   P_t = O_t / (sqrt(V_hat) + eps);   P_t <- P_t sqrt(min(m, n)) / (||P_t||_F + eps)
//   W  <- (1 - eta_t wd) W - eta_t s P_t                                 (s = 0.2 sqrt(max(m, n)) by default)
#include <muonlab/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <muonlab/optim/adam_moments.hpp>
#include <muonlab/optim/muon_step.hpp>
#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::Matrix;
namespace optim = muonlab::optim;

constexpr const char* kName = "adamuon";

// Buffers of one block besides muon_'s, sized in initialize() so that step() allocates nothing.
struct BlockState {
  double target_norm = 1.0;  // sqrt(min(m, n)), the Frobenius norm of a full-rank polar factor
  Matrix second_moment;      // V
};

class AdaMuon final : public optim::BlockwiseOptimizer<BlockState> {
 public:
  AdaMuon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        muon_(params, kName, optim::MomentumForm::Ema, /*optional_momentum=*/false),
        beta2_(params.real("beta2")),
        eps_(params.real("eps")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    muon_.initialize(blocks);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const std::int64_t m = blocks[b].rows, n = blocks[b].cols;
      state_[b].target_norm = std::sqrt(static_cast<double>(std::min(m, n)));
      state_[b].second_moment = Matrix::Zero(m, n);
    }
    steps_taken_ = 0;
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    ++steps_taken_;
    const double correction = 1.0 - std::pow(beta2_, static_cast<double>(steps_taken_));
    for (std::size_t b = 0; b < params.size(); ++b) {
      Matrix& update = muon_.orthogonalize(b, grads[b]);  // O, then P in place
      normalize_by_second_moment(update, state_[b].second_moment, correction);
      rescale_to_target_norm(update, state_[b].target_norm);
      muon_.apply(b, params[b], eta_);
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step (without the factor s)"}};
  }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  // V = b2 V + (1 - b2) O^2;  O <- O / (sqrt(V / (1 - b2^t)) + eps), element-wise in one pass.
  void normalize_by_second_moment(Matrix& update, Matrix& second_moment, double correction) const {
    double* o = update.data();
    double* v = second_moment.data();
    const Eigen::Index size = update.size();
    for (Eigen::Index i = 0; i < size; ++i) {
      o[i] /= optim::adam_denominator(optim::update_second_moment(v[i], beta2_, o[i]), correction, eps_);
    }
  }

  // P <- P sqrt(min(m, n)) / (||P||_F + eps): the RMS of s P is then that of s U V^T.
  void rescale_to_target_norm(Matrix& update, double target_norm) const {
    update *= target_norm / (update.norm() + eps_);
  }

  optim::MuonBlocks muon_;  // momentum, O and s of each block, the final update
  const double beta2_, eps_;
  std::int64_t steps_taken_ = 0;
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.02"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t"),
    optim::nesterov_param("true"),
    optim::beta2_param("0.999", "EMA factor of the element-wise second moment of O_t"),
    optim::eps_param("1e-8", "added to sqrt(V_hat) and to ||P||_F").above(0.0),
    optim::orthogonalizer_param("svd", "polar-factor routine applied to each block (the reference uses ns5)"),
    optim::scaling_param("rms"),
    optim::decoupled_weight_decay_param("0.01"),
};

}  // namespace

MUONLAB_PLUGIN(AdaMuon, "adamuon", "1.0.0", "AdaMuon: Muon direction normalized by its element-wise second moment",
               kParams)
