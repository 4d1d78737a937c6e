// Factors s multiplying an orthogonalized update O of an m x n block (m = rows = fan-out),
// docs/algorithms.md 2.0:
//
//   none:     s = 1
//   shape:    s = sqrt(max(1, m / n))      Keller Jordan's Muon, torch "original", NorMuon
//   rms:      s = 0.2 * sqrt(max(m, n))    Moonlight / "match_rms_adamw": RMS(s O) = 0.2 for full-rank O
//   spectral: s = sqrt(m / n)              Scion, dion "spectral_norm": RMS->RMS operator norm 1
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace muonlab::optim {

enum class ShapeScaling { None, Shape, Rms, Spectral };

// The choices string of Muon's scaling parameter.
inline constexpr const char* kMuonScalingChoices = "none|shape|rms";

inline ShapeScaling parse_shape_scaling(const std::string& name, const std::string& plugin) {
  if (name == "none") return ShapeScaling::None;
  if (name == "shape") return ShapeScaling::Shape;
  if (name == "rms") return ShapeScaling::Rms;
  if (name == "spectral") return ShapeScaling::Spectral;
  throw std::invalid_argument(plugin + ": unknown scaling '" + name + "' (expected none|shape|rms|spectral)");
}

inline double shape_scale(ShapeScaling scaling, std::int64_t rows, std::int64_t cols) {
  const double m = static_cast<double>(rows);
  const double n = static_cast<double>(cols);
  switch (scaling) {
    case ShapeScaling::None: return 1.0;
    case ShapeScaling::Shape: return std::sqrt(std::max(1.0, m / n));
    case ShapeScaling::Rms: return 0.2 * std::sqrt(std::max(m, n));
    case ShapeScaling::Spectral: return std::sqrt(m / n);
  }
  return 1.0;
}

}  // namespace muonlab::optim
