// When to record: the trajectory and spectra schedules of a `record` rule.
#pragma once

#include <cstdint>

#include "model/config.hpp"

namespace muonlab {

// Steps on a log scale: 0, 1, 2, ..., then about `per_decade` steps per factor of ten.
// Calling next() walks them in increasing order without storing the set.
class LogSchedule {
 public:
  explicit LogSchedule(int per_decade) : per_decade_(per_decade) {}
  // The first scheduled step strictly greater than step.
  std::int64_t next_after(std::int64_t step) const;

 private:
  int per_decade_;
};

// True when spectra (and observables) are recorded at step.
class SpectraClock {
 public:
  explicit SpectraClock(const RecordRule& rule) : rule_(rule), log_(rule.spectra_per_decade) {}
  bool due(std::int64_t step);  // steps must be asked in increasing order

 private:
  RecordRule rule_;
  LogSchedule log_;
  std::int64_t next_ = 0;
};

}  // namespace muonlab
