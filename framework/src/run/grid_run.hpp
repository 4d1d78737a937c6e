// Runs a whole grid: the cells this shard owns that the result file lacks, in this process
// (-j 1) or in worker processes, then /index in grid order.
#pragma once

#include <string>
#include <vector>

#include "host/registry.hpp"
#include "model/config.hpp"
#include "model/index_row.hpp"
#include "store/store.hpp"

namespace muonlab {

struct RunOptions {
  std::string output;  // result file
  int jobs = 1;        // cells at once
  OpenMode mode = OpenMode::Create;
  int shard_index = 0;  // run cells with position % shard_count == shard_index
  int shard_count = 1;
  bool progress = false;  // redraw a progress line on stderr (terminals only)
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

RunReport run_grid(const Grid& grid, const Registry& registry, const RunOptions& options);

}  // namespace muonlab
