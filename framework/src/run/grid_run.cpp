#include "run/grid_run.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <set>

#include "model/config_json.hpp"
#include "model/index_columns.hpp"
#include "run/blas.hpp"
#include "run/cell.hpp"
#include "run/progress.hpp"
#include "run/provenance.hpp"
#include "run/workers.hpp"
#include "util/errors.hpp"
#include "util/text.hpp"

namespace muonlab {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kFlushSeconds = 2.0;  // buffered trajectory rows reach the file at least this often

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

}  // namespace

namespace {

// The stop metric must be one the problem reports.
void check_stop_metric(const Grid& grid, const CellConfig& cell, const ProblemHandle& problem) {
  if (grid.stop.metric == "loss") return;
  std::vector<std::string> names{"loss"};
  for (const ScalarSpec& m : problem.metrics()) names.push_back(m.name);
  if (std::find(names.begin(), names.end(), grid.stop.metric) != names.end()) return;
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  const std::string suggestion = closest_name(grid.stop.metric, names);
  throw InputError(grid.source_path + ": stop.metric '" + grid.stop.metric + "' is not reported by problem '" +
                   cell.problem.name + "'" + (suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?") +
                   " available: " + list);
}

// A plugin that refuses its parameters (rank > n, an empty lr_list, ...) refuses the grid,
// naming the cell and the configuration, before any result file is opened.
template <class Create>
void check_creates(const Grid& grid, const CellConfig& cell, const ComponentConfig& component, Create create) {
  try {
    create();
  } catch (const PluginError& e) {
    throw InputError(grid.source_path + ": cell " + cell.id + " cannot be run: " + e.what() + "; its " +
                     to_string(component.kind) + " configuration is " +
                     component_json(component, JsonNumbers::Shortest) +
                     " (change the value, or leave it out of the sweep)");
  }
}

}  // namespace

void preflight(const Grid& grid, const Registry& registry) {
  // Every distinct configuration once: instances depend on the seed, validity does not.
  std::set<std::string> problems, optimizers;
  for (const CellConfig& cell : grid.cells) {
    if (problems.insert(component_json(cell.problem, JsonNumbers::Digits17)).second) {
      check_creates(grid, cell, cell.problem, [&] {
        const auto problem = registry.create_problem(cell.problem, cell.problem_seed);
        check_stop_metric(grid, cell, *problem);
      });
    }
    if (optimizers.insert(component_json(cell.optimizer, JsonNumbers::Digits17)).second) {
      check_creates(grid, cell, cell.optimizer,
                    [&] { registry.create_optimizer(cell.optimizer, cell.optimizer_seed); });
    }
  }
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
  IndexLayout layout = index_layout(grid.cells);
  std::unique_ptr<Store> store =
      open_store(options.output, make_run_info(grid), options.mode, kFlushSeconds, layout.columns);
  // The swept parameters' columns come from the grid, for new rows and kept ones alike.
  auto with_params = [&](IndexRow row) {
    auto it = layout.values.find(row.cell_id);
    row.params = it == layout.values.end() ? std::vector<IndexValue>() : it->second;
    return row;
  };

  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < grid.cells.size(); ++i) position[grid.cells[i].id] = i;

  RunReport report;
  const std::set<std::string> complete = indexed_completed_cells(*store, report.rows);
  for (IndexRow& row : report.rows) row = with_params(std::move(row));
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
  auto record = [&](const IndexRow& finished) {
    const IndexRow row = with_params(finished);
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
        CellOutcome outcome;
        outcome.fail(e.what());
        row = make_index_row(*cell, outcome, 0.0);
      }
      record(row);
    }
  } else {
    WorkerOptions workers;
    workers.workers = jobs;
    workers.blas_threads = blas_threads_for(jobs);
    run_cells_in_workers(pending, grid, registry, *store, workers, record);
  }

  // Rows were appended in completion order; the final table is in grid order.
  std::stable_sort(report.rows.begin(), report.rows.end(), by_grid_order);
  if (!pending.empty() || !store->index_matches_layout()) {
    try {
      store->write_index(report.rows);
    } catch (const std::exception& e) {
      std::cerr << "muonlab: could not sort the index: " << e.what() << "\n";
    }
  }

  for (const IndexRow& row : report.rows) report.failed += row.status == CellStatus::Failed ? 1 : 0;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace muonlab
