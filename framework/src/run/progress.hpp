// The progress line of `muonlab run` on a terminal: cells done, elapsed, ETA, best metric.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <string>

#include "model/index_row.hpp"

namespace muonlab {

// Redraws one status line on stderr when enabled; silent otherwise.
class Progress {
 public:
  Progress(bool enabled, std::size_t total, std::string metric);
  void cell_done(const IndexRow& row);

 private:
  using Clock = std::chrono::steady_clock;

  bool enabled_;
  std::size_t total_;
  std::size_t done_ = 0;
  std::string metric_;
  Clock::time_point start_;
  double best_ = INFINITY;
  std::string best_label_;
};

}  // namespace muonlab
