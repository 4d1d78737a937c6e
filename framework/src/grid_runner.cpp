// Runs a whole grid: cells in this process (-j 1) or in worker processes, progress, the
// index, the summary.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cell_workers.hpp"
#include "errors.hpp"
#include "grid.hpp"
#include "muonlab_version.hpp"
#include "runner.hpp"

extern "C" {
void openblas_set_num_threads(int threads);
char* openblas_get_config(void);
}

namespace muonlab {
namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double seconds) {
  char buf[32];
  if (seconds < 10) {
    std::snprintf(buf, sizeof(buf), "%.1fs", seconds);
  } else if (seconds < 60) {
    std::snprintf(buf, sizeof(buf), "%.0fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%dh%02dm", static_cast<int>(seconds) / 3600, (static_cast<int>(seconds) / 60) % 60);
  }
  return buf;
}

std::string format_number(double v) {
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e6) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);  // 1000, not 1e+03
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g", v);
  }
  return buf;
}

std::string format_param(const ParamData& p) {
  switch (p.type) {
    case ParamType::Integer:
      return std::to_string(static_cast<long long>(p.number));
    case ParamType::Real:
      return format_number(p.number);
    case ParamType::Boolean:
      return p.number != 0 ? "true" : "false";
    case ParamType::RealList:
      return "[" + std::to_string(p.list.size()) + " values]";
    case ParamType::Orthogonalizer:
      return p.component ? p.component->name : "";
    default:
      return p.text;
  }
}

std::string run_command(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof(buf), pipe)) out += buf;
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string iso_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

// Redraws one status line on a terminal; silent otherwise.
class Progress {
 public:
  Progress(bool enabled, std::size_t total, std::string metric)
      : enabled_(enabled), total_(total), metric_(std::move(metric)), start_(Clock::now()) {}

  void cell_done(const IndexRow& row) {
    ++done_;
    if (std::isfinite(row.final_metric) && row.status != "failed" && row.final_metric < best_) {
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

 private:
  bool enabled_;
  std::size_t total_;
  std::size_t done_ = 0;
  std::string metric_;
  Clock::time_point start_;
  double best_ = INFINITY;
  std::string best_label_;
};

IndexRow failed_row(const CellConfig& cell, const std::string& error) {
  IndexRow row;
  row.cell_id = cell.id;
  row.problem = cell.problem.name;
  row.optimizer = cell.optimizer.name;
  row.seed = cell.seed;
  row.status = "failed";
  row.stop_reason = error;
  row.final_loss = row.final_metric = NAN;
  return row;
}

}  // namespace

int blas_threads_for(int jobs) {
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max(1, cores / std::max(1, jobs));
}

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

RunInfo make_run_info(const Grid& grid) {
  RunInfo info;
  info.muonlab_version = MUONLAB_VERSION;
  info.created = iso_now();
  info.grid_yaml = grid.yaml_text;
  info.grid_name = grid.name;
  for (const std::string& o : grid.overrides) info.overrides += o + "\n";
  info.git_commit = run_command("git -C '" MUONLAB_SOURCE_DIR "' rev-parse HEAD 2>/dev/null");
  if (info.git_commit.empty()) info.git_commit = "unknown";
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  info.host = host;
  info.blas = std::string("OpenBLAS ") + openblas_get_config();
  info.compiler = std::string("g++ ") + __VERSION__;
  return info;
}

void preflight(const Grid& grid, const Registry& registry) {
  std::set<std::string> checked;
  for (const CellConfig& cell : grid.cells) {
    if (!checked.insert(cell.problem.name).second) continue;
    auto problem = registry.create_problem(cell.problem, cell.problem_seed);
    if (grid.stop.metric == "loss") continue;
    std::vector<std::string> names{"loss"};
    for (const ScalarSpec& m : problem->metrics()) names.push_back(m.name);
    if (std::find(names.begin(), names.end(), grid.stop.metric) != names.end()) continue;
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    const std::string suggestion = closest_name(grid.stop.metric, names);
    throw InputError(grid.source_path + ": stop.metric '" + grid.stop.metric + "' is not reported by problem '" +
                     cell.problem.name + "'" + (suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?") +
                     " available: " + list);
  }
}

// A cell counts as done when its status is final AND its row reached /index (the row is
// appended after the status is written, so a run killed in between redoes the cell). The
// last row of each such cell is kept: a cell that failed and was redone appears twice
// until the run's final rewrite of the index.
std::set<std::string> indexed_completed_cells(const Store& store, std::vector<IndexRow>& rows) {
  const std::set<std::string> finished = store.completed_cells();
  std::map<std::string, IndexRow> last_row;
  for (const IndexRow& row : store.read_index())
    if (finished.count(row.cell_id)) last_row[row.cell_id] = row;
  std::set<std::string> complete;
  for (const auto& [id, row] : last_row) {
    complete.insert(id);
    rows.push_back(row);
  }
  return complete;
}

std::vector<const CellConfig*> shard_cells(const Grid& grid, int shard_index, int shard_count) {
  std::vector<const CellConfig*> out;
  for (std::size_t i = 0; i < grid.cells.size(); ++i) {
    if (static_cast<int>(i % static_cast<std::size_t>(shard_count)) == shard_index) out.push_back(&grid.cells[i]);
  }
  return out;
}

RunReport run_grid(const Grid& grid, const Registry& registry, const RunOptions& options) {
  const auto start = Clock::now();
  std::unique_ptr<Store> store = open_store(options.output, make_run_info(grid), options.mode);

  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < grid.cells.size(); ++i) position[grid.cells[i].id] = i;

  RunReport report;
  const std::set<std::string> complete = indexed_completed_cells(*store, report.rows);
  std::vector<const CellConfig*> pending;
  for (const CellConfig* cell : shard_cells(grid, options.shard_index, options.shard_count)) {
    if (complete.count(cell->id)) {
      ++report.skipped;
    } else {
      pending.push_back(cell);
    }
  }

  const int jobs = std::max(1, std::min<int>(options.jobs, static_cast<int>(pending.size())));
  set_blas_threads(blas_threads_for(jobs));
  Progress progress(options.progress, pending.size(), grid.stop.metric);
  auto by_grid_order = [&](const IndexRow& a, const IndexRow& b) {
    auto pa = position.find(a.cell_id), pb = position.find(b.cell_id);
    const std::size_t ia = pa == position.end() ? SIZE_MAX : pa->second;
    const std::size_t ib = pb == position.end() ? SIZE_MAX : pb->second;
    return ia < ib;
  };
  // Called once per finished cell, after its data is in the file.
  auto record = [&](const IndexRow& row) {
    report.rows.push_back(row);
    try {
      store->append_index(row);
    } catch (const std::exception& e) {
      std::cerr << "muonlab: could not update the index: " << e.what() << "\n";
    }
    progress.cell_done(row);
  };
  if (jobs == 1) {
    for (const CellConfig* cell : pending) {
      IndexRow row;
      try {
        row = run_cell(*cell, grid, registry, *store);
      } catch (const std::exception& e) {  // the store itself failed (disk full, ...)
        row = failed_row(*cell, e.what());
      }
      record(row);
    }
  } else {
    WorkerOptions workers;
    workers.workers = jobs;
    workers.blas_threads = blas_threads_for(jobs);
    run_cells_in_workers(pending, grid, registry, *store, workers, record, failed_row);
  }

  // Rows were appended in completion order; the final table is in grid order.
  std::stable_sort(report.rows.begin(), report.rows.end(), by_grid_order);
  if (!pending.empty()) {
    try {
      store->write_index(report.rows);
    } catch (const std::exception& e) {
      std::cerr << "muonlab: could not sort the index: " << e.what() << "\n";
    }
  }

  for (const IndexRow& row : report.rows) report.failed += row.status == "failed" ? 1 : 0;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

std::vector<std::string> cell_labels(const Grid& grid, bool problem_side) {
  auto component = [&](const CellConfig& c) -> const ComponentConfig& { return problem_side ? c.problem : c.optimizer; };
  // Parameters that take more than one value among cells of the same plugin.
  std::map<std::string, std::map<std::string, std::set<std::string>>> values;
  for (const CellConfig& cell : grid.cells) {
    const ComponentConfig& c = component(cell);
    for (const auto& [key, data] : c.params) values[c.name][key].insert(format_param(data));
  }
  std::set<std::string> names;
  for (const CellConfig& cell : grid.cells) names.insert(component(cell).name);

  std::vector<std::string> labels;
  for (const CellConfig& cell : grid.cells) {
    const ComponentConfig& c = component(cell);
    std::string label = (problem_side && names.size() == 1) ? "" : c.name;
    for (const auto& [key, data] : c.params) {
      const bool varies = values[c.name][key].size() > 1;
      const bool always_shown = data.type == ParamType::Orthogonalizer;
      if (!varies && !always_shown) continue;
      label += (label.empty() ? "" : " ") + key + "=" + format_param(data);
    }
    labels.push_back(label.empty() ? c.name : label);
  }
  return labels;
}

void print_summary(std::ostream& out, const Grid& grid, const RunReport& report, const std::string& output) {
  const std::vector<std::string> problem_labels = cell_labels(grid, true);
  const std::vector<std::string> optimizer_labels = cell_labels(grid, false);
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < grid.cells.size(); ++i) position[grid.cells[i].id] = i;

  std::size_t problem_width = 7, optimizer_width = 9;
  for (const IndexRow& row : report.rows) {
    auto it = position.find(row.cell_id);
    if (it == position.end()) continue;
    problem_width = std::max(problem_width, problem_labels[it->second].size());
    optimizer_width = std::max(optimizer_width, optimizer_labels[it->second].size());
  }
  const std::string tol_header = grid.stop.tol > 0 ? "iters to " + format_number(grid.stop.tol) : "iters to tol";
  out << std::left << std::setw(14) << "cell" << std::setw(static_cast<int>(problem_width) + 2) << "problem"
      << std::setw(static_cast<int>(optimizer_width) + 2) << "optimizer" << std::setw(6) << "seed" << std::setw(11)
      << "status" << std::right << std::setw(8) << "iters" << std::setw(12) << "final loss" << std::setw(12)
      << grid.stop.metric.substr(0, 11) << std::setw(15) << tol_header << "\n";
  const std::size_t limit = 60;
  std::size_t shown = 0;
  for (const IndexRow& row : report.rows) {
    if (shown++ == limit) {
      out << "... " << report.rows.size() - limit << " more cells: see /index in the result file\n";
      break;
    }
    auto it = position.find(row.cell_id);
    const std::string problem = it == position.end() ? row.problem : problem_labels[it->second];
    const std::string optimizer = it == position.end() ? row.optimizer : optimizer_labels[it->second];
    out << std::left << std::setw(14) << row.cell_id << std::setw(static_cast<int>(problem_width) + 2) << problem
        << std::setw(static_cast<int>(optimizer_width) + 2) << optimizer << std::setw(6) << row.seed << std::setw(11)
        << row.status << std::right << std::setw(8) << row.iterations << std::setw(12) << format_number(row.final_loss)
        << std::setw(12) << format_number(row.final_metric) << std::setw(15)
        << (row.iters_to_tol < 0 ? std::string("-") : std::to_string(row.iters_to_tol)) << "\n";
  }
  for (const IndexRow& row : report.rows) {
    if (row.status == "failed") out << "failed " << row.cell_id << ": " << row.stop_reason << "\n";
  }
  out << "\n" << report.rows.size() << " cells (" << report.rows.size() - static_cast<std::size_t>(report.skipped)
      << " ran, " << report.skipped << " kept from the existing file, " << report.failed << " failed) in "
      << format_duration(report.seconds) << "\nresults: " << output << "\n";
}

}  // namespace muonlab
