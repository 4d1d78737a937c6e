#include "model/index_row.hpp"

#include <utility>

namespace muonlab {

void CellOutcome::stop(StopReason reason, std::string why) {
  stop_reason = reason;
  status = status_for(reason);
  detail = std::move(why);
}

void CellOutcome::fail(std::string message) {
  stop(StopReason::Error);
  error = std::move(message);
}

std::string CellOutcome::stop_text() const { return detail.empty() ? to_string(stop_reason) : detail; }

IndexRow make_index_row(const CellConfig& cell, const CellOutcome& outcome, double wall_seconds) {
  IndexRow row;
  row.cell_id = cell.id;
  row.problem = cell.problem.name;
  row.optimizer = cell.optimizer.name;
  row.orthogonalizer = orthogonalizer_name(cell.optimizer);
  row.seed = cell.seed;
  row.status = outcome.status;
  row.stop_reason = outcome.error.empty() ? outcome.stop_text() : outcome.error;
  row.iterations = outcome.iterations;
  row.final_loss = outcome.final_loss;
  row.final_metric = outcome.final_metric;
  row.iters_to_tol = outcome.iters_to_tol;
  row.wall_seconds = wall_seconds;
  return row;
}

std::string orthogonalizer_name(const ComponentConfig& optimizer) {
  for (const auto& [name, data] : optimizer.params) {
    if (data.type == ParamType::Orthogonalizer && data.component) return data.component->name;
  }
  return "";
}

}  // namespace muonlab
