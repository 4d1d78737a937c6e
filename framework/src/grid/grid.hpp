// Experiment grid files (docs/design.md section 4): parse, apply --set overrides, expand the
// sweeps, validate every parameter against its plugin schema.
#pragma once

#include <string>
#include <vector>

#include "model/config.hpp"
#include "model/schema.hpp"

namespace muonlab {

// Throws InputError naming file:line:column, the plugin, and the closest valid name.
Grid load_grid(const std::string& path, const std::vector<std::string>& overrides, const SchemaSource& schemas);

// Same, from text already in memory (source_name is used in messages).
Grid parse_grid(const std::string& yaml_text, const std::string& source_name, const std::vector<std::string>& overrides,
                const SchemaSource& schemas);

// Resolves one component from a YAML map of parameter values (e.g. "{lr: 0.1,
// orthogonalizer: svd}"): validates against the schema, fills defaults, resolves a nested
// orthogonalizer. Sweeps are not allowed here. Used by tests and benchmark commands.
ComponentConfig resolve_component(PluginKind kind, const std::string& name, const std::string& params_yaml,
                                  const SchemaSource& schemas);

}  // namespace muonlab
