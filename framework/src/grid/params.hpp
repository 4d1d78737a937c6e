// Validation of plugin parameters written in YAML against the plugin's declared schema:
// types, ranges, choices, nested orthogonalizers, sweep axes, and defaults.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "grid/yaml.hpp"
#include "model/config.hpp"
#include "model/schema.hpp"

namespace muonlab::grid_detail {

// One declared parameter of one plugin alternative: a single value, or a sweep axis.
struct ParamValues {
  std::string name;
  std::vector<ParamData> values;  // one value, or the axis' values in order
  bool is_axis = false;
  YAML::Node node;  // the value as written (undefined when it is the default)
};

// A plugin with its parameters as written in one place of the grid.
struct ResolvedParams {
  const PluginDescriptor* plugin = nullptr;
  std::vector<ParamValues> params;  // in the order written, then defaults in schema order
};

class ParamResolver {
 public:
  ParamResolver(const SchemaSource& schemas, Places& places) : schemas_(schemas), places_(places) {}

  // The descriptor of plugin `name` (a scalar node) of `kind`; fails with the available names.
  const PluginDescriptor& find_plugin(PluginKind kind, const YAML::Node& name) const;

  // Validates `params` (a map; undefined or null means "all defaults") against `plugin`,
  // then fills every missing parameter from its default. `owner` is where the plugin was
  // named (for errors about missing parameters). Sweeps are accepted only with `allow_sweeps`;
  // otherwise `no_sweep_hint` says what to do instead.
  ResolvedParams resolve(const PluginDescriptor& plugin, const YAML::Node& params, const YAML::Node& owner,
                         bool allow_sweeps, const std::string& no_sweep_hint);

  // A plugin with single values only: {name: ..., params: {...}}, already split.
  ComponentConfig resolve_single(PluginKind kind, const YAML::Node& name, const YAML::Node& params,
                                 const YAML::Node& owner, const std::string& no_sweep_hint);

 private:
  ParamValues resolve_entry(const PluginDescriptor& plugin, const ParamSpec& spec, const Entry& entry,
                            bool allow_sweeps, const std::string& no_sweep_hint);
  ParamValues resolve_default(const PluginDescriptor& plugin, const ParamSpec& spec, const YAML::Node& owner);

  std::vector<ParamData> read_sweep(const PluginDescriptor& plugin, const ParamSpec& spec, const Entry& sweep);
  std::vector<ParamData> read_spaced(const PluginDescriptor& plugin, const ParamSpec& spec, const Entry& sweep,
                                     bool logarithmic);
  ParamData read_value(const PluginDescriptor& plugin, const ParamSpec& spec, const YAML::Node& node);
  ParamData read_orthogonalizer(const PluginDescriptor& plugin, const ParamSpec& spec, const YAML::Node& node);
  double checked_number(const PluginDescriptor& plugin, const ParamSpec& spec, double value,
                        const YAML::Node& node) const;

  const SchemaSource& schemas_;
  Places& places_;
};

// "optimizer 'muon'"
std::string plugin_label(const PluginDescriptor& plugin);

}  // namespace muonlab::grid_detail
