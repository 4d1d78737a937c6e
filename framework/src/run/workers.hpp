// `muonlab run -j N` with N > 1: cells run in N worker processes forked from muonlab once
// the grid is checked and the plugins are loaded; this process owns the result file and
// writes what the workers send (cell_messages.hpp) while they compute.
//
// Why processes and not threads: the HDF5 library is serial (one lock for every call), so
// with threads a cell's writing waited for the other cells' writing; processes also share
// no allocator or BLAS state. And a plugin that crashes (a segfault, an abort) takes down
// its worker only: its cell is recorded as failed with the signal, a new worker takes the
// remaining cells, and the grid completes.
#pragma once

#include <functional>
#include <vector>

#include "host/registry.hpp"
#include "model/config.hpp"
#include "model/index_row.hpp"
#include "store/store.hpp"

namespace muonlab {

struct WorkerOptions {
  int workers = 2;
  int blas_threads = 1;        // OpenBLAS threads in each worker
  double flush_seconds = 0.5;  // a worker sends what it has at least this often
};

// Runs `cells` in worker processes and records them in `store`. `on_row` is called in this
// process, once per cell, in completion order, after the cell's data is in the store.
void run_cells_in_workers(const std::vector<const CellConfig*>& cells, const Grid& grid, const Registry& registry,
                          Store& store, const WorkerOptions& options,
                          const std::function<void(const IndexRow&)>& on_row);

}  // namespace muonlab
