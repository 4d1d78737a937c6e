// Step-size schedules eta_t shared by optimizer plugins (see README.md in this folder):
//
//   constant:   eta_t = lr
//   geometric:  eta_t = lr * decay^t
//   cosine:     eta_t = lr * (f + (1 - f) * (1 + cos(pi * min(t, H) / H)) / 2)   (f = final_fraction, H = horizon)
//   list:       eta_t = lr_list[min(t, len - 1)]                                (last value held; lr unused)
//
// composed with a linear warmup of W steps:
//
//   eta_t = base(0) * (t + 1) / (W + 1)   for t < W
//   eta_t = base(t - W)                   for t >= W   (the base schedule starts after warmup)
//
// Header-only: each plugin library compiles its own copy (hidden visibility).
#pragma once

#include <muonlab/params.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace muonlab::optim {

enum class ScheduleKind { Constant, Geometric, Cosine, List };

// The choices string of a schedule parameter accepting every kind.
inline constexpr const char* kScheduleChoices = "constant|geometric|cosine|list";

inline ScheduleKind parse_schedule_kind(const std::string& name, const std::string& plugin) {
  if (name == "constant") return ScheduleKind::Constant;
  if (name == "geometric") return ScheduleKind::Geometric;
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "list") return ScheduleKind::List;
  throw std::invalid_argument(plugin + ": unknown schedule '" + name + "' (expected " + kScheduleChoices + ")");
}

// Everything that defines a schedule. Fields a schedule kind does not use are ignored.
struct ScheduleSettings {
  ScheduleKind kind = ScheduleKind::Constant;
  double lr = 0.0;              // eta_0 of constant, geometric and cosine
  double decay = 1.0;           // geometric ratio q
  std::int64_t horizon = 1;     // cosine: steps from lr down to final_fraction * lr
  double final_fraction = 0.0;  // cosine: eta after the horizon, as a fraction of lr
  std::int64_t warmup = 0;      // linear warmup steps before the base schedule
  std::vector<double> lr_list;  // list: eta_0, eta_1, ...
};

class StepSchedule {
 public:
  // Validates the settings; `plugin` prefixes every error message.
  StepSchedule(ScheduleSettings settings, const std::string& plugin) : s_(std::move(settings)) { validate(plugin); }

  // Reads the schedule from a plugin's resolved parameters: "lr" is required; "schedule",
  // "decay", "horizon", "final_fraction", "warmup" and "lr_list" are read when the plugin
  // declares them and otherwise keep the ScheduleSettings defaults (constant, no warmup).
  static StepSchedule from_params(const Params& params, const std::string& plugin) {
    ScheduleSettings s;
    s.lr = params.real("lr");
    if (params.has("schedule")) s.kind = parse_schedule_kind(params.text("schedule"), plugin);
    if (params.has("decay")) s.decay = params.real("decay");
    if (params.has("horizon")) s.horizon = params.integer("horizon");
    if (params.has("final_fraction")) s.final_fraction = params.real("final_fraction");
    if (params.has("warmup")) s.warmup = params.integer("warmup");
    if (params.has("lr_list")) s.lr_list = params.real_list("lr_list");
    return StepSchedule(std::move(s), plugin);
  }

  // eta_t for iteration t = 0, 1, ... (negative t is treated as 0).
  double at(std::int64_t iteration) const {
    const std::int64_t t = std::max<std::int64_t>(iteration, 0);
    if (t < s_.warmup) {
      return base(0) * static_cast<double>(t + 1) / static_cast<double>(s_.warmup + 1);
    }
    return base(t - s_.warmup);
  }

  const ScheduleSettings& settings() const { return s_; }

 private:
  double base(std::int64_t t) const {
    switch (s_.kind) {
      case ScheduleKind::Constant: return s_.lr;
      case ScheduleKind::Geometric: return s_.lr * std::pow(s_.decay, static_cast<double>(t));
      case ScheduleKind::Cosine: {
        const double progress = static_cast<double>(std::min(t, s_.horizon)) / static_cast<double>(s_.horizon);
        const double pi = std::acos(-1.0);
        return s_.lr * (s_.final_fraction + (1.0 - s_.final_fraction) * 0.5 * (1.0 + std::cos(pi * progress)));
      }
      case ScheduleKind::List: {
        const std::int64_t last = static_cast<std::int64_t>(s_.lr_list.size()) - 1;
        return s_.lr_list[static_cast<std::size_t>(std::min(t, last))];
      }
    }
    return s_.lr;
  }

  // The core already checks declared ranges; these checks cover what a range cannot
  // express (an empty list for schedule: list) and direct construction in C++.
  void validate(const std::string& plugin) const {
    auto fail = [&plugin](const std::string& what) { throw std::invalid_argument(plugin + ": " + what); };
    if (s_.kind != ScheduleKind::List && !(std::isfinite(s_.lr) && s_.lr >= 0.0)) fail("lr must be finite and >= 0");
    if (s_.kind == ScheduleKind::Geometric && !(s_.decay > 0.0 && s_.decay <= 1.0)) fail("decay must be in (0, 1]");
    if (s_.kind == ScheduleKind::Cosine && s_.horizon < 1) fail("horizon must be >= 1 for schedule 'cosine'");
    if (s_.kind == ScheduleKind::Cosine && !(s_.final_fraction >= 0.0 && s_.final_fraction <= 1.0)) {
      fail("final_fraction must be in [0, 1]");
    }
    if (s_.warmup < 0) fail("warmup must be >= 0");
    if (s_.kind == ScheduleKind::List) validate_list(fail);
  }

  template <class Fail>
  void validate_list(const Fail& fail) const {
    if (s_.lr_list.empty()) fail("schedule 'list' needs a non-empty lr_list");
    for (std::size_t i = 0; i < s_.lr_list.size(); ++i) {
      if (!std::isfinite(s_.lr_list[i]) || s_.lr_list[i] < 0.0) {
        fail("lr_list[" + std::to_string(i) + "] = " + std::to_string(s_.lr_list[i]) + " is not a finite value >= 0");
      }
    }
  }

  ScheduleSettings s_;
};

}  // namespace muonlab::optim
