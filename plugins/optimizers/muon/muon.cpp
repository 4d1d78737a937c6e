// Muon and its simplified form (algorithms.md 2.6 and 2.7, paper-notes.md 1.2):
//   M_t = beta M_{t-1} + (1 - beta) G_t            (only when momentum beta > 0)
//   N_t = (1 - beta) G_t + beta M_t  (nesterov)    else N_t = M_t
//   O_t = orthogonalizer(N_t)                       (each block separately)
//   W  <- (1 - eta_t wd) W - eta_t s O_t            (same eta_t for every block)
// With momentum 0 this is simplified Muon, W <- W - eta_t s msign(G_t), and keeps no state.
#include <muonlab/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace {

using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::ParamType;

enum class Schedule { Constant, Geometric, List };
enum class Scaling { None, Shape, Rms };

Schedule parse_schedule(const std::string& name) {
  if (name == "constant") return Schedule::Constant;
  if (name == "geometric") return Schedule::Geometric;
  if (name == "list") return Schedule::List;
  throw std::invalid_argument("muon: unknown schedule '" + name + "'");
}

Scaling parse_scaling(const std::string& name) {
  if (name == "none") return Scaling::None;
  if (name == "shape") return Scaling::Shape;
  if (name == "rms") return Scaling::Rms;
  throw std::invalid_argument("muon: unknown scaling '" + name + "'");
}

// Factor s multiplying the orthogonalized update of an m x n block (algorithms.md 2.0).
double scale_factor(Scaling scaling, std::int64_t rows, std::int64_t cols) {
  const double m = static_cast<double>(rows);
  const double n = static_cast<double>(cols);
  switch (scaling) {
    case Scaling::None: return 1.0;
    case Scaling::Shape: return std::sqrt(std::max(1.0, m / n));  // Keller
    case Scaling::Rms: return 0.2 * std::sqrt(std::max(m, n));    // Moonlight: RMS(sO) = 0.2
  }
  return 1.0;
}

// eta_t for t = 0, 1, ...: constant lr, geometric lr * decay^t, or a user list whose last
// value is held after its end.
class StepSchedule {
 public:
  explicit StepSchedule(const muonlab::Params& params)
      : kind_(parse_schedule(params.text("schedule"))),
        lr_(params.real("lr")),
        decay_(params.real("decay")),
        list_(params.real_list("lr_list")) {
    if (kind_ == Schedule::List) validate_list();
  }

  double at(std::int64_t iteration) const {
    switch (kind_) {
      case Schedule::Constant: return lr_;
      case Schedule::Geometric: return lr_ * std::pow(decay_, static_cast<double>(iteration));
      case Schedule::List: {
        const std::int64_t last = static_cast<std::int64_t>(list_.size()) - 1;
        return list_[static_cast<std::size_t>(std::clamp<std::int64_t>(iteration, 0, last))];
      }
    }
    return lr_;
  }

 private:
  void validate_list() const {
    if (list_.empty()) throw std::invalid_argument("muon: schedule 'list' needs a non-empty lr_list");
    for (std::size_t i = 0; i < list_.size(); ++i) {
      if (!std::isfinite(list_[i]) || list_[i] < 0.0) {
        throw std::invalid_argument("muon: lr_list[" + std::to_string(i) + "] = " + std::to_string(list_[i]) +
                                    " is not a finite value >= 0");
      }
    }
  }

  Schedule kind_;
  double lr_;
  double decay_;
  std::vector<double> list_;
};

// Buffers of one block, all sized in initialize() so that step() allocates nothing.
struct BlockState {
  double scale = 1.0;  // s
  Matrix momentum;     // M (empty when momentum == 0)
  Matrix nesterov;     // N (empty unless nesterov with momentum > 0)
  Matrix update;       // O
};

class Muon final : public muonlab::Optimizer {
 public:
  Muon(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : schedule_(params),
        beta_(params.real("momentum")),
        nesterov_(params.boolean("nesterov")),
        orthogonalizer_(params.orthogonalizer("orthogonalizer")),
        scaling_(parse_scaling(params.text("scaling"))),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override {
    blocks_ = blocks;
    state_.assign(blocks.size(), BlockState{});
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      BlockState& s = state_[b];
      s.scale = scale_factor(scaling_, blocks[b].rows, blocks[b].cols);
      s.update = Matrix::Zero(blocks[b].rows, blocks[b].cols);
      if (uses_momentum()) s.momentum = Matrix::Zero(blocks[b].rows, blocks[b].cols);
      if (uses_momentum() && nesterov_) s.nesterov = Matrix::Zero(blocks[b].rows, blocks[b].cols);
    }
  }

  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    check_shapes(params, grads);
    eta_ = schedule_.at(iteration);
    for (std::size_t b = 0; b < params.size(); ++b) {
      orthogonalize_direction(grads[b], state_[b]);
      apply_update(params[b], state_[b]);
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step"}};
  }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  bool uses_momentum() const { return beta_ > 0.0; }

  // O = orthogonalizer(N), with N built from the gradient and the momentum buffer.
  void orthogonalize_direction(muonlab::ConstMatrixMap grad, BlockState& s) const {
    if (!uses_momentum()) {
      orthogonalizer_.apply(grad, s.update);  // simplified Muon: N = G, no copy
      return;
    }
    s.momentum = beta_ * s.momentum + (1.0 - beta_) * grad;  // EMA (Keller convention)
    if (!nesterov_) {
      orthogonalizer_.apply(s.momentum, s.update);
      return;
    }
    s.nesterov = (1.0 - beta_) * grad + beta_ * s.momentum;
    orthogonalizer_.apply(s.nesterov, s.update);
  }

  // W <- (1 - eta_t wd) W - eta_t s O in one pass. The decay uses eta_t, not s eta_t
  // (decoupled weight decay as in every implementation read, algorithms.md 0); with wd = 0
  // the factor is exactly 1 and W is not perturbed.
  void apply_update(muonlab::MatrixMap w, const BlockState& s) const {
    w = (1.0 - eta_ * weight_decay_) * w - (eta_ * s.scale) * s.update;
  }

  // The core hands blocks in the order and shapes given to initialize(); anything else is a
  // caller error that would otherwise read or write out of bounds.
  void check_shapes(const muonlab::Blocks& params, const muonlab::ConstBlocks& grads) const {
    if (params.size() != blocks_.size() || grads.size() != blocks_.size()) {
      throw std::invalid_argument("muon: step() got " + std::to_string(params.size()) +
                                  " blocks, initialize() declared " + std::to_string(blocks_.size()));
    }
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      const bool same = params[b].rows() == blocks_[b].rows && params[b].cols() == blocks_[b].cols &&
                        grads[b].rows() == blocks_[b].rows && grads[b].cols() == blocks_[b].cols;
      if (!same) throw std::invalid_argument("muon: block '" + blocks_[b].name + "' has a different shape than declared");
    }
  }

  const StepSchedule schedule_;
  const double beta_;
  const bool nesterov_;
  const muonlab::OrthogonalizerRef orthogonalizer_;
  const Scaling scaling_;
  const double weight_decay_;
  std::vector<muonlab::BlockSpec> blocks_;
  std::vector<BlockState> state_;
  double eta_ = 0.0;
};

constexpr std::uint32_t kAboveLow = muonlab::kParamLowExclusive;
constexpr std::uint32_t kBelowHigh = muonlab::kParamHighExclusive;

const muonlab::ParamSpec kParams[] = {
    {"lr", ParamType::Real, "0.1", 0.0, kUnbounded, kAboveLow, nullptr,
     "base step size eta_0 (constant and geometric schedules)"},
    {"schedule", ParamType::Choice, "geometric", -kUnbounded, kUnbounded, 0, "constant|geometric|list",
     "eta_t = lr, lr * decay^t, or lr_list[t] (last value held)"},
    {"decay", ParamType::Real, "0.9", 0.0, 1.0, kAboveLow, nullptr, "ratio q of the geometric schedule"},
    {"lr_list", ParamType::RealList, "[]", 0.0, kUnbounded, 0, nullptr,
     "explicit step sizes eta_0, eta_1, ... for schedule: list"},
    {"momentum", ParamType::Real, "0", 0.0, 1.0, kBelowHigh, nullptr,
     "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t; 0 = simplified Muon"},
    {"nesterov", ParamType::Boolean, "false", -kUnbounded, kUnbounded, 0, nullptr,
     "orthogonalize (1-beta) G_t + beta M_t instead of M_t"},
    {"orthogonalizer", ParamType::Orthogonalizer, "svd", -kUnbounded, kUnbounded, 0, nullptr,
     "polar-factor routine applied to each block"},
    {"scaling", ParamType::Choice, "none", -kUnbounded, kUnbounded, 0, "none|shape|rms",
     "update factor s: 1, sqrt(max(1, m/n)), or 0.2 sqrt(max(m, n))"},
    {"weight_decay", ParamType::Real, "0", 0.0, kUnbounded, 0, nullptr,
     "decoupled: W <- (1 - eta_t * weight_decay) W"},
};

}  // namespace

MUONLAB_PLUGIN(Muon, "muon", "1.0.0", "Muon: orthogonalized (momentum) steps, W <- W - eta_t s msign(N_t)",
               kParams)
