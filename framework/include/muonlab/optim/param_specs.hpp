// Declarations of the parameters several optimizers share, so that every plugin declares
// them with the same names, ranges and documentation. Each returns a muonlab::ParamBuilder
// (muonlab/param_spec.hpp), so a plugin may refine one, e.g. optim::eps_param().above(0.0).
// Use them inside the plugin's ParamSpec array:
//
//   const muonlab::ParamSpec kParams[] = {
//       optim::lr_param("0.1"),
//       MUONLAB_STEP_SCHEDULE_PARAMS("geometric", "0.9"),  // schedule, decay, horizon, final_fraction, warmup, lr_list
//       optim::decoupled_weight_decay_param("0"),   // doc "decoupled: W <- (1 - eta_t * weight_decay) W"
//       ...
//   };
//
// and read them back with optim::StepSchedule::from_params (step_schedule.hpp).
#pragma once

#include <muonlab/param_spec.hpp>

#include "muonlab/optim/shape_scale.hpp"
#include "muonlab/optim/step_schedule.hpp"

namespace muonlab::optim {

// Base step size: > 0.
constexpr ParamBuilder lr_param(const char* default_value,
                                const char* doc = "base step size eta_0 (constant, geometric and cosine schedules)") {
  return real("lr", default_value).above(0.0).doc(doc);
}

constexpr ParamBuilder schedule_param(const char* default_kind) {
  return choice("schedule", default_kind, kScheduleChoices)
      .doc(
          "eta_t = lr, lr * decay^t, cosine from lr to final_fraction * lr over horizon steps, or "
          "lr_list[t] (last value held); after warmup");
}

constexpr ParamBuilder decay_param(const char* default_value) {
  return real("decay", default_value).above(0.0).at_most(1.0).doc("ratio q of the geometric schedule");
}

constexpr ParamBuilder horizon_param(const char* default_value = "1000") {
  return integer("horizon", default_value)
      .at_least(1.0)
      .doc("cosine schedule: steps (after warmup) from lr down to final_fraction * lr, held after");
}

constexpr ParamBuilder final_fraction_param(const char* default_value = "0") {
  return real("final_fraction", default_value)
      .at_least(0.0)
      .at_most(1.0)
      .doc("cosine schedule: final step size as a fraction of lr");
}

constexpr ParamBuilder warmup_param(const char* default_value = "0") {
  return integer("warmup", default_value)
      .at_least(0.0)
      .doc("linear warmup steps: eta_t = base(0) (t+1)/(warmup+1) for t < warmup, then base(t - warmup)");
}

constexpr ParamBuilder lr_list_param() {
  return real_list("lr_list", "[]").at_least(0.0).doc("explicit step sizes eta_0, eta_1, ... for schedule: list");
}

// Range >= 0; the doc states the convention (coupled L2 or decoupled).
constexpr ParamBuilder weight_decay_param(const char* default_value, const char* doc) {
  return real("weight_decay", default_value).at_least(0.0).doc(doc);
}

// Momentum factor beta in [0, 1).
constexpr ParamBuilder momentum_param(const char* default_value, const char* doc) {
  return real("momentum", default_value).at_least(0.0).below(1.0).doc(doc);
}

// Adam-style moment parameters (the defaults and docs are adam's and adamw's).
constexpr ParamBuilder beta1_param(const char* default_value = "0.9", const char* doc = "first-moment EMA factor") {
  return real("beta1", default_value).at_least(0.0).below(1.0).doc(doc);
}

constexpr ParamBuilder beta2_param(const char* default_value = "0.999", const char* doc = "second-moment EMA factor") {
  return real("beta2", default_value).at_least(0.0).below(1.0).doc(doc);
}

// eps >= 0 (chain .above(0.0) for eps > 0).
constexpr ParamBuilder eps_param(const char* default_value = "1e-8",
                                 const char* doc = "added to sqrt(v_hat) in the denominator") {
  return real("eps", default_value).at_least(0.0).doc(doc);
}

// The decoupled weight decay of the Muon family: W <- (1 - eta_t * weight_decay) W.
constexpr ParamBuilder decoupled_weight_decay_param(const char* default_value) {
  return weight_decay_param(default_value, "decoupled: W <- (1 - eta_t * weight_decay) W");
}

// Nesterov look-ahead of an EMA momentum (momentum.hpp nesterov_direction).
constexpr ParamBuilder nesterov_param(const char* default_value,
                                      const char* doc = "orthogonalize (1-beta) G_t + beta M_t instead of M_t") {
  return boolean("nesterov", default_value).doc(doc);
}

// The polar-factor routine (an orthogonalizer plugin) of a Muon-type method.
constexpr ParamBuilder orthogonalizer_param(const char* default_value,
                                            const char* doc = "polar-factor routine applied to each block") {
  return orthogonalizer("orthogonalizer", default_value).doc(doc);
}

// The update factor s of shape_scale.hpp; choices kMuonScalingChoices unless given.
constexpr ParamBuilder scaling_param(const char* default_value,
                                     const char* doc = "update factor s: 1, sqrt(max(1, m/n)), or 0.2 sqrt(max(m, n))",
                                     const char* choices = kMuonScalingChoices) {
  return choice("scaling", default_value, choices).doc(doc);
}

}  // namespace muonlab::optim

// The six schedule parameters besides lr, as a comma-separated list of parameter entries.
#define MUONLAB_STEP_SCHEDULE_PARAMS(default_schedule, default_decay)                                                \
  ::muonlab::optim::schedule_param(default_schedule), ::muonlab::optim::decay_param(default_decay),                  \
      ::muonlab::optim::horizon_param(), ::muonlab::optim::final_fraction_param(), ::muonlab::optim::warmup_param(), \
      ::muonlab::optim::lr_list_param()
