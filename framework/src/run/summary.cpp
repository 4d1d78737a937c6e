#include "run/summary.hpp"

#include <iomanip>
#include <map>
#include <ostream>
#include <set>

#include "util/text.hpp"

namespace muonlab {

std::string format_param(const ParamData& p) {
  switch (p.type) {
    case ParamType::Integer: return std::to_string(static_cast<long long>(p.number));
    case ParamType::Real: return format_number(p.number);
    case ParamType::Boolean: return p.number != 0 ? "true" : "false";
    case ParamType::RealList: return "[" + std::to_string(p.list.size()) + " values]";
    case ParamType::Orthogonalizer: return p.component ? p.component->name : "";
    default: return p.text;
  }
}

std::vector<std::string> cell_labels(const Grid& grid, bool problem_side) {
  auto component = [&](const CellConfig& c) -> const ComponentConfig& {
    return problem_side ? c.problem : c.optimizer;
  };
  // Parameters that take more than one value among cells of the same plugin.
  std::map<std::string, std::map<std::string, std::set<std::string>>> values;
  for (const CellConfig& cell : grid.cells) {
    const ComponentConfig& c = component(cell);
    for (const auto& [key, data] : c.params) values[c.name][key].insert(format_param(data));
  }
  std::set<std::string> names;
  for (const CellConfig& cell : grid.cells) names.insert(component(cell).name);

  std::vector<std::string> labels;
  for (const CellConfig& cell : grid.cells) {
    const ComponentConfig& c = component(cell);
    std::string label = (problem_side && names.size() == 1) ? "" : c.name;
    for (const auto& [key, data] : c.params) {
      const bool varies = values[c.name][key].size() > 1;
      const bool always_shown = data.type == ParamType::Orthogonalizer;
      if (!varies && !always_shown) continue;
      label += (label.empty() ? "" : " ") + key + "=" + format_param(data);
    }
    labels.push_back(label.empty() ? c.name : label);
  }
  return labels;
}

void print_summary(std::ostream& out, const Grid& grid, const RunReport& report, const std::string& output) {
  const std::vector<std::string> problem_labels = cell_labels(grid, true);
  const std::vector<std::string> optimizer_labels = cell_labels(grid, false);
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < grid.cells.size(); ++i) position[grid.cells[i].id] = i;

  std::size_t problem_width = 7, optimizer_width = 9;
  for (const IndexRow& row : report.rows) {
    auto it = position.find(row.cell_id);
    if (it == position.end()) continue;
    problem_width = std::max(problem_width, problem_labels[it->second].size());
    optimizer_width = std::max(optimizer_width, optimizer_labels[it->second].size());
  }
  const std::string tol_header = grid.stop.tol > 0 ? "iters to " + format_number(grid.stop.tol) : "iters to tol";
  out << std::left << std::setw(14) << "cell" << std::setw(static_cast<int>(problem_width) + 2) << "problem"
      << std::setw(static_cast<int>(optimizer_width) + 2) << "optimizer" << std::setw(6) << "seed" << std::setw(11)
      << "status" << std::right << std::setw(8) << "iters" << std::setw(12) << "final loss" << std::setw(12)
      << grid.stop.metric.substr(0, 11) << std::setw(15) << tol_header << "\n";
  const std::size_t limit = 60;
  std::size_t shown = 0;
  for (const IndexRow& row : report.rows) {
    if (shown++ == limit) {
      out << "... " << report.rows.size() - limit << " more cells: see /index in the result file\n";
      break;
    }
    auto it = position.find(row.cell_id);
    const std::string problem = it == position.end() ? row.problem : problem_labels[it->second];
    const std::string optimizer = it == position.end() ? row.optimizer : optimizer_labels[it->second];
    out << std::left << std::setw(14) << row.cell_id << std::setw(static_cast<int>(problem_width) + 2) << problem
        << std::setw(static_cast<int>(optimizer_width) + 2) << optimizer << std::setw(6) << row.seed << std::setw(11)
        << to_string(row.status) << std::right << std::setw(8) << row.iterations << std::setw(12)
        << format_number(row.final_loss) << std::setw(12) << format_number(row.final_metric) << std::setw(15)
        << (row.iters_to_tol < 0 ? std::string("-") : std::to_string(row.iters_to_tol)) << "\n";
  }
  for (const IndexRow& row : report.rows) {
    if (row.status == CellStatus::Failed) out << "failed " << row.cell_id << ": " << row.stop_reason << "\n";
  }
  out << "\n"
      << report.rows.size() << " cells (" << report.rows.size() - static_cast<std::size_t>(report.skipped) << " ran, "
      << report.skipped << " kept from the existing file, " << report.failed << " failed) in "
      << format_duration(report.seconds) << "\nresults: " << output << "\n";
}

}  // namespace muonlab
