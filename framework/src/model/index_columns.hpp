// The /index columns of swept parameters: one per parameter whose value differs among the
// grid's cells, named "problem.kappa", "optimizer.lr", "optimizer.orthogonalizer",
// "optimizer.orthogonalizer.steps" (a nested orthogonalizer's own parameters). Numbers are
// float64 (NaN where a cell's plugin has no such parameter), everything else text.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "model/config.hpp"

namespace muonlab {

struct IndexColumn {
  std::string name;
  bool text = false;  // else a number
};

struct IndexValue {
  double number = std::numeric_limits<double>::quiet_NaN();
  std::string text;
};

struct IndexLayout {
  std::vector<IndexColumn> columns;
  std::map<std::string, std::vector<IndexValue>> values;  // by cell id, in column order
};

IndexLayout index_layout(const std::vector<CellConfig>& cells);

}  // namespace muonlab
