#include "run/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace muonlab {

std::int64_t LogSchedule::next_after(std::int64_t step) const {
  if (step < 0) return 0;
  const double pd = std::max(1, per_decade_);
  // Start a little below the answer and walk up: 10^(j/pd) rounded, strictly increasing
  // once the gaps exceed 1, and consecutive integers before that.
  auto j = static_cast<std::int64_t>(std::floor(pd * std::log10(std::max<double>(1.0, static_cast<double>(step))))) - 1;
  j = std::max<std::int64_t>(j, 0);
  for (;; ++j) {
    const auto candidate = static_cast<std::int64_t>(std::llround(std::pow(10.0, static_cast<double>(j) / pd)));
    if (candidate > step) return candidate;
  }
}

bool SpectraClock::due(std::int64_t step) {
  switch (rule_.spectra) {
    case SpectraSchedule::Off: return false;
    case SpectraSchedule::Every: return step % std::max<std::int64_t>(1, rule_.spectra_every) == 0;
    case SpectraSchedule::Log:
      if (step < next_) return false;
      next_ = log_.next_after(step);
      return true;
  }
  return false;
}

}  // namespace muonlab
