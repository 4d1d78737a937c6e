// JSON of resolved configurations: sorted keys, every parameter present.
//
// Two number forms: cell ids hash the 17-significant-digit text (kept for existing result
// files to resume), and result files store the shortest form that reads back exactly.
#pragma once

#include <string>

#include "model/config.hpp"

namespace muonlab {

enum class JsonNumbers { Shortest, Digits17 };

std::string component_json(const ComponentConfig& component, JsonNumbers numbers);

// {"optimizer":...,"problem":...,"seed":...}: with Digits17 the text the cell id hashes,
// with Shortest the `config` attribute of the cell.
std::string cell_json(const CellConfig& cell, JsonNumbers numbers);

// The resolved rules, every key present ({"max_iters":...,"tol":...,...}).
std::string stop_rule_json(const StopRule& stop);
std::string record_rule_json(const RecordRule& record);

}  // namespace muonlab
