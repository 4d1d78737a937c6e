// The plugin boundary: discovery, the ABI handshake, failures reported with path and
// reason, and the built-in plugins creatable with their declared defaults.
#include <catch2/catch.hpp>

#include <algorithm>

#include "util/errors.hpp"
#include "grid/grid.hpp"
#include "test_support.hpp"

using namespace muonlab;

namespace {

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

const LoadFailure* failure_for(const Registry& registry, const std::string& file) {
  for (const LoadFailure& f : registry.failures()) {
    if (f.library.find(file) != std::string::npos) return &f;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("registry discovers the built-in plugins of every kind", "[registry]") {
  const Registry& registry = testing::registry();
  CHECK(registry.failures().empty());
  CHECK(contains(registry.names(PluginKind::Problem), "matrix_factorization"));
  for (const char* name : {"gd", "adam", "muon"}) CHECK(contains(registry.names(PluginKind::Optimizer), name));
  for (const char* name : {"svd", "ns5"}) CHECK(contains(registry.names(PluginKind::Orthogonalizer), name));
  for (const PluginInfo& p : registry.plugins()) {
    INFO(p.name);
    CHECK(p.descriptor->abi_major == kAbiMajor);
    CHECK_FALSE(p.summary.empty());
    CHECK(p.library.find(MUONLAB_BUILD_PLUGIN_DIR) == 0);
  }
}

TEST_CASE("every built-in plugin is creatable from its declared defaults", "[registry]") {
  const Registry& registry = testing::registry();
  for (const PluginInfo& p : registry.plugins()) {
    INFO(to_string(p.kind) << " " << p.name);
    const ComponentConfig config = resolve_component(p.kind, p.name, "{}", registry);
    CHECK(config.params.size() == p.descriptor->num_params);
    if (p.kind == PluginKind::Problem) {
      CHECK_NOTHROW(registry.create_problem(config, 1));
    } else if (p.kind == PluginKind::Optimizer) {
      CHECK_NOTHROW(registry.create_optimizer(config, 1));
    } else {
      CHECK_NOTHROW(registry.create_orthogonalizer(config, 1));
    }
  }
}

TEST_CASE("broken plugin libraries are reported with path and reason, the rest keep working", "[registry]") {
  const Registry registry({MUONLAB_BUILD_PLUGIN_DIR, MUONLAB_TEST_PLUGIN_DIR, "/nonexistent/muonlab/plugins"});

  const LoadFailure* abi = failure_for(registry, "muonlab-optimizer-abi_mismatch.so");
  REQUIRE(abi != nullptr);
  CHECK_THAT(abi->reason, Catch::Contains("built for plugin ABI " + std::to_string(kAbiMajor + 98) + ".0") &&
                              Catch::Contains("newer than this muonlab") && Catch::Contains("update muonlab"));
  CHECK(registry.info(PluginKind::Optimizer, "abi_mismatch") == nullptr);

  // A plugin built before ABI 2.0 (its OptimizerAbi has no step_size entry) is refused, with
  // both versions named and what to do.
  const LoadFailure* older = failure_for(registry, "muonlab-optimizer-abi_older_major.so");
  REQUIRE(older != nullptr);
  CHECK_THAT(older->reason, Catch::Contains("built for plugin ABI 1.1") &&
                                Catch::Contains("this muonlab speaks ABI " + std::to_string(kAbiMajor) + "." +
                                                std::to_string(kAbiMinor)) &&
                                Catch::Contains("rebuild the plugin against this muonlab"));
  CHECK(registry.info(muonlab::PluginKind::Optimizer, "abi_older_major") == nullptr);

  const LoadFailure* newer = failure_for(registry, "muonlab-optimizer-abi_newer_minor.so");
  REQUIRE(newer != nullptr);
  CHECK_THAT(newer->reason, Catch::Contains("newer than this muonlab") && Catch::Contains("update muonlab"));
  CHECK(registry.info(PluginKind::Optimizer, "abi_newer_minor") == nullptr);

  const LoadFailure* garbage = failure_for(registry, "not_a_library.so");
  REQUIRE(garbage != nullptr);
  CHECK_THAT(garbage->reason, Catch::Contains("cannot load library"));

  const LoadFailure* missing = failure_for(registry, "/nonexistent/muonlab/plugins");
  REQUIRE(missing != nullptr);
  CHECK_THAT(missing->reason, Catch::Contains("does not exist"));

  // The throwing plugin loads (its descriptor is fine) but creating it fails cleanly.
  const PluginInfo* throwing = registry.info(PluginKind::Optimizer, "throwing");
  REQUIRE(throwing != nullptr);
  const ComponentConfig config = resolve_component(PluginKind::Optimizer, "throwing", "{}", registry);
  try {
    registry.create_optimizer(config, 0);
    FAIL("create should have thrown");
  } catch (const PluginError& e) {
    CHECK_THAT(e.what(),
               Catch::Contains(throwing->library) && Catch::Contains("deliberate failure in the constructor"));
  }

  // Everything else still works in the same registry.
  auto gd = registry.create_optimizer(resolve_component(PluginKind::Optimizer, "gd", "{lr: 0.5}", registry), 0);
  std::vector<Matrix> params{Matrix::Ones(2, 2)};
  const std::vector<Matrix> grads{Matrix::Ones(2, 2)};
  gd->initialize({{"W", 2, 2, ""}});
  gd->step(0, params, grads);
  CHECK(params[0].isApprox(Matrix::Constant(2, 2, 0.5)));
}

TEST_CASE("the template plugin builds in-tree and runs through the boundary", "[registry]") {
  const Registry registry({MUONLAB_TEST_PLUGIN_DIR});
  REQUIRE(registry.info(PluginKind::Optimizer, "normalized_gd") != nullptr);
  auto opt =
      registry.create_optimizer(resolve_component(PluginKind::Optimizer, "normalized_gd", "{lr: 0.3}", registry), 0);
  std::vector<Matrix> params{Matrix::Zero(3, 2)};
  Matrix g(3, 2);
  g << 3, 0, 0, 4, 0, 0;  // ||g||_F = 5
  opt->initialize({{"W", 3, 2, ""}});
  opt->step(0, params, {g});
  CHECK(params[0].isApprox(-0.3 / 5.0 * g));
  double lr = 0;
  opt->read_diagnostics(&lr);
  CHECK(lr == 0.3);
  CHECK(opt->step_size() == 0.3);

  // Its schedules are the shared ones: geometric, eta_t = 0.3 * 0.5^t.
  auto geometric = registry.create_optimizer(resolve_component(muonlab::PluginKind::Optimizer, "normalized_gd",
                                                               "{lr: 0.3, schedule: geometric, decay: 0.5}", registry),
                                             0);
  std::vector<Matrix> w{Matrix::Zero(3, 2)};
  geometric->initialize({{"W", 3, 2, ""}});
  geometric->step(0, w, {g});
  geometric->step(1, w, {g});
  CHECK(geometric->step_size() == 0.15);
  CHECK(w[0].isApprox(-(0.3 + 0.15) / 5.0 * g));
}

TEST_CASE("unknown plugin names are input errors listing what exists", "[registry]") {
  ComponentConfig config;
  config.kind = PluginKind::Optimizer;
  config.name = "adamm";
  try {
    testing::registry().create_optimizer(config, 0);
    FAIL("should have thrown");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(),
               Catch::Contains("unknown optimizer 'adamm'") && Catch::Contains("adam, ") && Catch::Contains("muon"));
  }
}

TEST_CASE("plugin objects can be created and destroyed many times", "[registry]") {
  for (int i = 0; i < 200; ++i) {
    auto problem = testing::make_problem("matrix_factorization", "{n: 8, rank: 2}", static_cast<std::uint64_t>(i));
    auto optimizer = testing::make_optimizer("muon", "{orthogonalizer: ns5}");
    REQUIRE(optimizer->orthogonalizers().size() == 1);
  }
}
