// ParamSpec entries for the parameters several optimizers share, so that every plugin
// declares them with the same names, ranges and documentation. Use them inside the
// plugin's ParamSpec array:
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

#include <muonlab/abi.hpp>

#include "shape_scale.hpp"
#include "step_schedule.hpp"

namespace muonlab::optim {

// Base step size: > 0.
constexpr ParamSpec lr_param(const char* default_value,
                             const char* doc = "base step size eta_0 (constant, geometric and cosine schedules)") {
  return {"lr", ParamType::Real, default_value, 0.0, kUnbounded, kParamLowExclusive, nullptr, doc};
}

constexpr ParamSpec schedule_param(const char* default_kind) {
  return {"schedule", ParamType::Choice, default_kind, -kUnbounded, kUnbounded, 0, kScheduleChoices,
          "eta_t = lr, lr * decay^t, cosine from lr to final_fraction * lr over horizon steps, or "
          "lr_list[t] (last value held); after warmup"};
}

constexpr ParamSpec decay_param(const char* default_value) {
  return {"decay", ParamType::Real, default_value, 0.0, 1.0, kParamLowExclusive, nullptr,
          "ratio q of the geometric schedule"};
}

constexpr ParamSpec horizon_param(const char* default_value = "1000") {
  return {"horizon", ParamType::Integer, default_value, 1.0, kUnbounded, 0, nullptr,
          "cosine schedule: steps (after warmup) from lr down to final_fraction * lr, held after"};
}

constexpr ParamSpec final_fraction_param(const char* default_value = "0") {
  return {"final_fraction", ParamType::Real, default_value, 0.0, 1.0, 0, nullptr,
          "cosine schedule: final step size as a fraction of lr"};
}

constexpr ParamSpec warmup_param(const char* default_value = "0") {
  return {"warmup", ParamType::Integer, default_value, 0.0, kUnbounded, 0, nullptr,
          "linear warmup steps: eta_t = base(0) (t+1)/(warmup+1) for t < warmup, then base(t - warmup)"};
}

constexpr ParamSpec lr_list_param() {
  return {"lr_list", ParamType::RealList, "[]", 0.0, kUnbounded, 0, nullptr,
          "explicit step sizes eta_0, eta_1, ... for schedule: list"};
}

// Range >= 0; the doc states the convention (coupled L2 or decoupled).
constexpr ParamSpec weight_decay_param(const char* default_value, const char* doc) {
  return {"weight_decay", ParamType::Real, default_value, 0.0, kUnbounded, 0, nullptr, doc};
}

// Momentum factor beta in [0, 1).
constexpr ParamSpec momentum_param(const char* default_value, const char* doc) {
  return {"momentum", ParamType::Real, default_value, 0.0, 1.0, kParamHighExclusive, nullptr, doc};
}

// Adam-style moment parameters (the defaults and docs are adam's and adamw's).
constexpr ParamSpec beta1_param(const char* default_value = "0.9", const char* doc = "first-moment EMA factor") {
  return {"beta1", ParamType::Real, default_value, 0.0, 1.0, kParamHighExclusive, nullptr, doc};
}

constexpr ParamSpec beta2_param(const char* default_value = "0.999", const char* doc = "second-moment EMA factor") {
  return {"beta2", ParamType::Real, default_value, 0.0, 1.0, kParamHighExclusive, nullptr, doc};
}

// eps >= 0 (flags = kParamLowExclusive for eps > 0).
constexpr ParamSpec eps_param(const char* default_value = "1e-8",
                              const char* doc = "added to sqrt(v_hat) in the denominator", std::uint32_t flags = 0) {
  return {"eps", ParamType::Real, default_value, 0.0, kUnbounded, flags, nullptr, doc};
}

// The decoupled weight decay of the Muon family: W <- (1 - eta_t * weight_decay) W.
constexpr ParamSpec decoupled_weight_decay_param(const char* default_value) {
  return weight_decay_param(default_value, "decoupled: W <- (1 - eta_t * weight_decay) W");
}

// Nesterov look-ahead of an EMA momentum (momentum.hpp nesterov_direction).
constexpr ParamSpec nesterov_param(const char* default_value,
                                   const char* doc = "orthogonalize (1-beta) G_t + beta M_t instead of M_t") {
  return {"nesterov", ParamType::Boolean, default_value, -kUnbounded, kUnbounded, 0, nullptr, doc};
}

// The polar-factor routine (an orthogonalizer plugin) of a Muon-type method.
constexpr ParamSpec orthogonalizer_param(const char* default_value,
                                         const char* doc = "polar-factor routine applied to each block") {
  return {"orthogonalizer", ParamType::Orthogonalizer, default_value, -kUnbounded, kUnbounded, 0, nullptr, doc};
}

// The update factor s of shape_scale.hpp; choices kMuonScalingChoices unless given.
constexpr ParamSpec scaling_param(const char* default_value,
                                  const char* doc = "update factor s: 1, sqrt(max(1, m/n)), or 0.2 sqrt(max(m, n))",
                                  const char* choices = kMuonScalingChoices) {
  return {"scaling", ParamType::Choice, default_value, -kUnbounded, kUnbounded, 0, choices, doc};
}

}  // namespace muonlab::optim

// The six schedule parameters besides lr, as a comma-separated list of ParamSpec entries.
#define MUONLAB_STEP_SCHEDULE_PARAMS(default_schedule, default_decay)                            \
  ::muonlab::optim::schedule_param(default_schedule), ::muonlab::optim::decay_param(default_decay), \
      ::muonlab::optim::horizon_param(), ::muonlab::optim::final_fraction_param(),                \
      ::muonlab::optim::warmup_param(), ::muonlab::optim::lr_list_param()
