#include "run/progress.hpp"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "util/text.hpp"

namespace muonlab {

Progress::Progress(bool enabled, std::size_t total, std::string metric)
    : enabled_(enabled), total_(total), metric_(std::move(metric)), start_(Clock::now()) {}

void Progress::cell_done(const IndexRow& row) {
  ++done_;
  if (std::isfinite(row.final_metric) && row.status != CellStatus::Failed && row.final_metric < best_) {
    best_ = row.final_metric;
    best_label_ = row.optimizer;
  }
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double eta = done_ > 0 ? elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_) : 0;
  std::ostringstream line;
  line << "\r[" << done_ << "/" << total_ << "] " << (100 * done_ / std::max<std::size_t>(1, total_)) << "%  elapsed "
       << format_duration(elapsed) << "  ETA " << format_duration(eta);
  if (std::isfinite(best_)) line << "  best " << metric_ << " " << format_number(best_) << " (" << best_label_ << ")";
  line << "\x1b[K";
  std::cerr << line.str() << std::flush;
  if (done_ == total_) std::cerr << "\n";
}

}  // namespace muonlab
