// NorMuon (Li, Liu, Liang, Chen, Zhao, arXiv 2510.05491; reference zichongli5/NorMuon
// normuon.py, docs/algorithms.md 2.15): Muon's orthogonalized direction with a per-row (per output
// neuron) second moment, rescaled back to the Frobenius norm it had:
//   M_t = b M_{t-1} + (1-b) G_t;   N_t = (1-b) G_t + b M_t (nesterov) or M_t
//   O_t = orthogonalizer(N_t);     phi = ||O_t||_F
//   v_t = b2 v_{t-1} + (1-b2) rowmean(O_t^2)          (v has one entry per row, no bias correction)
//   P_t = diag(1 / (sqrt(v_t) + eps)) O_t;   P_t <- P_t phi / (||P_t||_F + eps)
//   W  <- (1 - eta_t wd) W - eta_t s P_t               (s = sqrt(max(1, m/n)) by default)
#include <muonlab/plugin.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <muonlab/optim/muon_step.hpp>
#include <muonlab/optim/optimizer_common.hpp>

namespace {

using muonlab::Matrix;
using muonlab::Vector;
namespace optim = muonlab::optim;

constexpr const char* kName = "normuon";

class NorMuon final : public optim::BlockwiseOptimizer<> {
 public:
  NorMuon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : BlockwiseOptimizer(params, kName),
        muon_(params, kName, optim::MomentumForm::Ema, /*optional_momentum=*/false),
        beta2_(params.real("beta2")),
        eps_(params.real("eps")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    reset_blocks(blocks);
    muon_.initialize(blocks);
    row_moment_.clear();
    for (const muonlab::BlockSpec& block : blocks) row_moment_.push_back(Vector::Zero(block.rows));
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    begin_step(iteration, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      Matrix& update = muon_.orthogonalize(b, grads[b]);  // O, then P in place
      const double norm_before = update.norm();
      normalize_rows(update, row_moment_[b]);
      update *= norm_before / (update.norm() + eps_);
      muon_.apply(b, params[b], eta_);
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step (without the factor s)"}};
  }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  // v = b2 v + (1 - b2) rowmean(O^2);  row i of O divided by sqrt(v_i) + eps.
  void normalize_rows(Matrix& update, Vector& row_moment) const {
    const double cols = static_cast<double>(update.cols());
    row_moment = beta2_ * row_moment + ((1.0 - beta2_) / cols) * update.rowwise().squaredNorm();
    for (Eigen::Index i = 0; i < update.rows(); ++i) update.row(i) /= std::sqrt(row_moment(i)) + eps_;
  }

  optim::MuonBlocks muon_;  // momentum, O and s of each block, the final update
  const double beta2_, eps_;
  std::vector<Vector> row_moment_;  // v (m entries), one per block
};

const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.02"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),
    optim::momentum_param("0.95", "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t"),
    optim::nesterov_param("true"),
    optim::beta2_param("0.95", "EMA factor of the per-row mean square of O_t"),
    optim::eps_param("1e-10", "added to sqrt(v) and to ||P||_F").above(0.0),
    optim::orthogonalizer_param("svd", "polar-factor routine applied to each block (the reference uses ns5)"),
    optim::scaling_param("shape"),
    optim::decoupled_weight_decay_param("0"),
};

}  // namespace

MUONLAB_PLUGIN(NorMuon, "normuon", "1.0.0", "NorMuon: Muon direction with per-row second-moment normalization", kParams)
