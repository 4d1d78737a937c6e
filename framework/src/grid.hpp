// Experiment grid files (DESIGN.md section 4): parse, apply --set overrides, expand the
// sweeps, validate every parameter against its plugin schema.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"
#include "schema.hpp"

namespace muonlab {

// Throws InputError naming file:line:column, the plugin, and the closest valid name.
Grid load_grid(const std::string& path, const std::vector<std::string>& overrides,
               const SchemaSource& schemas);

// Same, from text already in memory (source_name is used in messages).
Grid parse_grid(const std::string& yaml_text, const std::string& source_name,
                const std::vector<std::string>& overrides, const SchemaSource& schemas);

// Resolves one component from a YAML map of parameter values (e.g. "{lr: 0.1,
// orthogonalizer: svd}"): validates against the schema, fills defaults, resolves a nested
// orthogonalizer. Sweeps are not allowed here. Used by tests and benchmark commands.
ComponentConfig resolve_component(const std::string& kind, const std::string& name,
                                  const std::string& params_yaml, const SchemaSource& schemas);

// Canonical JSON of a component (sorted keys, full precision); used for ids and storage.
std::string canonical_json(const ComponentConfig& component);

// The closest candidate to `word` by edit distance, or "" when none is close enough.
std::string closest_name(const std::string& word, const std::vector<std::string>& candidates);

// Stable 64-bit hash (FNV-1a) and the splitmix64 finalizer used to derive seeds.
std::uint64_t stable_hash(const std::string& text);
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b);

}  // namespace muonlab
