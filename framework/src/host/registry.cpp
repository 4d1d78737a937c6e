#include "host/registry.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <tuple>

#include "util/errors.hpp"

namespace muonlab {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_path_list(const char* text) {
  std::vector<std::string> out;
  if (text == nullptr) return out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ':')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string canonical_or_same(const std::string& path) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(path, ec);
  return ec ? path : canonical.string();
}

// Checks the descriptor's own consistency; returns "" when usable.
std::string descriptor_problem(const PluginDescriptor* d) {
  if (d == nullptr) return "muonlab_plugin_descriptor returned null";
  if (d->abi_major < kAbiMajor) {
    return "built for plugin ABI " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
           ", this muonlab speaks ABI " + std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor) +
           ": rebuild the plugin against this muonlab";
  }
  if (d->abi_major > kAbiMajor) {
    return "built for plugin ABI " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
           ", newer than this muonlab's ABI " + std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor) +
           ": update muonlab or rebuild the plugin against this one";
  }
  if (d->abi_minor > kAbiMinor) {
    return "built for plugin ABI " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
           ", newer than this muonlab's ABI " + std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor) +
           ": update muonlab or rebuild the plugin against this one";
  }
  if (d->kind == nullptr || !parse_plugin_kind(d->kind))
    return "descriptor has an unknown kind (expected problem, optimizer or orthogonalizer)";
  if (d->name == nullptr || d->name[0] == '\0') return "descriptor has no name";
  if (d->num_params > 0 && d->params == nullptr) return "descriptor declares parameters but has no table";
  for (std::uint32_t i = 0; i < d->num_params; ++i) {
    if (d->params[i].name == nullptr || d->params[i].name[0] == '\0')
      return "parameter " + std::to_string(i) + " has no name";
  }
  return "";
}

}  // namespace

std::string describe(const PluginInfo& info) {
  return std::string(to_string(info.kind)) + " '" + info.name + "' (" + info.library + ")";
}

void PluginInfo::destroy(void* object) const { (*destroy_fn)(object); }

std::vector<std::string> Registry::default_directories() {
  std::vector<std::string> candidates;
  // Next to the executable first, so a moved build tree still finds its own plugins.
  std::error_code ec;
  const auto program = boost::dll::program_location(ec);
  if (!ec) candidates.push_back((program.parent_path().parent_path() / "lib/muonlab/plugins").string());
  candidates.push_back(MUONLAB_BUILD_PLUGIN_DIR);
  candidates.push_back(MUONLAB_INSTALL_PLUGIN_DIR);
  const std::size_t built_in = candidates.size();
  for (const std::string& dir : split_path_list(std::getenv("MUONLAB_PLUGIN_PATH"))) candidates.push_back(dir);

  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    // Built-in locations may legitimately be absent; a user's MUONLAB_PLUGIN_PATH entry is
    // kept so that a typo in it is reported by the registry.
    if (i < built_in && !fs::is_directory(candidates[i], ec)) continue;
    const std::string key = canonical_or_same(candidates[i]);
    if (seen.insert(key).second) out.push_back(key);
  }
  return out;
}

Registry::Registry(const std::vector<std::string>& directories) : directories_(directories) {
  for (const std::string& dir : directories_) load_directory(dir);
  std::stable_sort(plugins_.begin(), plugins_.end(), [](const PluginInfo& a, const PluginInfo& b) {
    return std::tie(a.kind, a.name) < std::tie(b.kind, b.name);
  });
}

void Registry::load_directory(const std::string& directory) {
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    failures_.push_back({directory, "plugin directory does not exist (check MUONLAB_PLUGIN_PATH)"});
    return;
  }
  std::vector<std::string> libraries;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    if (entry.path().extension() == ".so") libraries.push_back(entry.path().string());
  }
  if (ec) {
    failures_.push_back({directory, "cannot list plugin directory: " + ec.message()});
    return;
  }
  std::sort(libraries.begin(), libraries.end());  // deterministic precedence
  for (const std::string& path : libraries) load_library(path);
}

void Registry::load_library(const std::string& path) {
  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    // rtld_now: a missing symbol is reported here, not in the middle of a run.
    library->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    failures_.push_back({path, std::string("cannot load library: ") + e.what()});
    return;
  }
  for (const char* alias : {"muonlab_plugin_descriptor", "muonlab_plugin_create", "muonlab_plugin_destroy"}) {
    if (!library->has(alias)) {
      failures_.push_back({path, std::string("not a muonlab plugin: missing symbol ") + alias +
                                     " (build it with muonlab_add_plugin and MUONLAB_PLUGIN)"});
      return;
    }
  }
  const PluginDescriptor* d = library->get_alias<DescriptorFn>("muonlab_plugin_descriptor")();
  const std::string problem = descriptor_problem(d);
  if (!problem.empty()) {
    failures_.push_back({path, problem});
    return;
  }
  const PluginKind kind = *parse_plugin_kind(d->kind);
  if (const PluginInfo* existing = info(kind, d->name)) {
    failures_.push_back({path, std::string("duplicate ") + d->kind + " '" + d->name + "'; using " + existing->library});
    return;
  }
  PluginInfo info;
  info.kind = kind;
  info.name = d->name;
  info.version = d->version ? d->version : "";
  info.summary = d->summary ? d->summary : "";
  info.build_tag = d->build_tag ? d->build_tag : "";
  info.library = canonical_or_same(path);
  info.descriptor = d;
  info.handle = library;
  info.destroy_fn = &library->get_alias<DestroyFn>("muonlab_plugin_destroy");
  plugins_.push_back(std::move(info));
}

const PluginInfo* Registry::info(PluginKind kind, const std::string& name) const {
  for (const PluginInfo& p : plugins_) {
    if (p.kind == kind && p.name == name) return &p;
  }
  return nullptr;
}

const PluginDescriptor* Registry::find(PluginKind kind, const std::string& name) const {
  const PluginInfo* p = info(kind, name);
  return p ? p->descriptor : nullptr;
}

std::vector<std::string> Registry::names(PluginKind kind) const {
  std::vector<std::string> out;
  for (const PluginInfo& p : plugins_) {
    if (p.kind == kind) out.push_back(p.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

const PluginInfo& Registry::require(PluginKind kind, const std::string& name) const {
  if (const PluginInfo* p = info(kind, name)) return *p;
  std::string available;
  for (const std::string& n : names(kind)) available += (available.empty() ? "" : ", ") + n;
  throw InputError("unknown " + std::string(to_string(kind)) + " '" + name +
                   "'; available: " + (available.empty() ? "(none)" : available));
}

void* Registry::create_object(const PluginInfo& info, const ParamSet* params, std::uint64_t seed) const {
  CreateContext context{seed};
  ErrorBuffer error{};
  void* object = info.handle->get_alias<CreateFn>("muonlab_plugin_create")(params, &context, &error);
  if (object == nullptr) throw PluginError(describe(info) + " could not be created: " + error.message);
  return object;
}

std::unique_ptr<ProblemHandle> Registry::create_problem(const ComponentConfig& config, std::uint64_t seed) const {
  const PluginInfo& info = require(PluginKind::Problem, config.name);
  ParamSetBuilder params(config, {});
  return std::make_unique<ProblemHandle>(static_cast<ProblemAbi*>(create_object(info, params.get(), seed)), info);
}

std::unique_ptr<OrthogonalizerHandle> Registry::create_orthogonalizer(const ComponentConfig& config,
                                                                      std::uint64_t seed) const {
  const PluginInfo& info = require(PluginKind::Orthogonalizer, config.name);
  ParamSetBuilder params(config, {});
  return std::make_unique<OrthogonalizerHandle>(
      static_cast<OrthogonalizerAbi*>(create_object(info, params.get(), seed)), info);
}

std::unique_ptr<OptimizerHandle> Registry::create_optimizer(const ComponentConfig& config, std::uint64_t seed,
                                                            bool probe_quality) const {
  const PluginInfo& info = require(PluginKind::Optimizer, config.name);
  std::vector<std::unique_ptr<OrthogonalizerHandle>> orthogonalizers;
  std::vector<std::pair<std::string, OrthogonalizerAbi*>> objects;
  for (const auto& [name, data] : config.params) {
    if (data.type != ParamType::Orthogonalizer) continue;
    if (!data.component)
      throw InputError("optimizer '" + config.name + "': parameter '" + name + "' names no orthogonalizer");
    orthogonalizers.push_back(create_orthogonalizer(*data.component, seed));
    if (probe_quality) orthogonalizers.back()->enable_probe();
    objects.emplace_back(name, orthogonalizers.back()->abi());
  }
  auto params = std::make_unique<ParamSetBuilder>(config, objects);
  auto* object = static_cast<OptimizerAbi*>(create_object(info, params->get(), seed));
  return std::make_unique<OptimizerHandle>(object, info, std::move(orthogonalizers), std::move(params));
}

}  // namespace muonlab
