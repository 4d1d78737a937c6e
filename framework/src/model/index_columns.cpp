#include "model/index_columns.hpp"

#include <set>
#include <utility>

#include "util/json.hpp"

namespace muonlab {
namespace {

bool is_number(ParamType type) {
  return type == ParamType::Real || type == ParamType::Integer || type == ParamType::Boolean;
}

// Every parameter of a component as (column name, value), nested orthogonalizers flattened.
void flatten(const std::string& prefix, const ComponentConfig& component,
             std::vector<std::pair<std::string, const ParamData*>>& out) {
  for (const auto& [key, data] : component.params) {
    out.emplace_back(prefix + key, &data);
    if (data.type == ParamType::Orthogonalizer && data.component) flatten(prefix + key + ".", *data.component, out);
  }
}

std::vector<std::pair<std::string, const ParamData*>> flat_params(const CellConfig& cell) {
  std::vector<std::pair<std::string, const ParamData*>> out;
  flatten("problem.", cell.problem, out);
  flatten("optimizer.", cell.optimizer, out);
  return out;
}

std::string value_text(const ParamData& data) {
  switch (data.type) {
    case ParamType::String:
    case ParamType::Choice: return data.text;
    case ParamType::Orthogonalizer: return data.component ? data.component->name : data.text;
    case ParamType::RealList: {
      std::string out = "[";
      for (std::size_t i = 0; i < data.list.size(); ++i) {
        if (i > 0) out += ',';
        append_json_number(out, data.list[i]);
      }
      return out + "]";
    }
    default: {
      std::string out;
      append_json_number(out, data.number);
      return out;
    }
  }
}

}  // namespace

IndexLayout index_layout(const std::vector<CellConfig>& cells) {
  std::map<std::string, std::set<std::string>> seen;  // column -> distinct values
  std::map<std::string, bool> text;
  std::vector<std::string> order;  // first appearance
  for (const CellConfig& cell : cells) {
    for (const auto& [name, data] : flat_params(cell)) {
      if (!seen.count(name)) order.push_back(name);
      seen[name].insert(value_text(*data));
      text[name] = text[name] || !is_number(data->type);
    }
  }
  IndexLayout layout;
  std::map<std::string, std::size_t> position;
  for (const std::string& name : order) {
    if (seen[name].size() < 2) continue;  // one value everywhere: not swept
    position[name] = layout.columns.size();
    layout.columns.push_back({name, text[name]});
  }
  for (const CellConfig& cell : cells) {
    std::vector<IndexValue> values(layout.columns.size());
    for (const auto& [name, data] : flat_params(cell)) {
      auto it = position.find(name);
      if (it == position.end()) continue;
      IndexValue& value = values[it->second];
      if (layout.columns[it->second].text) {
        value.text = value_text(*data);
      } else {
        value.number = data->number;
      }
    }
    layout.values[cell.id] = std::move(values);
  }
  return layout;
}

}  // namespace muonlab
