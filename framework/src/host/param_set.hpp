// Marshalling a resolved configuration into the C-shaped ParamSet a plugin's create() reads.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/config.hpp"
#include "muonlab/boundary.hpp"

namespace muonlab {

// The C-shaped parameter set handed to create(), with storage for its strings and lists.
class ParamSetBuilder {
 public:
  ParamSetBuilder(const ComponentConfig& config,
                  const std::vector<std::pair<std::string, OrthogonalizerAbi*>>& objects);
  const ParamSet* get() const { return &set_; }

 private:
  ComponentConfig config_;  // owns the strings and lists the values point into
  std::vector<ParamValue> values_;
  ParamSet set_{};
};

}  // namespace muonlab
