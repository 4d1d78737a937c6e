// Plugin discovery and instantiation (docs/design.md section 6).
//
// The registry loads every shared library in its search directories on the calling
// (main) thread, checks each descriptor's ABI version before anything else, and keeps
// every library loaded for the life of the process. A library that fails to load is
// recorded with its path and the reason; the others work. Objects are created through
// handles that own a reference to their library and turn plugin errors into PluginError.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "host/handles.hpp"
#include "host/plugin_info.hpp"
#include "model/config.hpp"
#include "model/schema.hpp"

namespace muonlab {

class Registry : public SchemaSource {
 public:
  // The build's plugin directory, the install prefix's, then MUONLAB_PLUGIN_PATH entries.
  static std::vector<std::string> default_directories();

  explicit Registry(const std::vector<std::string>& directories = default_directories());

  const std::vector<std::string>& directories() const { return directories_; }
  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  const std::vector<LoadFailure>& failures() const { return failures_; }
  const PluginInfo* info(PluginKind kind, const std::string& name) const;

  const PluginDescriptor* find(PluginKind kind, const std::string& name) const override;
  std::vector<std::string> names(PluginKind kind) const override;

  // Throw PluginError naming the plugin, its library and the reason.
  std::unique_ptr<ProblemHandle> create_problem(const ComponentConfig& config, std::uint64_t seed) const;
  // With probe_quality, every orthogonalizer the optimizer uses is wrapped in a quality probe.
  std::unique_ptr<OptimizerHandle> create_optimizer(const ComponentConfig& config, std::uint64_t seed,
                                                    bool probe_quality = false) const;
  std::unique_ptr<OrthogonalizerHandle> create_orthogonalizer(const ComponentConfig& config, std::uint64_t seed) const;

 private:
  void load_directory(const std::string& directory);
  void load_library(const std::string& path);
  const PluginInfo& require(PluginKind kind, const std::string& name) const;
  void* create_object(const PluginInfo& info, const ParamSet* params, std::uint64_t seed) const;

  std::vector<std::string> directories_;
  std::vector<PluginInfo> plugins_;
  std::vector<LoadFailure> failures_;
};

}  // namespace muonlab
