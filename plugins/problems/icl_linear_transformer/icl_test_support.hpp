// Helpers shared by the icl_linear_transformer tests (test_icl_*.cpp): create the problem
// through the real plugin library, evaluate it, read its instance arrays.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace icl_test {

using muonlab::EvalContext;
using muonlab::Matrix;
using muonlab::NamedArray;
using muonlab::ProblemHandle;
using muonlab::Vector;

inline std::unique_ptr<ProblemHandle> make(const std::string& params, std::uint64_t seed = 7) {
  return muonlab::testing::make_problem("icl_linear_transformer", params, seed);
}

inline Matrix instance_array(ProblemHandle& problem, const std::string& name) {
  for (const NamedArray& a : problem.instance()) {
    if (a.name == name) return a.value;
  }
  FAIL("instance() has no array '" << name << "'");
  return {};
}

inline bool has_instance_array(ProblemHandle& problem, const std::string& name) {
  for (const NamedArray& a : problem.instance()) {
    if (a.name == name) return true;
  }
  return false;
}

inline std::size_t metric_index(const ProblemHandle& problem, const std::string& name) {
  const auto& metrics = problem.metrics();
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    if (metrics[i].name == name) return i;
  }
  FAIL("no metric '" << name << "'");
  return 0;
}

struct Evaluation {
  double loss = 0;
  std::vector<Matrix> grads;
  std::vector<double> metrics;
};

inline Evaluation evaluate_at(ProblemHandle& problem, const std::vector<Matrix>& params,
                              const EvalContext& context = EvalContext{0, 0}) {
  Evaluation e;
  e.grads = problem.allocate();
  e.metrics.assign(problem.metrics().size(), 0.0);
  e.loss = problem.evaluate(params, e.grads, e.metrics.data(), context);
  return e;
}

inline double metric(const ProblemHandle& problem, const Evaluation& e, const std::string& name) {
  return e.metrics[metric_index(problem, name)];
}

inline std::vector<Matrix> initial_point(ProblemHandle& problem) {
  std::vector<Matrix> params = problem.allocate();
  problem.initialize(params);
  return params;
}

// Lambda = Q diag(lambda) Q^T from the instance arrays.
inline Matrix covariance(ProblemHandle& problem) {
  const Matrix q = instance_array(problem, "Q");
  const Vector lambda = instance_array(problem, "lambda").col(0);
  return q * lambda.asDiagonal() * q.transpose();
}

// Every entry i.i.d. N(0, scale^2): a generic point, off every special structure.
inline std::vector<Matrix> random_point(const ProblemHandle& problem, double scale, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<Matrix> params = problem.allocate();
  for (Matrix& p : params) {
    for (Eigen::Index i = 0; i < p.size(); ++i) p.data()[i] = normal(rng);
  }
  return params;
}

inline double relative_difference(const std::vector<Matrix>& a, const std::vector<Matrix>& b) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]).squaredNorm();
    norm += b[i].squaredNorm();
  }
  return std::sqrt(diff / norm);
}

inline double total_norm(const std::vector<Matrix>& a) {
  double sum = 0;
  for (const Matrix& m : a) sum += m.squaredNorm();
  return std::sqrt(sum);
}

}  // namespace icl_test
