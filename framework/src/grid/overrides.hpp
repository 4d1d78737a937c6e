// "--set key=value" overrides of a grid file, applied to its YAML tree before expansion.
//
// The key is a dotted path of map keys (stop.max_iters, problem.params.n). A step through a
// list of alternatives without an index applies to every alternative
// (optimizer.params.lr); an index picks one (optimizer[1].params.lr, 0-based). The value is
// parsed as YAML, so "{values: [1, 2]}" sets a sweep. Missing maps on the way are created.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "grid/yaml.hpp"

namespace muonlab::grid_detail {

// Applies each override in order; every node an override puts into the tree is adopted by
// `places` under the label "--set key=value". Throws InputError for malformed overrides.
void apply_overrides(YAML::Node& root, const std::vector<std::string>& overrides, Places& places);

}  // namespace muonlab::grid_detail
