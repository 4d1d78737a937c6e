// One cell: create its plugins, run the loop the core owns (the clock, stopping rules,
// recording, spectra), record everything through a CellWriter.
#pragma once

#include "host/registry.hpp"
#include "model/config.hpp"
#include "model/index_row.hpp"
#include "store/store.hpp"

namespace muonlab {

// Runs one cell to completion and records it; never throws for a failure inside the cell
// (status failed with the message instead). Throws only when the store itself fails.
IndexRow run_cell(const CellConfig& cell, const Grid& grid, const Registry& registry, Store& store);

// What begin_cell() records first: id, stored configuration, seeds, plugin stamps.
CellHeader cell_header(const CellConfig& cell, const Registry& registry);

}  // namespace muonlab
