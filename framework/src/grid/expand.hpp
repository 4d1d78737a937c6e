// Expansion of validated plugin alternatives into the grid's cells (docs/design.md section 4).
//
// For each problem alternative and each optimizer alternative, the cells are the product
// over their sweep axes, except that the axes named together in one `zip` group vary
// together; then each cell is repeated for each seed. Cells are ordered by problem
// alternative, problem axis values, optimizer alternative, optimizer axis values, seed
// (the seed varies fastest).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "grid/params.hpp"
#include "grid/yaml.hpp"
#include "model/config.hpp"

namespace muonlab::grid_detail {

// One entry of `problem:` or `optimizer:`.
struct Alternative {
  PluginKind kind = PluginKind::Problem;
  ResolvedParams resolved;
  YAML::Node node;  // the alternative as written (for messages)
};

// One `zip` entry: axis names normalized to "problem.<param>" / "optimizer.<param>".
struct ZipGroup {
  std::vector<std::string> axes;
  std::vector<YAML::Node> name_nodes;  // where each name was written
  YAML::Node node;                     // the entry as written
};

// Checks that every zipped name is a sweep axis of some alternative and appears in one
// group only.
void check_zip_names(const std::vector<ZipGroup>& zips, const std::vector<Alternative>& problems,
                     const std::vector<Alternative>& optimizers, const Places& places);

std::vector<CellConfig> expand_cells(const std::vector<Alternative>& problems,
                                     const std::vector<Alternative>& optimizers, const std::vector<ZipGroup>& zips,
                                     const std::vector<std::int64_t>& seeds, const Places& places);

}  // namespace muonlab::grid_detail
