#include "test_support.hpp"

#include <Eigen/SVD>

#include "grid/grid.hpp"

namespace muonlab::testing {

const Registry& registry() {
  static const Registry instance({MUONLAB_BUILD_PLUGIN_DIR});
  return instance;
}

std::unique_ptr<ProblemHandle> make_problem(const std::string& name, const std::string& params_yaml,
                                            std::uint64_t seed) {
  return registry().create_problem(resolve_component(PluginKind::Problem, name, params_yaml, registry()), seed);
}

std::unique_ptr<OptimizerHandle> make_optimizer(const std::string& name, const std::string& params_yaml,
                                                std::uint64_t seed) {
  return registry().create_optimizer(resolve_component(PluginKind::Optimizer, name, params_yaml, registry()), seed);
}

std::unique_ptr<OrthogonalizerHandle> make_orthogonalizer(const std::string& name, const std::string& params_yaml) {
  return registry().create_orthogonalizer(resolve_component(PluginKind::Orthogonalizer, name, params_yaml, registry()),
                                          0);
}

Matrix exact_polar(const Matrix& g, double tol) {
  Eigen::JacobiSVD<Matrix> svd(g, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Vector& s = svd.singularValues();
  Eigen::Index rank = 0;
  while (rank < s.size() && s(0) > 0 && s(rank) > tol * s(0)) ++rank;
  return svd.matrixU().leftCols(rank) * svd.matrixV().leftCols(rank).transpose();
}

}  // namespace muonlab::testing
