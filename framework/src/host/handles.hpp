// Plugin objects as the core uses them. A handle owns its object (destroyed through the
// library's destroy alias), keeps its library loaded, reuses its views so that the calls of
// the step loop allocate nothing, and turns a plugin's error return into PluginError
// naming the plugin and its library.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "host/orth_quality.hpp"
#include "host/param_set.hpp"
#include "host/plugin_info.hpp"
#include "muonlab/boundary.hpp"
#include "muonlab/types.hpp"

namespace muonlab {

class ProblemHandle {
 public:
  ProblemHandle(ProblemAbi* object, const PluginInfo& info);
  ~ProblemHandle();
  ProblemHandle(const ProblemHandle&) = delete;
  ProblemHandle& operator=(const ProblemHandle&) = delete;

  const PluginInfo& info() const { return info_; }
  const std::vector<BlockSpec>& blocks() const { return blocks_; }
  const std::vector<ScalarSpec>& metrics() const { return metrics_; }
  const std::vector<ScalarSpec>& observables() const { return observables_; }

  // params must hold one matrix per block, already sized (see allocate()).
  std::vector<Matrix> allocate() const;
  void initialize(std::vector<Matrix>& params);
  // Allocation-free after the first call with the same vectors. The default context is a
  // deterministic evaluation (iteration 0, sample 0).
  double evaluate(const std::vector<Matrix>& params, std::vector<Matrix>& grads, double* metrics,
                  const EvalContext& context = EvalContext{0, 0});
  // Same, on raw views (used by the gradient oracle).
  double evaluate(const MatrixView* params, MatrixView* grads, double* metrics, const EvalContext& context);
  std::vector<NamedArray> instance();
  std::vector<NamedArray> observe(const std::vector<Matrix>& params);
  std::vector<NamedArray> predict(const std::string& optimizer, const ParamSet* optimizer_params,
                                  const std::vector<double>& step_sizes, const std::vector<std::int64_t>& steps,
                                  const std::vector<Matrix>& initial);

 private:
  void check(int status, const char* call) const;
  ProblemAbi* object_;
  PluginInfo info_;
  std::vector<BlockSpec> blocks_;
  std::vector<ScalarSpec> metrics_;
  std::vector<ScalarSpec> observables_;
  std::vector<MatrixView> param_views_, grad_views_;
  ErrorBuffer error_{};
};

class OrthogonalizerHandle {
 public:
  OrthogonalizerHandle(OrthogonalizerAbi* object, const PluginInfo& info);
  ~OrthogonalizerHandle();
  OrthogonalizerHandle(const OrthogonalizerHandle&) = delete;
  OrthogonalizerHandle& operator=(const OrthogonalizerHandle&) = delete;

  const PluginInfo& info() const { return info_; }
  // What optimizers are given: the plugin object, or the quality probe wrapped around it.
  OrthogonalizerAbi* abi() const { return probe_ ? static_cast<OrthogonalizerAbi*>(probe_.get()) : object_; }
  void apply(const Matrix& gradient, Matrix& output);
  OrthogonalizerCost last_cost() const { return object_->last_cost(); }
  // Measure every call against the exact polar factor (record: {orth_quality: true}).
  void enable_probe() { probe_ = std::make_unique<OrthogonalizerProbe>(object_); }
  OrthogonalizerProbe* probe() const { return probe_.get(); }

 private:
  OrthogonalizerAbi* object_;
  std::unique_ptr<OrthogonalizerProbe> probe_;
  PluginInfo info_;
  ErrorBuffer error_{};
};

class OptimizerHandle {
 public:
  OptimizerHandle(OptimizerAbi* object, const PluginInfo& info,
                  std::vector<std::unique_ptr<OrthogonalizerHandle>> orthogonalizers,
                  std::unique_ptr<ParamSetBuilder> params);
  ~OptimizerHandle();
  OptimizerHandle(const OptimizerHandle&) = delete;
  OptimizerHandle& operator=(const OptimizerHandle&) = delete;

  const PluginInfo& info() const { return info_; }
  // Orthogonalizers the core created for this optimizer's parameters.
  const std::vector<std::unique_ptr<OrthogonalizerHandle>>& orthogonalizers() const { return orthogonalizers_; }
  const ParamSet* params() const { return params_->get(); }
  const std::vector<ScalarSpec>& diagnostics() const { return diagnostics_; }

  void initialize(const std::vector<BlockSpec>& blocks);
  // Allocation-free after the first call with the same vectors. oracle may be null when the
  // caller offers no extra gradients (an optimizer asking for one then fails cleanly).
  void step(std::int64_t iteration, std::vector<Matrix>& params, const std::vector<Matrix>& grads,
            const GradientOracleAbi* oracle = nullptr);
  void read_diagnostics(double* values);
  // eta_t of the last step (OptimizerAbi::step_size), NaN when the optimizer has none.
  double step_size() const;

 private:
  void check(int status, const char* call) const;
  OptimizerAbi* object_;
  PluginInfo info_;
  std::vector<std::unique_ptr<OrthogonalizerHandle>> orthogonalizers_;  // outlive object_
  std::unique_ptr<ParamSetBuilder> params_;
  std::vector<ScalarSpec> diagnostics_;
  std::vector<MatrixView> param_views_, grad_views_;
  ErrorBuffer error_{};
};

}  // namespace muonlab
