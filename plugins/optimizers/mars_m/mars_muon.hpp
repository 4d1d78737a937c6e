// The MARS-corrected Muon update shared by mars_m and muon_mvr2 (docs/algorithms.md 2.9, 2.10):
//
//   c_t = G_t + gamma * beta / (1 - beta) * (G_t - Gref_t)
//   c_t <- c_t * clip_norm / ||c_t||_F      if clip_norm > 0 and ||c_t||_F > clip_norm
//   M_t = beta M_{t-1} + (1 - beta) c_t
//   O_t = orthogonalizer(M_t)
//   W  <- (1 - eta_t wd) W - eta_t s O_t
//
// Gref_t, the reference gradient of the variance-reduction correction:
//   exact:  grad f(W_{t-1}; xi_t), the current sample at the previous iterate, obtained from
//           the core's gradient oracle (one extra gradient evaluation per step, t >= 1);
//           at t = 0 there is no previous iterate and Gref_0 = G_0 (no correction).
//   approx: G_{t-1} = grad f(W_{t-1}; xi_{t-1}), the previous step's gradient, kept in a
//           buffer; Gref_0 = 0 as in the reference code (last_grad starts at zeros).
// Each block is corrected, clipped and orthogonalized on its own; all use the same eta_t.
#pragma once

#include <muonlab/plugin.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <muonlab/optim/optimizer_common.hpp>

namespace muonlab::mars {

namespace optim = muonlab::optim;

enum class Reference { Exact, Approx };

inline Reference parse_reference(const std::string& name, const std::string& plugin) {
  if (name == "exact") return Reference::Exact;
  if (name == "approx") return Reference::Approx;
  throw std::invalid_argument(plugin + ": unknown variant '" + name + "' (expected exact|approx)");
}

// Buffers of one block, sized in initialize() so that step() allocates nothing.
struct BlockState {
  double scale = 1.0;  // s
  Matrix momentum;     // M
  Matrix corrected;    // c
  Matrix update;       // O
  Matrix reference;    // Gref: approx: the previous gradient; exact: filled by the oracle
  Matrix previous;     // exact only: W_{t-1}
};

class MarsMuon : public Optimizer {
 public:
  MarsMuon(const Params& params, std::string name)
      : name_(std::move(name)),
        schedule_(optim::StepSchedule::from_params(params, name_)),
        beta_(params.real("momentum")),
        gamma_(params.real("gamma")),
        reference_(parse_reference(params.text("variant"), name_)),
        clip_norm_(params.real("clip_norm")),
        orthogonalizer_(params.orthogonalizer("orthogonalizer")),
        scaling_(optim::parse_shape_scaling(params.text("scaling"), name_)),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<BlockSpec>& blocks) override {
    blocks_ = blocks;
    state_.assign(blocks.size(), BlockState{});
    previous_views_.clear();
    reference_views_.clear();
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      BlockState& s = state_[b];
      const std::int64_t m = blocks[b].rows, n = blocks[b].cols;
      s.scale = optim::shape_scale(scaling_, m, n);
      s.momentum = Matrix::Zero(m, n);
      s.corrected = Matrix::Zero(m, n);
      s.update = Matrix::Zero(m, n);
      s.reference = Matrix::Zero(m, n);
      if (reference_ == Reference::Exact) s.previous = Matrix::Zero(m, n);
    }
    // Views into the state's storage, which no longer moves.
    for (BlockState& s : state_) {
      previous_views_.push_back({s.previous.data(), s.previous.rows(), s.previous.cols()});
      reference_views_.push_back({s.reference.data(), s.reference.rows(), s.reference.cols()});
    }
    has_previous_ = false;
  }

  void step(std::int64_t iteration, Blocks params, ConstBlocks grads, const GradientSource& source) override {
    optim::check_block_shapes(name_, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
    fill_reference(grads, source);
    double correction_sq = 0.0;
    for (std::size_t b = 0; b < params.size(); ++b) {
      BlockState& s = state_[b];
      correction_sq += correct_and_clip(grads[b], s);
      optim::accumulate_momentum(optim::MomentumForm::Ema, beta_, s.momentum, s.corrected);
      orthogonalizer_.apply(s.momentum, s.update);
      remember(params[b], grads[b], s);
      apply_update(params[b], s);
    }
    correction_norm_ = std::sqrt(correction_sq);
    has_previous_ = true;
  }

  double step_size() const override { return eta_; }
  std::vector<ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step"},
            {"correction_norm", "1", "Frobenius norm of the corrected gradient c_t over all blocks, before clipping"}};
  }
  void read_diagnostics(double* values) const override {
    values[0] = eta_;
    values[1] = correction_norm_;
  }

 private:
  // exact, t >= 1: Gref = grad f(W_{t-1}; xi_t) from the oracle; exact, t = 0: Gref = G_0.
  // approx: the buffer already holds G_{t-1} (zeros at t = 0).
  void fill_reference(const ConstBlocks& grads, const GradientSource& source) {
    if (reference_ != Reference::Exact) return;
    if (has_previous_) {
      source.gradient(previous_views_, reference_views_);
      return;
    }
    for (std::size_t b = 0; b < grads.size(); ++b) state_[b].reference = grads[b];
  }

  // c = G + gamma beta / (1 - beta) (G - Gref), clipped; returns ||c||_F^2 before clipping.
  double correct_and_clip(const ConstMatrixMap& grad, BlockState& s) const {
    const double factor = gamma_ * beta_ / (1.0 - beta_);
    s.corrected = (1.0 + factor) * grad - factor * s.reference;
    const double norm = s.corrected.norm();
    if (clip_norm_ > 0.0 && norm > clip_norm_) s.corrected *= clip_norm_ / norm;
    return norm * norm;
  }

  // What the next step's reference needs, taken before W moves.
  void remember(const MatrixMap& w, const ConstMatrixMap& grad, BlockState& s) const {
    if (reference_ == Reference::Exact) {
      s.previous = w;
    } else {
      s.reference = grad;
    }
  }

  // Decoupled weight decay with eta_t (not s eta_t), as in the reference code.
  void apply_update(MatrixMap w, const BlockState& s) const {
    optim::decoupled_update(w, eta_, weight_decay_, eta_ * s.scale, s.update);
  }

  const std::string name_;
  const optim::StepSchedule schedule_;
  const double beta_;
  const double gamma_;
  const Reference reference_;
  const double clip_norm_;
  const OrthogonalizerRef orthogonalizer_;
  const optim::ShapeScaling scaling_;
  const double weight_decay_;
  std::vector<BlockSpec> blocks_;
  std::vector<BlockState> state_;
  std::vector<MatrixView> previous_views_, reference_views_;
  bool has_previous_ = false;
  double eta_ = 0.0;
  double correction_norm_ = 0.0;
};

// Declarations of the MARS-specific parameters (the rest come from muonlab/optim).
constexpr ParamBuilder gamma_param(const char* default_value) {
  return muonlab::real("gamma", default_value)
      .at_least(0.0)
      .doc("correction strength: c_t = G_t + gamma beta / (1 - beta) (G_t - Gref_t)");
}

constexpr ParamBuilder variant_param(const char* default_value) {
  return muonlab::choice("variant", default_value, "exact|approx")
      .doc(
          "Gref_t: exact = gradient of the current sample at the previous iterate (one extra "
          "gradient evaluation per step); approx = the previous step's gradient");
}

constexpr ParamBuilder clip_norm_param() {
  return muonlab::real("clip_norm", "1")
      .at_least(0.0)
      .doc("c_t is rescaled to Frobenius norm clip_norm when larger (absolute threshold, per block); 0 = no clipping");
}

constexpr ParamBuilder orthogonalizer_param() {
  return optim::orthogonalizer_param(
      "ns5", "polar-factor routine applied to M_t (the reference uses Keller's 5-step Newton-Schulz)");
}

constexpr ParamBuilder scaling_param() {
  return optim::scaling_param("rms", "update factor s: 1, sqrt(max(1, m/n)), or 0.2 sqrt(max(m, n)) (reference: rms)");
}

}  // namespace muonlab::mars
