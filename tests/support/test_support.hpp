// Shared helpers for tests: the registry of the build's real plugins, and one-line
// creation of plugin objects from YAML parameter maps (validated like a grid file).
#pragma once

#include <memory>
#include <string>

#include "host/registry.hpp"

namespace muonlab::testing {

// Loads the plugins of this build only (ignores MUONLAB_PLUGIN_PATH).
const Registry& registry();

// params_yaml is a YAML map, e.g. "{lr: 0.1, orthogonalizer: svd}"; "{}" for defaults.
std::unique_ptr<ProblemHandle> make_problem(const std::string& name, const std::string& params_yaml,
                                            std::uint64_t seed = 1);
std::unique_ptr<OptimizerHandle> make_optimizer(const std::string& name, const std::string& params_yaml,
                                                std::uint64_t seed = 1);
std::unique_ptr<OrthogonalizerHandle> make_orthogonalizer(const std::string& name,
                                                          const std::string& params_yaml = "{}");

// Exact polar factor U_r V_r^T of g from a thin SVD (r = #{s_i > tol * s_1}); the oracle.
Matrix exact_polar(const Matrix& g, double tol = 1e-12);

}  // namespace muonlab::testing
