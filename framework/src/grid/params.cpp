#include "grid/params.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "util/text.hpp"

namespace muonlab::grid_detail {

namespace {

const std::vector<std::string> kSweepKinds = {"values", "linspace", "logspace"};

// A sweep axis can hold at most this many generated values; more is almost surely a typo
// (and would exhaust memory before any cell runs).
constexpr std::int64_t kMaxSpacedCount = 100000;

std::string param_label(const PluginDescriptor& plugin, const ParamSpec& spec) {
  return plugin_label(plugin) + " parameter '" + spec.name + "'";
}

std::vector<std::string> split_choices(const char* choices) {
  std::vector<std::string> out;
  if (choices == nullptr) return out;
  std::string current;
  for (const char* c = choices; *c != '\0'; ++c) {
    if (*c == '|') {
      out.push_back(current);
      current.clear();
    } else {
      current += *c;
    }
  }
  out.push_back(current);
  return out;
}

std::string bound_text(double bound) {
  if (std::isinf(bound)) return bound > 0 ? "inf" : "-inf";
  return format_number(bound);
}

bool low_exclusive(const ParamSpec& spec) { return (spec.flags & kParamLowExclusive) != 0 || std::isinf(spec.low); }

bool high_exclusive(const ParamSpec& spec) { return (spec.flags & kParamHighExclusive) != 0 || std::isinf(spec.high); }

std::string range_text(const ParamSpec& spec) {
  return std::string(low_exclusive(spec) ? "(" : "[") + bound_text(spec.low) + ", " + bound_text(spec.high) +
         (high_exclusive(spec) ? ")" : "]");
}

std::string expected_text(const ParamSpec& spec) {
  switch (spec.type) {
    case ParamType::Real: return "a real number";
    case ParamType::Integer: return "an integer";
    case ParamType::Boolean: return "true or false";
    case ParamType::String: return "a string";
    case ParamType::Choice: return "one of: " + join(split_choices(spec.choices));
    case ParamType::RealList: return "a list of real numbers, e.g. [0.1, 0.05]";
    case ParamType::Orthogonalizer: return "an orthogonalizer name, or {name: ..., params: {...}}";
  }
  return "a value";
}

bool is_sweep(const YAML::Node& node) {
  if (!node.IsMap() || node.size() != 1) return false;
  const YAML::Node key = node.begin()->first;
  if (!key.IsScalar()) return false;
  for (const std::string& kind : kSweepKinds) {
    if (key.Scalar() == kind) return true;
  }
  return false;
}

// Rounds a generated sweep value to an integer when it is one up to rounding noise of the
// generator (a few ulps); anything further away is not meant as an integer.
std::optional<double> as_integer(double value) {
  const double rounded = std::round(value);
  if (std::fabs(value - rounded) > 1e-9 * std::max(1.0, std::fabs(value))) return std::nullopt;
  return rounded == 0.0 ? 0.0 : rounded;
}

}  // namespace

std::string plugin_label(const PluginDescriptor& plugin) { return std::string(plugin.kind) + " '" + plugin.name + "'"; }

const PluginDescriptor& ParamResolver::find_plugin(PluginKind kind, const YAML::Node& name) const {
  const std::string kind_text = to_string(kind);
  if (!name.IsScalar() || name.Scalar().empty()) {
    places_.fail(name, "expected the name of a " + kind_text + " plugin, got " + describe_node(name));
  }
  if (const PluginDescriptor* plugin = schemas_.find(kind, name.Scalar())) return *plugin;
  const std::vector<std::string> available = schemas_.names(kind);
  const std::string suggestion = closest_name(name.Scalar(), available);
  std::string message = "unknown " + kind_text + " '" + name.Scalar() + "'";
  message += suggestion.empty() ? ";" : "; did you mean '" + suggestion + "'?";
  message += " available: " + (available.empty() ? "none (no " + kind_text + " plugins were found)" : join(available));
  places_.fail(name, message);
}

ResolvedParams ParamResolver::resolve(const PluginDescriptor& plugin, const YAML::Node& params, const YAML::Node& owner,
                                      bool allow_sweeps, const std::string& no_sweep_hint) {
  ResolvedParams out;
  out.plugin = &plugin;
  std::vector<Entry> entries;
  if (params.IsDefined() && !params.IsNull())
    entries = map_entries(params, "the params of " + plugin_label(plugin), places_);

  std::vector<std::string> declared;
  for (std::uint32_t i = 0; i < plugin.num_params; ++i) declared.emplace_back(plugin.params[i].name);

  for (const Entry& entry : entries) {
    const ParamSpec* spec = nullptr;
    for (std::uint32_t i = 0; i < plugin.num_params; ++i) {
      if (entry.name == plugin.params[i].name) spec = &plugin.params[i];
    }
    if (spec == nullptr) {
      const std::string suggestion = closest_name(entry.name, declared);
      std::string message = plugin_label(plugin) + " has no parameter '" + entry.name + "'; ";
      message += suggestion.empty() ? "its parameters are: " + (declared.empty() ? "none" : join(declared))
                                    : "did you mean '" + suggestion + "'?";
      places_.fail_entry(entry.key, entry.value, message + " (see `muonlab describe " + plugin.name + "`)");
    }
    out.params.push_back(resolve_entry(plugin, *spec, entry, allow_sweeps, no_sweep_hint));
  }
  for (std::uint32_t i = 0; i < plugin.num_params; ++i) {
    if (find_entry(entries, plugin.params[i].name) == nullptr) {
      out.params.push_back(
          resolve_default(plugin, plugin.params[i], params.IsDefined() && params.IsMap() ? params : owner));
    }
  }
  return out;
}

ComponentConfig ParamResolver::resolve_single(PluginKind kind, const YAML::Node& name, const YAML::Node& params,
                                              const YAML::Node& owner, const std::string& no_sweep_hint) {
  const PluginDescriptor& plugin = find_plugin(kind, name);
  ComponentConfig component;
  component.kind = kind;
  component.name = plugin.name;
  for (ParamValues& param : resolve(plugin, params, owner, false, no_sweep_hint).params) {
    component.params[param.name] = std::move(param.values.front());
  }
  return component;
}

ParamValues ParamResolver::resolve_entry(const PluginDescriptor& plugin, const ParamSpec& spec, const Entry& entry,
                                         bool allow_sweeps, const std::string& no_sweep_hint) {
  ParamValues out;
  out.name = spec.name;
  out.node = entry.value;
  if (!entry.value.IsDefined() || entry.value.IsNull()) {
    places_.fail_entry(entry.key, entry.value,
                       param_label(plugin, spec) + ": no value given; expected " + expected_text(spec));
  }
  if (is_sweep(entry.value)) {
    if (!allow_sweeps) {
      places_.fail(entry.value, param_label(plugin, spec) + ": a sweep is not allowed here; " + no_sweep_hint);
    }
    const std::vector<Entry> sweep = map_entries(entry.value, "a sweep", places_);
    out.values = read_sweep(plugin, spec, sweep.front());
    out.is_axis = true;
  } else {
    out.values.push_back(read_value(plugin, spec, entry.value));
  }
  return out;
}

ParamValues ParamResolver::resolve_default(const PluginDescriptor& plugin, const ParamSpec& spec,
                                           const YAML::Node& owner) {
  const std::string label = param_label(plugin, spec);
  if (spec.default_value == nullptr) {
    std::string message = plugin_label(plugin) + " needs parameter '" + spec.name + "' (" + expected_text(spec);
    if (spec.type == ParamType::Real || spec.type == ParamType::Integer) message += " in " + range_text(spec);
    message += "), which has no default";
    if (spec.doc != nullptr && *spec.doc != '\0') message += ": " + std::string(spec.doc);
    places_.fail(owner, message);
  }
  YAML::Node node;
  try {
    node = YAML::Load(spec.default_value);
  } catch (const YAML::Exception& error) {
    places_.fail(owner, "the default of " + label + " declared by the plugin ('" + spec.default_value +
                            "') is not valid YAML: " + error.msg);
  }
  // A plugin's defaults are parsed and checked like user input; a bad one points at the
  // place the plugin was named and says it is the plugin's default.
  places_.adopt(node, places_.where(owner) + ": in the default of " + label + " ('" + spec.default_value +
                          "') declared by the plugin");
  ParamValues out;
  out.name = spec.name;
  if (spec.type == ParamType::String && node.IsNull()) {
    ParamData empty;
    empty.type = ParamType::String;
    out.values.push_back(empty);
  } else {
    out.values.push_back(read_value(plugin, spec, node));
  }
  return out;
}

std::vector<ParamData> ParamResolver::read_sweep(const PluginDescriptor& plugin, const ParamSpec& spec,
                                                 const Entry& sweep) {
  if (sweep.name != "values") return read_spaced(plugin, spec, sweep, sweep.name == "logspace");
  if (!sweep.value.IsSequence() || sweep.value.size() == 0) {
    places_.fail(sweep.value, param_label(plugin, spec) + ": {values: [...]} needs a non-empty list, got " +
                                  describe_node(sweep.value));
  }
  std::vector<ParamData> out;
  for (const YAML::Node& element : sweep.value) out.push_back(read_value(plugin, spec, element));
  return out;
}

std::vector<ParamData> ParamResolver::read_spaced(const PluginDescriptor& plugin, const ParamSpec& spec,
                                                  const Entry& sweep, bool logarithmic) {
  const std::string label = param_label(plugin, spec);
  const std::string form = "{" + sweep.name + ": [a, b, n]}";
  if (spec.type != ParamType::Real && spec.type != ParamType::Integer) {
    places_.fail(sweep.key, label + ": " + form + " applies to real or integer parameters only; list the " +
                                "values instead: {values: [...]}");
  }
  const YAML::Node& body = sweep.value;
  if (!body.IsSequence() || body.size() != 3) {
    places_.fail(
        body, label + ": " + form + " takes the first value, the last value and the count, got " + describe_node(body));
  }
  const double first = read_real(body[0], label + " " + sweep.name + " start", places_);
  const double last = read_real(body[1], label + " " + sweep.name + " end", places_);
  const std::int64_t count = read_integer(body[2], label + " " + sweep.name + " count", places_);
  if (count < 1 || count > kMaxSpacedCount) {
    places_.fail(body[2], label + ": the " + sweep.name + " count must be between 1 and " +
                              std::to_string(kMaxSpacedCount) + ", got " + std::to_string(count));
  }
  if (logarithmic && (first <= 0 || last <= 0)) {
    places_.fail(body, label + ": logspace endpoints are values and must be > 0, got [" + format_number(first) + ", " +
                           format_number(last) + "]");
  }
  // Spacing is computed from the endpoint values, and the endpoints are reproduced exactly,
  // so logspace [1, 1000, 4] is exactly 1, 10, 100, 1000.
  const double log_first = logarithmic ? std::log10(first) : 0.0;
  const double log_last = logarithmic ? std::log10(last) : 0.0;
  std::vector<ParamData> out;
  for (std::int64_t k = 0; k < count; ++k) {
    double value = first;
    if (k == count - 1 && count > 1) {
      value = last;
    } else if (k > 0) {
      // Multiply, then divide: one rounding for the step, so quarter steps and whole
      // decades come out exact.
      const double steps = static_cast<double>(k);
      const double intervals = static_cast<double>(count - 1);
      value = logarithmic ? std::pow(10.0, log_first + (log_last - log_first) * steps / intervals)
                          : first + (last - first) * steps / intervals;
    }
    if (spec.type == ParamType::Integer) {
      const std::optional<double> integral = as_integer(value);
      if (!integral) {
        places_.fail(body, label + ": " + sweep.name + " value " + format_number(value) +
                               " is not an integer; choose endpoints and count that give integers, "
                               "or list them: {values: [...]}");
      }
      value = *integral;
    }
    ParamData data;
    data.type = spec.type;
    data.number = checked_number(plugin, spec, value, body);
    out.push_back(std::move(data));
  }
  return out;
}

ParamData ParamResolver::read_value(const PluginDescriptor& plugin, const ParamSpec& spec, const YAML::Node& node) {
  const std::string label = param_label(plugin, spec);
  if (!node.IsDefined() || node.IsNull()) {
    places_.fail(node, label + ": no value given; expected " + expected_text(spec));
  }
  if (node.IsMap() && node.size() == 1 && node.begin()->first.IsScalar()) {
    const std::string key = node.begin()->first.Scalar();
    const std::string sweep = key == "name" || key == "params" ? "" : closest_name(key, kSweepKinds);
    if (!sweep.empty()) {
      places_.fail(node.begin()->first, label + ": unknown sweep '" + key + "'; did you mean '" + sweep +
                                            "'? (sweeps: {values: [...]}, {linspace: [a, b, n]}, "
                                            "{logspace: [a, b, n]})");
    }
  }
  if (spec.type == ParamType::Orthogonalizer) return read_orthogonalizer(plugin, spec, node);

  ParamData data;
  data.type = spec.type;
  if (node.IsMap()) {
    places_.fail(node, label + ": expected " + expected_text(spec) +
                           ", got a map (sweeps are {values: [...]}, {linspace: [a, b, n]}, {logspace: [a, b, n]})");
  }
  if (node.IsSequence()) {
    if (spec.type != ParamType::RealList) {
      places_.fail(node, label + ": expected " + expected_text(spec) +
                             ", got a list; a plain list is only a value for real-list parameters, "
                             "to sweep these values write {values: [...]}");
    }
    for (const YAML::Node& element : node) {
      const double value = read_real(element, label, places_);
      data.list.push_back(checked_number(plugin, spec, value, element));
    }
    return data;
  }

  const std::string& text = node.Scalar();
  const auto wrong_type = [&]() {
    places_.fail(node, label + ": expected " + expected_text(spec) + ", got '" + text + "'");
  };
  switch (spec.type) {
    case ParamType::Real: {
      const std::optional<double> value = parse_real(text);
      if (!value) wrong_type();
      data.number = checked_number(plugin, spec, *value, node);
      break;
    }
    case ParamType::Integer: {
      const std::optional<double> value = parse_integer(text);
      if (!value) wrong_type();
      data.number = checked_number(plugin, spec, *value, node);
      break;
    }
    case ParamType::Boolean: {
      const std::optional<bool> value = parse_boolean(text);
      if (!value) wrong_type();
      data.number = *value ? 1.0 : 0.0;
      break;
    }
    case ParamType::String: data.text = text; break;
    case ParamType::Choice: {
      const std::vector<std::string> choices = split_choices(spec.choices);
      bool valid = false;
      for (const std::string& choice : choices) valid = valid || choice == text;
      if (!valid) {
        const std::string suggestion = closest_name(text, choices);
        std::string message = label + ": '" + text + "' is not one of the choices";
        if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
        places_.fail(node, message + " (choices: " + join(choices) + ")");
      }
      data.text = text;
      break;
    }
    case ParamType::RealList:
    case ParamType::Orthogonalizer: wrong_type();
  }
  return data;
}

ParamData ParamResolver::read_orthogonalizer(const PluginDescriptor& plugin, const ParamSpec& spec,
                                             const YAML::Node& node) {
  const std::string label = param_label(plugin, spec);
  static const std::string kNestedHint =
      "to compare settings of a nested orthogonalizer, sweep whole orthogonalizers: "
      "{values: [{name: ns5, params: {steps: 3}}, {name: ns5, params: {steps: 5}}]}";
  ComponentConfig component;
  if (node.IsScalar()) {
    component = resolve_single(PluginKind::Orthogonalizer, node, YAML::Node(), node, kNestedHint);
  } else if (node.IsMap()) {
    const std::vector<Entry> entries = map_entries(node, label, places_);
    check_keys(entries, {"name", "params"}, label, places_);
    const Entry* name = find_entry(entries, "name");
    if (name == nullptr) places_.fail(node, label + ": missing 'name' of the orthogonalizer");
    const Entry* params = find_entry(entries, "params");
    component = resolve_single(PluginKind::Orthogonalizer, name->value, params ? params->value : YAML::Node(), node,
                               kNestedHint);
  } else {
    places_.fail(node, label + ": expected " + expected_text(spec) + ", got " + describe_node(node));
  }
  ParamData data;
  data.type = ParamType::Orthogonalizer;
  data.text = component.name;
  data.component = std::make_shared<ComponentConfig>(std::move(component));
  return data;
}

double ParamResolver::checked_number(const PluginDescriptor& plugin, const ParamSpec& spec, double value,
                                     const YAML::Node& node) const {
  const bool low_ok = (spec.flags & kParamLowExclusive) != 0 ? value > spec.low : value >= spec.low;
  const bool high_ok = (spec.flags & kParamHighExclusive) != 0 ? value < spec.high : value <= spec.high;
  if (low_ok && high_ok) return value;
  const bool exclusive = low_ok ? (spec.flags & kParamHighExclusive) != 0 : (spec.flags & kParamLowExclusive) != 0;
  const double bound = low_ok ? spec.high : spec.low;
  const std::string relation = low_ok ? (exclusive ? "<" : "<=") : (exclusive ? ">" : ">=");
  std::string message = param_label(plugin, spec) + " = " + format_number(value) + " is out of range " +
                        range_text(spec) + ": it must be " + relation + " " + bound_text(bound);
  if (exclusive) message += " (the bound itself is excluded)";
  places_.fail(node, message);
}

}  // namespace muonlab::grid_detail
