#include "grid/overrides.hpp"

#include <cctype>
#include <optional>

#include "util/errors.hpp"

namespace muonlab::grid_detail {

namespace {

struct PathStep {
  std::string name;
  std::optional<std::size_t> index;
};

struct Override {
  std::string label;  // "--set key=value", the prefix of every message about it
  std::vector<PathStep> path;
  std::string value;
};

[[noreturn]] void fail(const std::string& text, const std::string& message) {
  throw InputError("--set " + text + ": " + message);
}

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-'; }

PathStep parse_step(const std::string& text, const std::string& step) {
  static const std::string kShape = "each part of the key is a name, optionally with an index: optimizer[1]";
  std::size_t end = 0;
  while (end < step.size() && is_name_char(step[end])) ++end;
  if (end == 0) fail(text, "malformed key part '" + step + "'; " + kShape);
  PathStep out{step.substr(0, end), std::nullopt};
  if (end == step.size()) return out;
  if (step[end] != '[' || step.back() != ']' || end + 2 >= step.size()) {
    fail(text, "malformed key part '" + step + "'; " + kShape);
  }
  const std::string digits = step.substr(end + 1, step.size() - end - 2);
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) fail(text, "malformed index in '" + step + "'; " + kShape);
  }
  if (digits.size() > 9) fail(text, "index in '" + step + "' is too large");
  out.index = static_cast<std::size_t>(std::stoul(digits));
  return out;
}

Override parse_override(const std::string& text) {
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos) fail(text, "expected key=value, e.g. --set problem.params.n=512");
  const std::string key = text.substr(0, equals);
  Override out{"--set " + text, {}, text.substr(equals + 1)};
  if (key.empty()) fail(text, "missing key before '='; e.g. --set problem.params.n=512");
  if (out.value.find_first_not_of(" \t") == std::string::npos) fail(text, "missing value after '='");
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    out.path.push_back(parse_step(text, key.substr(start, dot == std::string::npos ? std::string::npos : dot - start)));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

std::string path_text(const std::vector<PathStep>& path, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += '.';
    out += path[i].name;
    if (path[i].index) out += "[" + std::to_string(*path[i].index) + "]";
  }
  return out;
}

// A fresh copy of the override's value for each place it goes, so places never share nodes.
YAML::Node load_value(const Override& item, Places& places) {
  YAML::Node value;
  try {
    value = YAML::Load(item.value);
  } catch (const YAML::Exception& error) {
    throw InputError(item.label + ": the value is not valid YAML: " + error.msg);
  }
  places.adopt(value, item.label);
  return value;
}

// The element `index` of `container` (a list, or a single map standing for a list of one).
YAML::Node element(YAML::Node container, std::size_t index, const Override& item, std::size_t depth) {
  if (container.IsMap() && index == 0) return container;
  if (!container.IsSequence() || index >= container.size()) {
    const std::string count = container.IsSequence() ? std::to_string(container.size()) : "1";
    throw InputError(item.label + ": '" + path_text(item.path, depth) + "' does not exist: '" +
                     item.path[depth - 1].name + "' has " + count + " entr" + (count == "1" ? "y" : "ies") +
                     " (indices start at 0)");
  }
  return container[index];
}

// Sets the last step of the path inside the map `target`.
void assign(YAML::Node target, const Override& item, Places& places) {
  const PathStep& step = item.path.back();
  if (!step.index) {
    target[step.name] = load_value(item, places);
    return;
  }
  const YAML::Node existing = static_cast<const YAML::Node&>(target)[step.name];
  if (!existing.IsDefined()) {
    throw InputError(item.label + ": '" + path_text(item.path, item.path.size() - 1) + "' has no '" + step.name +
                     "' to index");
  }
  if (existing.IsMap() && *step.index == 0) {
    target[step.name] = load_value(item, places);
    return;
  }
  YAML::Node slot = element(target[step.name], *step.index, item, item.path.size());
  slot = load_value(item, places);  // assigns into the list element
}

// The node at `step` inside the map `target`: one node, or every element of a list when
// the step has no index. Missing or empty maps on the way are created.
std::vector<YAML::Node> descend(YAML::Node target, std::size_t depth, const Override& item, Places& places) {
  const PathStep& step = item.path[depth];
  const YAML::Node existing = static_cast<const YAML::Node&>(target)[step.name];
  if (!existing.IsDefined() || existing.IsNull()) {
    if (step.index) {
      throw InputError(item.label + ": '" + path_text(item.path, depth + 1) + "' does not exist");
    }
    YAML::Node created(YAML::NodeType::Map);
    places.adopt(created, item.label);
    target[step.name] = created;
    return {created};
  }
  YAML::Node child = target[step.name];
  if (step.index) return {element(child, *step.index, item, depth + 1)};
  if (!child.IsSequence()) return {child};
  std::vector<YAML::Node> all;
  for (YAML::Node alternative : child) all.push_back(alternative);
  return all;
}

void apply_one(YAML::Node& root, const Override& item, Places& places) {
  std::vector<YAML::Node> targets{root};
  for (std::size_t depth = 0; depth < item.path.size(); ++depth) {
    std::vector<YAML::Node> next;
    for (const YAML::Node& target : targets) {
      if (!target.IsMap()) {
        const std::string where = depth == 0 ? "the grid file" : "'" + path_text(item.path, depth) + "'";
        throw InputError(item.label + ": " + where + " is " + describe_node(target) + ", not a map, so it has no '" +
                         item.path[depth].name + "'; set it as a whole instead, e.g. --set " +
                         path_text(item.path, depth) + "={...}");
      }
      if (depth + 1 == item.path.size()) {
        assign(target, item, places);
      } else {
        for (YAML::Node& child : descend(target, depth, item, places)) next.push_back(child);
      }
    }
    // Move, never copy-assign: assigning one YAML::Node to another overwrites the tree.
    targets = std::move(next);
  }
}

}  // namespace

void apply_overrides(YAML::Node& root, const std::vector<std::string>& overrides, Places& places) {
  for (const std::string& text : overrides) apply_one(root, parse_override(text), places);
}

}  // namespace muonlab::grid_detail
