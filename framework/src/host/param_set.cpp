#include "host/param_set.hpp"

namespace muonlab {

ParamSetBuilder::ParamSetBuilder(const ComponentConfig& config,
                                 const std::vector<std::pair<std::string, OrthogonalizerAbi*>>& objects)
    : config_(config) {
  for (const auto& [name, data] : config_.params) {
    ParamValue v{};
    v.name = name.c_str();
    v.type = data.type;
    v.number = data.number;
    v.text =
        data.type == ParamType::Orthogonalizer && data.component ? data.component->name.c_str() : data.text.c_str();
    v.list = data.list.data();
    v.list_size = static_cast<std::uint32_t>(data.list.size());
    for (const auto& [object_name, object] : objects) {
      if (object_name == name) v.object = object;
    }
    values_.push_back(v);
  }
  set_ = ParamSet{values_.data(), static_cast<std::uint32_t>(values_.size())};
}

}  // namespace muonlab
