#include "model/vocabulary.hpp"

namespace muonlab {

const char* to_string(PluginKind kind) {
  switch (kind) {
    case PluginKind::Problem: return "problem";
    case PluginKind::Optimizer: return "optimizer";
    case PluginKind::Orthogonalizer: return "orthogonalizer";
  }
  return "unknown";
}

std::optional<PluginKind> parse_plugin_kind(const std::string& text) {
  for (const PluginKind kind : kPluginKinds)
    if (text == to_string(kind)) return kind;
  return std::nullopt;
}

namespace {
constexpr CellStatus kStatuses[] = {CellStatus::Running,   CellStatus::Converged, CellStatus::MaxIters,
                                    CellStatus::TimeLimit, CellStatus::Diverged,  CellStatus::Failed};
}

const char* to_string(CellStatus status) {
  switch (status) {
    case CellStatus::Running: return "running";
    case CellStatus::Converged: return "converged";
    case CellStatus::MaxIters: return "max_iters";
    case CellStatus::TimeLimit: return "time_limit";
    case CellStatus::Diverged: return "diverged";
    case CellStatus::Failed: return "failed";
  }
  return "unknown";
}

std::optional<CellStatus> parse_cell_status(const std::string& text) {
  for (const CellStatus status : kStatuses)
    if (text == to_string(status)) return status;
  return std::nullopt;
}

bool is_complete(CellStatus status) { return status != CellStatus::Running && status != CellStatus::Failed; }

const char* to_string(StopReason reason) {
  switch (reason) {
    case StopReason::None: return "";
    case StopReason::Tolerance: return "metric reached tolerance";
    case StopReason::MaxIters: return "reached max_iters";
    case StopReason::MaxSeconds: return "reached max_seconds";
    case StopReason::NonFinite: return "loss or metric became NaN/Inf";
    case StopReason::Blowup: return "loss exceeded divergence_factor x initial loss";
    case StopReason::Error: return "error";
  }
  return "unknown";
}

CellStatus status_for(StopReason reason) {
  switch (reason) {
    case StopReason::None: return CellStatus::Running;
    case StopReason::Tolerance: return CellStatus::Converged;
    case StopReason::MaxIters: return CellStatus::MaxIters;
    case StopReason::MaxSeconds: return CellStatus::TimeLimit;
    case StopReason::NonFinite:
    case StopReason::Blowup: return CellStatus::Diverged;
    case StopReason::Error: return CellStatus::Failed;
  }
  return CellStatus::Failed;
}

}  // namespace muonlab
