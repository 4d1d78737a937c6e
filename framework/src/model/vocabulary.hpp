// The words muonlab stores and compares: plugin kinds, cell statuses, stop reasons. Inside
// the core they are enums; text appears only at the edges (YAML, HDF5, messages, output),
// through to_string and the parse_* functions here.
#pragma once

#include <optional>
#include <string>

namespace muonlab {

enum class PluginKind { Problem, Optimizer, Orthogonalizer };
inline constexpr PluginKind kPluginKinds[] = {PluginKind::Problem, PluginKind::Optimizer, PluginKind::Orthogonalizer};

// "problem", "optimizer", "orthogonalizer".
const char* to_string(PluginKind kind);
std::optional<PluginKind> parse_plugin_kind(const std::string& text);

// Running is written first and replaced when the cell ends; the other five are final.
enum class CellStatus { Running, Converged, MaxIters, TimeLimit, Diverged, Failed };

// "running", "converged", "max_iters", "time_limit", "diverged", "failed".
const char* to_string(CellStatus status);
std::optional<CellStatus> parse_cell_status(const std::string& text);

// A result: the cell ended by a stopping rule (diverged counts), not by an error or a kill.
bool is_complete(CellStatus status);

enum class StopReason { None, Tolerance, MaxIters, MaxSeconds, NonFinite, Blowup, Error };

// The stored text of each reason ("metric reached tolerance", "reached max_iters", ...);
// None is "".
const char* to_string(StopReason reason);

// The status a stopping rule gives (Error gives Failed, None gives Running).
CellStatus status_for(StopReason reason);

}  // namespace muonlab
