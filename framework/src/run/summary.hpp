// The one-screen table printed at the end of `muonlab run`, and the short cell labels it
// uses (the parameters that vary across the grid).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "model/config.hpp"
#include "run/grid_run.hpp"

namespace muonlab {

// Short human labels for cells: the parameters that vary across the grid.
std::vector<std::string> cell_labels(const Grid& grid, bool problem_side);

void print_summary(std::ostream& out, const Grid& grid, const RunReport& report, const std::string& output);

// A parameter value as the summary shows it (3 significant digits, lists by their length).
std::string format_param(const ParamData& p);

}  // namespace muonlab
