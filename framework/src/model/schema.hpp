// Where grid validation looks up plugin schemas (the registry implements it).
#pragma once

#include <string>
#include <vector>

#include "model/vocabulary.hpp"
#include "muonlab/abi.hpp"

namespace muonlab {

class SchemaSource {
 public:
  virtual ~SchemaSource() = default;
  // Descriptor of plugin `name` of `kind`, or nullptr when there is none.
  virtual const PluginDescriptor* find(PluginKind kind, const std::string& name) const = 0;
  // All plugin names of `kind`, sorted.
  virtual std::vector<std::string> names(PluginKind kind) const = 0;
};

}  // namespace muonlab
