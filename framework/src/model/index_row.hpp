// How a cell ended, and the /index row that records it. Every path that ends a cell (the
// cell loop, a worker that died, a store that failed) builds its row with make_index_row.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "model/config.hpp"
#include "model/index_columns.hpp"
#include "model/vocabulary.hpp"

namespace muonlab {

struct CellOutcome {
  CellStatus status = CellStatus::Running;
  StopReason stop_reason = StopReason::None;
  std::string detail;  // replaces the reason's text when set (the numbers of a blow-up)
  std::string error;   // the message of a failure
  std::int64_t iterations = 0;
  double final_loss = std::numeric_limits<double>::quiet_NaN();
  double final_metric = std::numeric_limits<double>::quiet_NaN();
  std::int64_t iters_to_tol = -1;

  // Sets reason and status together.
  void stop(StopReason reason, std::string why = "");
  // status failed, reason error, with the message.
  void fail(std::string message);
  // The cell attribute stop_reason: the detail, or the reason's text.
  std::string stop_text() const;
};

// One row of /index.
struct IndexRow {
  std::string cell_id;
  std::string problem;
  std::string optimizer;
  std::string orthogonalizer;  // "" when the optimizer has none
  std::int64_t seed = 0;
  CellStatus status = CellStatus::Running;
  std::string stop_reason;  // the error message when the cell failed
  std::int64_t iterations = 0;
  double final_loss = 0.0;
  double final_metric = 0.0;
  std::int64_t iters_to_tol = -1;
  double wall_seconds = 0.0;
  std::vector<IndexValue> params;  // the swept parameters, in IndexLayout::columns order
};

IndexRow make_index_row(const CellConfig& cell, const CellOutcome& outcome, double wall_seconds);

// The orthogonalizer an optimizer holds (its first parameter of that type), or "".
std::string orthogonalizer_name(const ComponentConfig& optimizer);

}  // namespace muonlab
