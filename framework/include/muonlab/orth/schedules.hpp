// Published coefficient schedules of the Newton-Schulz family, at full published precision,
// and the input pre-scaling each was designed for. Sources and the recursions that generate
// them: docs/algorithms.md sections 1.3-1.7, summarized in the plugins' README.md files.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "muonlab/orth/polynomial_iteration.hpp"

namespace muonlab::newton_schulz {

// Classical cubic Newton-Schulz, x <- 1.5 x - 0.5 x^3 (fixed point 1, quadratic convergence).
inline constexpr OddPolynomial kCubicNewtonSchulz{1.5, -0.5, 0.0};

// Keller Jordan's quintic (the original Muon), the same triple at every step.
inline constexpr OddPolynomial kKellerQuintic{3.4445, -4.7750, 2.0315};

// You Jiacheng's 5-step "quintic" schedule (Emerging-Optimizers, dion).
inline constexpr std::array<OddPolynomial, 5> kYouQuintic{{
    {4.0848, -6.8946, 2.9270},
    {3.9505, -6.3029, 2.6377},
    {3.7418, -5.5913, 2.3037},
    {2.8769, -3.1427, 1.2046},
    {2.8366, -3.0525, 1.2012},
}};

// Polar Express, 8 steps (paper / basic.py), raw values BEFORE the safety factor. Steps 1-7
// are divided by (s, s^3, s^5) with s = kPolarExpressEightStepSafety when applied; step 8 is
// the classical quintic (15 x - 10 x^3 + 3 x^5) / 8 and is applied unchanged.
inline constexpr std::array<OddPolynomial, 8> kPolarExpressEightStepRaw{{
    {8.28721201814563, -23.595886519098837, 17.300387312530933},
    {4.107059111542203, -2.9478499167379106, 0.5448431082926601},
    {3.9486908534822946, -2.908902115962949, 0.5518191394370137},
    {3.3184196573706015, -2.488488024314874, 0.51004894012372},
    {2.300652019954817, -1.6689039845747493, 0.4188073119525673},
    {1.891301407787398, -1.2679958271945868, 0.37680408948524835},
    {1.8750014808534479, -1.2500016453999487, 0.3750001645474248},
    {1.875, -1.25, 0.375},
}};
inline constexpr double kPolarExpressEightStepSafety = 1.01;

// Polar Express, 5 steps (modded-nanogpt, dion): the safety factor 1.02 is already inside
// the recursion that generated these values; applied as listed.
inline constexpr std::array<OddPolynomial, 5> kPolarExpressFiveStep{{
    {8.156554524902461, -22.48329292557795, 15.878769915207462},
    {4.042929935166739, -2.808917465908714, 0.5000178451051316},
    {3.8916678022926607, -2.772484153217685, 0.5060648178503393},
    {3.285753657755655, -2.3681294933425376, 0.46449024233003106},
    {2.3465413258596377, -1.7097828382687081, 0.42323551169305323},
}};
inline constexpr double kPolarExpressFiveStepSafety = 1.02;

// CANS quintic schedule shipped by Emerging-Optimizers ("cans", 4 decimals).
inline constexpr std::array<OddPolynomial, 5> kCansQuintic{{
    {8.4703, -25.1081, 18.6293},
    {4.1828, -3.1087, 0.5806},
    {3.9619, -2.9541, 0.5630},
    {3.2866, -2.4647, 0.5074},
    {2.2737, -1.6447, 0.4162},
}};

// p(x / s): (a, b, c) -> (a / s, b / s^3, c / s^5).
inline OddPolynomial contracted(const OddPolynomial& p, double s) {
  return OddPolynomial{p.a / s, p.b / (s * s * s), p.c / (s * s * s * s * s)};
}

template <std::size_t N>
std::vector<OddPolynomial> to_vector(const std::array<OddPolynomial, N>& table) {
  return std::vector<OddPolynomial>(table.begin(), table.end());
}

// The 8-step Polar Express schedule as applied: safety factor on every step but the last.
inline std::vector<OddPolynomial> polar_express_eight_step() {
  std::vector<OddPolynomial> applied = to_vector(kPolarExpressEightStepRaw);
  for (std::size_t i = 0; i + 1 < applied.size(); ++i)
    applied[i] = contracted(applied[i], kPolarExpressEightStepSafety);
  return applied;
}

// A schedule with the input safety factor it was designed for and its natural length.
struct NamedSchedule {
  Schedule schedule;
  double safety;
  std::int64_t default_steps;
};

// Step count of ns3 at its defaults: the smallest k for which k cubic steps take every
// x0 = sigma / ||G||_F in [0.01, 1] to within 1e-3 of 1 (see ns3/README.md).
inline constexpr std::int64_t kCubicDefaultSteps = 14;

// The schedules gram_ns can evaluate, by the names of its `schedule` parameter.
inline constexpr const char* kScheduleChoices = "polar_express_5|polar_express_8|you_quintic|cans_quintic|keller|cubic";

inline NamedSchedule named_schedule(const std::string& name) {
  if (name == "polar_express_5") {
    return {Schedule(to_vector(kPolarExpressFiveStep)), kPolarExpressFiveStepSafety, 5};
  }
  if (name == "polar_express_8") return {Schedule(polar_express_eight_step()), kPolarExpressEightStepSafety, 8};
  if (name == "you_quintic") return {Schedule(to_vector(kYouQuintic)), 1.0, 5};
  if (name == "cans_quintic") return {Schedule(to_vector(kCansQuintic)), 1.0, 5};
  if (name == "keller") return {Schedule({kKellerQuintic}), 1.0, 5};
  if (name == "cubic") return {Schedule({kCubicNewtonSchulz}), 1.0, kCubicDefaultSteps};
  throw std::invalid_argument("unknown polynomial schedule '" + name + "'");
}

}  // namespace muonlab::newton_schulz
