// Plugin discovery and instantiation (DESIGN.md section 6).
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

#include "config.hpp"
#include "muonlab/boundary.hpp"
#include "orth_quality.hpp"
#include "muonlab/types.hpp"
#include "schema.hpp"

namespace boost { namespace dll { class shared_library; } }

namespace muonlab {

struct PluginInfo {
  std::string kind;
  std::string name;
  std::string version;
  std::string summary;
  std::string build_tag;
  std::string library;  // absolute path of the shared library
  const PluginDescriptor* descriptor = nullptr;
  std::shared_ptr<boost::dll::shared_library> handle;
};

struct LoadFailure {
  std::string library;
  std::string reason;
};

class OrthogonalizerHandle;

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
                                  const std::vector<double>& step_sizes,
                                  const std::vector<std::int64_t>& steps,
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

class Registry : public SchemaSource {
 public:
  // The build's plugin directory, the install prefix's, then MUONLAB_PLUGIN_PATH entries.
  static std::vector<std::string> default_directories();

  explicit Registry(const std::vector<std::string>& directories = default_directories());

  const std::vector<std::string>& directories() const { return directories_; }
  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  const std::vector<LoadFailure>& failures() const { return failures_; }
  const PluginInfo* info(const std::string& kind, const std::string& name) const;

  const PluginDescriptor* find(const std::string& kind, const std::string& name) const override;
  std::vector<std::string> names(const std::string& kind) const override;

  // Throw PluginError naming the plugin, its library and the reason.
  std::unique_ptr<ProblemHandle> create_problem(const ComponentConfig& config, std::uint64_t seed) const;
  // With probe_quality, every orthogonalizer the optimizer uses is wrapped in a quality probe.
  std::unique_ptr<OptimizerHandle> create_optimizer(const ComponentConfig& config, std::uint64_t seed,
                                                    bool probe_quality = false) const;
  std::unique_ptr<OrthogonalizerHandle> create_orthogonalizer(const ComponentConfig& config,
                                                              std::uint64_t seed) const;

 private:
  void load_directory(const std::string& directory);
  void load_library(const std::string& path);
  const PluginInfo& require(const std::string& kind, const std::string& name) const;
  void* create_object(const PluginInfo& info, const ParamSet* params, std::uint64_t seed) const;

  std::vector<std::string> directories_;
  std::vector<PluginInfo> plugins_;
  std::vector<LoadFailure> failures_;
};

// The library path, role and sha256 of every plugin a cell uses.
std::string sha256_file(const std::string& path);
std::string sha256_text(const std::string& text);

}  // namespace muonlab
