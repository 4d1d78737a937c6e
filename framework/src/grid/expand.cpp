#include "grid/expand.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "model/config_json.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

namespace muonlab::grid_detail {

namespace {

enum Side { kProblemSide = 0, kOptimizerSide = 1 };

// One sweep axis of a (problem, optimizer) pair.
struct AxisSlot {
  Side side;
  std::size_t param;  // index into the alternative's resolved params
  std::string name;   // "problem.kappa"
  std::size_t length;
};

// Axes that take their value index together: one zip group (within this pair) or one axis.
struct Dimension {
  std::vector<std::size_t> slots;
  std::size_t length;
};

// A cell before ids and seeds are derived, with its position in the grid's order.
struct PendingCell {
  std::vector<std::size_t> order;  // problem alt, problem axis indices, optimizer alt, ..., seed index
  ComponentConfig problem;
  ComponentConfig optimizer;
  std::int64_t seed;
  const Alternative* problem_alternative;
  const Alternative* optimizer_alternative;
};

std::string axis_name(const Alternative& alternative, const ParamValues& param) {
  return std::string(to_string(alternative.kind)) + "." + param.name;
}

void add_slots(const Alternative& alternative, Side side, std::vector<AxisSlot>& slots) {
  const std::vector<ParamValues>& params = alternative.resolved.params;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].is_axis) slots.push_back({side, i, axis_name(alternative, params[i]), params[i].values.size()});
  }
}

std::string pair_text(const Alternative& problem, const Alternative& optimizer) {
  return plugin_label(*problem.resolved.plugin) + " with " + plugin_label(*optimizer.resolved.plugin);
}

std::vector<Dimension> dimensions(const std::vector<AxisSlot>& slots, const std::vector<ZipGroup>& zips,
                                  const std::string& pair, const Places& places) {
  std::vector<Dimension> out;
  std::vector<bool> zipped(slots.size(), false);
  for (const ZipGroup& zip : zips) {
    Dimension dimension{{}, 0};
    for (std::size_t s = 0; s < slots.size(); ++s) {
      if (std::find(zip.axes.begin(), zip.axes.end(), slots[s].name) != zip.axes.end()) dimension.slots.push_back(s);
    }
    if (dimension.slots.empty()) continue;
    dimension.length = slots[dimension.slots.front()].length;
    for (std::size_t s : dimension.slots) {
      if (slots[s].length == dimension.length) continue;
      std::string lengths;
      for (std::size_t t : dimension.slots) {
        lengths +=
            (lengths.empty() ? "" : ", ") + slots[t].name + " has " + std::to_string(slots[t].length) + " values";
      }
      places.fail(zip.node, "this zip entry pairs axes of different lengths for " + pair + ": " + lengths +
                                "; zipped axes must have equal lengths");
    }
    for (std::size_t s : dimension.slots) zipped[s] = true;
    out.push_back(std::move(dimension));
  }
  for (std::size_t s = 0; s < slots.size(); ++s) {
    if (!zipped[s]) out.push_back({{s}, slots[s].length});
  }
  return out;
}

ComponentConfig fixed_part(const Alternative& alternative) {
  ComponentConfig component;
  component.kind = alternative.kind;
  component.name = alternative.resolved.plugin->name;
  for (const ParamValues& param : alternative.resolved.params) component.params[param.name] = param.values.front();
  return component;
}

// Advances a mixed-radix counter, last digit fastest; false after the last combination.
bool advance(std::vector<std::size_t>& counter, const std::vector<Dimension>& dims) {
  for (std::size_t d = dims.size(); d-- > 0;) {
    if (++counter[d] < dims[d].length) return true;
    counter[d] = 0;
  }
  return false;
}

void expand_pair(std::size_t problem_index, const Alternative& problem, std::size_t optimizer_index,
                 const Alternative& optimizer, const std::vector<ZipGroup>& zips,
                 const std::vector<std::int64_t>& seeds, const Places& places, std::vector<PendingCell>& out) {
  std::vector<AxisSlot> slots;
  add_slots(problem, kProblemSide, slots);
  add_slots(optimizer, kOptimizerSide, slots);
  const std::vector<Dimension> dims = dimensions(slots, zips, pair_text(problem, optimizer), places);
  const ComponentConfig problem_base = fixed_part(problem);
  const ComponentConfig optimizer_base = fixed_part(optimizer);

  std::vector<std::size_t> counter(dims.size(), 0);
  do {
    std::vector<std::size_t> value_index(slots.size(), 0);
    for (std::size_t d = 0; d < dims.size(); ++d) {
      for (std::size_t s : dims[d].slots) value_index[s] = counter[d];
    }
    PendingCell cell{{}, problem_base, optimizer_base, 0, &problem, &optimizer};
    for (std::size_t s = 0; s < slots.size(); ++s) {
      const Alternative& owner = slots[s].side == kProblemSide ? problem : optimizer;
      const ParamValues& param = owner.resolved.params[slots[s].param];
      ComponentConfig& target = slots[s].side == kProblemSide ? cell.problem : cell.optimizer;
      target.params[param.name] = param.values[value_index[s]];
    }
    // The order key: problem alternative, problem axis values, optimizer alternative,
    // optimizer axis values (then the seed index, below).
    cell.order.push_back(problem_index);
    for (std::size_t s = 0; s < slots.size(); ++s) {
      if (slots[s].side == kProblemSide) cell.order.push_back(value_index[s]);
    }
    cell.order.push_back(optimizer_index);
    for (std::size_t s = 0; s < slots.size(); ++s) {
      if (slots[s].side == kOptimizerSide) cell.order.push_back(value_index[s]);
    }
    for (std::size_t k = 0; k < seeds.size(); ++k) {
      PendingCell seeded = cell;
      seeded.seed = seeds[k];
      seeded.order.push_back(k);
      out.push_back(std::move(seeded));
    }
  } while (advance(counter, dims));
}

std::string hex12(std::uint64_t hash) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(buffer, 12);  // the leading 48 bits: FNV-1a mixes them most
}

CellConfig finish_cell(PendingCell& pending) {
  CellConfig cell;
  cell.seed = pending.seed;
  cell.problem = std::move(pending.problem);
  cell.optimizer = std::move(pending.optimizer);
  cell.canonical = cell_json(cell, JsonNumbers::Digits17);
  cell.id = "c" + hex12(stable_hash(cell.canonical));
  const auto seed_bits = static_cast<std::uint64_t>(cell.seed);
  cell.problem_seed = mix_seed(seed_bits, stable_hash(cell.problem.name));
  cell.optimizer_seed = mix_seed(seed_bits, stable_hash(cell.id));
  cell.sample_seed = cell.problem_seed ^ kSampleStream;
  return cell;
}

[[noreturn]] void fail_duplicate(const CellConfig& cell, const CellConfig& earlier_cell, const PendingCell& pending,
                                 const PendingCell& earlier, const Places& places) {
  const auto origin = [&](const PendingCell& c) {
    return "problem at " + places.where(c.problem_alternative->node) + " with optimizer at " +
           places.where(c.optimizer_alternative->node);
  };
  if (cell.canonical != earlier_cell.canonical) {
    places.fail(pending.optimizer_alternative->node, "two different cells hash to the same id " + cell.id + ": " +
                                                         cell.canonical + " and " + earlier_cell.canonical +
                                                         "; change a parameter slightly to separate them");
  }
  places.fail(pending.optimizer_alternative->node,
              "duplicate cell " + cell.id + ": the same configuration comes from " + origin(earlier) + " and from " +
                  origin(pending) +
                  " (look for repeated alternatives or sweep values, or a value equal to a "
                  "default); configuration: " +
                  cell.canonical);
}

}  // namespace

void check_zip_names(const std::vector<ZipGroup>& zips, const std::vector<Alternative>& problems,
                     const std::vector<Alternative>& optimizers, const Places& places) {
  std::vector<std::string> axes;
  std::set<std::string> fixed;
  for (const std::vector<Alternative>* side : {&problems, &optimizers}) {
    for (const Alternative& alternative : *side) {
      for (const ParamValues& param : alternative.resolved.params) {
        const std::string name = axis_name(alternative, param);
        if (!param.is_axis) fixed.insert(name);
        if (param.is_axis && std::find(axes.begin(), axes.end(), name) == axes.end()) axes.push_back(name);
      }
    }
  }
  std::map<std::string, const YAML::Node*> zipped;
  for (const ZipGroup& zip : zips) {
    for (std::size_t i = 0; i < zip.axes.size(); ++i) {
      const std::string& name = zip.axes[i];
      if (std::find(axes.begin(), axes.end(), name) == axes.end()) {
        std::string message = "zip names '" + name + "', which is not a sweep axis";
        if (fixed.count(name) != 0) message += " (it has a single value; sweep it with {values: [...]})";
        const std::string suggestion = closest_name(name, axes);
        if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
        message += axes.empty() ? "; this grid has no sweep axes" : " (sweep axes: " + join(axes) + ")";
        places.fail(zip.name_nodes[i], message);
      }
      const auto [it, inserted] = zipped.emplace(name, &zip.name_nodes[i]);
      if (!inserted) {
        places.fail(zip.name_nodes[i], "axis '" + name + "' is zipped twice (also at " + places.where(*it->second) +
                                           "); put all axes that vary together in one zip entry");
      }
    }
  }
}

std::vector<CellConfig> expand_cells(const std::vector<Alternative>& problems,
                                     const std::vector<Alternative>& optimizers, const std::vector<ZipGroup>& zips,
                                     const std::vector<std::int64_t>& seeds, const Places& places) {
  std::vector<PendingCell> pending;
  for (std::size_t p = 0; p < problems.size(); ++p) {
    for (std::size_t o = 0; o < optimizers.size(); ++o) {
      expand_pair(p, problems[p], o, optimizers[o], zips, seeds, places, pending);
    }
  }
  std::stable_sort(pending.begin(), pending.end(),
                   [](const PendingCell& a, const PendingCell& b) { return a.order < b.order; });

  std::vector<CellConfig> cells;
  cells.reserve(pending.size());
  std::map<std::string, std::size_t> by_id;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    cells.push_back(finish_cell(pending[i]));
    const auto [it, inserted] = by_id.emplace(cells.back().id, i);
    if (!inserted) fail_duplicate(cells.back(), cells[it->second], pending[i], pending[it->second], places);
  }
  return cells;
}

}  // namespace muonlab::grid_detail
