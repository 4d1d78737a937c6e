// Runs the cells of a grid: the core owns the loop, the clock, stopping and recording.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "config.hpp"
#include "registry.hpp"
#include "store.hpp"

namespace muonlab {

struct RunOptions {
  std::string output;          // result file
  int jobs = 1;                // cells at once
  OpenMode mode = OpenMode::Create;
  int shard_index = 0;         // run cells with position % shard_count == shard_index
  int shard_count = 1;
  bool progress = false;       // redraw a progress line on stderr (terminals only)
};

struct RunReport {
  std::vector<IndexRow> rows;  // every cell of this run (and kept ones on --resume)
  int failed = 0;              // cells that ended in error
  int skipped = 0;             // complete cells kept from a previous run (--resume)
  double seconds = 0.0;
};

// Checks what the schemas cannot: each distinct problem of the grid is instantiated once and
// its metrics checked against stop.metric. Throws InputError / PluginError.
void preflight(const Grid& grid, const Registry& registry);

// The cells this shard runs, in grid order.
std::vector<const CellConfig*> shard_cells(const Grid& grid, int shard_index, int shard_count);

// Runs one cell to completion and records it; never throws for a failure inside the cell
// (status "failed" with the message instead).
IndexRow run_cell(const CellConfig& cell, const Grid& grid, const Registry& registry, Store& store);

RunReport run_grid(const Grid& grid, const Registry& registry, const RunOptions& options);

// Short human labels for cells: the parameters that vary across the grid.
std::vector<std::string> cell_labels(const Grid& grid, bool problem_side);

// The one-screen table printed at the end of `muonlab run`.
void print_summary(std::ostream& out, const Grid& grid, const RunReport& report, const std::string& output);

// Provenance written to the root of the result file.
RunInfo make_run_info(const Grid& grid);

// OpenBLAS threads for `jobs` parallel cells on this machine (cores / jobs, at least 1).
int blas_threads_for(int jobs);
void set_blas_threads(int threads);

}  // namespace muonlab
