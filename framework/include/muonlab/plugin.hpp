// Everything a plugin author includes.
//
// Write a class deriving from muonlab::Problem, muonlab::Optimizer or
// muonlab::Orthogonalizer with a constructor (const muonlab::Params&, const
// muonlab::CreateContext&), declare its parameters as a ParamSpec array written with the
// builders of muonlab/param_spec.hpp, and end the file with MUONLAB_PLUGIN(...). Exceptions thrown by your code are
// caught inside your library and reported by the core as "<plugin> (<library path>): <message>".
#pragma once

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>
#include <boost/version.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "muonlab/boundary.hpp"
#include "muonlab/param_spec.hpp"
#include "muonlab/params.hpp"
#include "muonlab/types.hpp"

namespace muonlab {

// Request for a theory prediction: the run the core just finished, seen from the problem.
struct TheoryRequest {
  std::string optimizer;
  Params optimizer_params;
  // eta_t for t = 0..T-1 (Optimizer::step_size() after each step); empty when the optimizer has none.
  std::vector<double> step_sizes;
  std::vector<std::int64_t> steps;  // where to predict (the spectra step axis)
  std::vector<ConstMatrixMap> initial;
};

// What Optimizer::step_size() returns for a method without a step size.
constexpr double kNoStepSize = std::numeric_limits<double>::quiet_NaN();

// Gradient at other points with the current step's sample (see GradientOracleAbi).
class GradientSource {
 public:
  explicit GradientSource(const GradientOracleAbi* oracle) : oracle_(oracle) {}
  // grads[i] = gradient of block i at points; shapes as the problem's blocks.
  void gradient(const std::vector<MatrixView>& points, std::vector<MatrixView>& grads) const {
    if (oracle_ == nullptr) throw std::runtime_error("no gradient oracle available in this context");
    ErrorBuffer error{};
    if (oracle_->gradient(oracle_->context, points.data(), grads.data(), static_cast<std::uint32_t>(points.size()),
                          &error) != 0) {
      throw std::runtime_error(std::string("gradient oracle: ") + error.message);
    }
  }
  // The loss the problem reported at the point (and sample) where this step's gradients
  // were taken; no extra evaluation. Throws when the caller supplied none.
  double loss() const {
    if (oracle_ == nullptr || !(oracle_->loss == oracle_->loss))
      throw std::runtime_error("the loss of this step is not available in this context");
    return oracle_->loss;
  }

 private:
  const GradientOracleAbi* oracle_;
};

class Problem {
 public:
  virtual ~Problem() = default;
  // Matrix parameters, in the order used by every other call.
  virtual std::vector<BlockSpec> blocks() const = 0;
  // Scalar metrics reported by evaluate(), in order (e.g. rel_error).
  virtual std::vector<ScalarSpec> metrics() const = 0;
  // Writes the initial iterate. Must depend only on the seed given at construction: the
  // core calls it again after the run to regenerate the initial point for predict()
  // (instead of keeping a copy), and fails the cell if the two differ.
  virtual void initialize(Blocks params) = 0;
  // Loss at params; gradients into grads; metric values (metrics() order) into metrics.
  // Stochastic problems draw this evaluation's noise or minibatch from context.sample (the
  // same sample may be evaluated again at another point); loss and metrics stay those of the
  // noise-free objective. Deterministic problems ignore context.
  virtual double evaluate(ConstBlocks params, Blocks grads, double* metrics, const EvalContext& context) = 0;
  // Arrays that define this instance, stored under problem/ so a run can be replayed.
  virtual std::vector<NamedArray> instance() const { return {}; }
  // Vector-valued measurements taken on the spectra schedule (stored under observables/).
  virtual std::vector<ScalarSpec> observables() const { return {}; }
  virtual std::vector<Vector> observe(ConstBlocks /*params*/) { return {}; }
  // Predicted series for this optimizer (stored under theory/); empty when none exists.
  virtual std::vector<NamedArray> predict(const TheoryRequest& /*request*/) const { return {}; }
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Called once before the first step with the problem's blocks; allocate state here.
  virtual void initialize(const std::vector<BlockSpec>& blocks) = 0;
  // Updates params in place from grads. iteration counts from 0. source gives gradients at
  // other points with this step's sample and the loss where grads were taken (optimizers
  // that need neither ignore it).
  virtual void step(std::int64_t iteration, Blocks params, ConstBlocks grads, const GradientSource& source) = 0;
  // The step size eta_t the last step() used: the scalar the theory of a problem scales its
  // prediction by (TheoryRequest::step_sizes; the core reads it after every step). Return
  // kNoStepSize when the method has none; the core then passes no step sizes to predict().
  virtual double step_size() const = 0;
  // Scalars recorded in the trajectory after each step (e.g. "lr", the step size used).
  virtual std::vector<ScalarSpec> diagnostics() const { return {}; }
  virtual void read_diagnostics(double* /*values*/) const {}
};

class Orthogonalizer {
 public:
  virtual ~Orthogonalizer() = default;
  // output (same shape as gradient) = approximate polar factor U V^T of gradient.
  virtual void apply(ConstMatrixMap gradient, MatrixMap output) = 0;
  virtual OrthogonalizerCost last_cost() const { return {}; }
};

namespace detail {

inline void write_error(ErrorBuffer* error, const char* text) {
  if (error == nullptr) return;
  std::snprintf(error->message, sizeof(error->message), "%s", text);
}

// Runs f inside the plugin library; no exception escapes.
template <class F>
int guarded(ErrorBuffer* error, F&& f) noexcept {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    write_error(error, e.what());
  } catch (...) {
    write_error(error, "unknown exception");
  }
  return 1;
}

inline NameInfo name_info(const ScalarSpec& s) { return {s.name.c_str(), s.unit.c_str(), s.doc.c_str()}; }

inline void emit_all(ArraySink* sink, const std::vector<NamedArray>& arrays, const char* unit = "") {
  for (const NamedArray& a : arrays) {
    sink->emit(sink->context, a.name.c_str(), a.value.data(), a.value.rows(), a.value.cols(), unit, a.doc.c_str());
  }
}

template <class T>
class ProblemAdapter final : public ProblemAbi {
 public:
  ProblemAdapter(const Params& params, const CreateContext& context)
      : impl_(params, context), blocks_(impl_.blocks()), metrics_(impl_.metrics()), observables_(impl_.observables()) {}

  std::uint32_t num_blocks() const noexcept override { return static_cast<std::uint32_t>(blocks_.size()); }
  BlockInfo block(std::uint32_t i) const noexcept override {
    const BlockSpec& b = blocks_[i];
    return {b.name.c_str(), b.rows, b.cols, b.doc.c_str()};
  }
  std::uint32_t num_metrics() const noexcept override { return static_cast<std::uint32_t>(metrics_.size()); }
  NameInfo metric(std::uint32_t i) const noexcept override { return name_info(metrics_[i]); }
  std::uint32_t num_observables() const noexcept override { return static_cast<std::uint32_t>(observables_.size()); }
  NameInfo observable(std::uint32_t i) const noexcept override { return name_info(observables_[i]); }

  int initialize(MatrixView* params, std::uint32_t count, ErrorBuffer* error) noexcept override {
    return guarded(error, [&] { impl_.initialize(Blocks(params, count)); });
  }
  int evaluate(const MatrixView* params, MatrixView* grads, std::uint32_t count, const EvalContext* context,
               double* loss, double* metrics, ErrorBuffer* error) noexcept override {
    return guarded(
        error, [&] { *loss = impl_.evaluate(ConstBlocks(params, count), Blocks(grads, count), metrics, *context); });
  }
  int instance(ArraySink* sink, ErrorBuffer* error) noexcept override {
    return guarded(error, [&] { emit_all(sink, impl_.instance()); });
  }
  int observe(const MatrixView* params, std::uint32_t count, ArraySink* sink, ErrorBuffer* error) noexcept override {
    return guarded(error, [&] {
      std::vector<Vector> values = impl_.observe(ConstBlocks(params, count));
      if (values.size() != observables_.size())
        throw std::runtime_error("observe() returned a different number of values than observables() declares");
      for (std::size_t i = 0; i < values.size(); ++i) {
        sink->emit(sink->context, observables_[i].name.c_str(), values[i].data(), 1, values[i].size(),
                   observables_[i].unit.c_str(), observables_[i].doc.c_str());
      }
    });
  }
  int predict(const TheoryRequestAbi* r, ArraySink* sink, ErrorBuffer* error) noexcept override {
    return guarded(error, [&] {
      TheoryRequest request{r->optimizer,
                            Params(r->optimizer_params),
                            std::vector<double>(r->step_sizes, r->step_sizes + r->num_step_sizes),
                            std::vector<std::int64_t>(r->steps, r->steps + r->num_steps),
                            {}};
      for (std::uint32_t i = 0; i < r->num_blocks; ++i) {
        request.initial.emplace_back(r->initial[i].data, r->initial[i].rows, r->initial[i].cols);
      }
      emit_all(sink, impl_.predict(request));
    });
  }

 private:
  T impl_;
  std::vector<BlockSpec> blocks_;
  std::vector<ScalarSpec> metrics_;
  std::vector<ScalarSpec> observables_;
};

template <class T>
class OptimizerAdapter final : public OptimizerAbi {
 public:
  OptimizerAdapter(const Params& params, const CreateContext& context)
      : impl_(params, context), diagnostics_(impl_.diagnostics()) {}

  int initialize(const BlockInfo* blocks, std::uint32_t count, ErrorBuffer* error) noexcept override {
    return guarded(error, [&] {
      std::vector<BlockSpec> specs;
      for (std::uint32_t i = 0; i < count; ++i) {
        specs.push_back({blocks[i].name, blocks[i].rows, blocks[i].cols, blocks[i].doc ? blocks[i].doc : ""});
      }
      impl_.initialize(specs);
    });
  }
  int step(std::int64_t iteration, MatrixView* params, const MatrixView* grads, std::uint32_t count,
           const GradientOracleAbi* oracle, ErrorBuffer* error) noexcept override {
    return guarded(error, [&] {
      impl_.step(iteration, Blocks(params, count), ConstBlocks(grads, count), GradientSource(oracle));
    });
  }
  std::uint32_t num_diagnostics() const noexcept override { return static_cast<std::uint32_t>(diagnostics_.size()); }
  NameInfo diagnostic(std::uint32_t i) const noexcept override { return name_info(diagnostics_[i]); }
  int read_diagnostics(double* values, ErrorBuffer* error) noexcept override {
    return guarded(error, [&] { impl_.read_diagnostics(values); });
  }
  double step_size() const noexcept override {
    try {
      return impl_.step_size();
    } catch (...) {
      return kNoStepSize;  // a getter has no error channel; a failing one reads as "none"
    }
  }

 private:
  T impl_;
  std::vector<ScalarSpec> diagnostics_;
};

template <class T>
class OrthogonalizerAdapter final : public OrthogonalizerAbi {
 public:
  OrthogonalizerAdapter(const Params& params, const CreateContext& context) : impl_(params, context) {}

  int apply(const MatrixView* g, MatrixView* o, ErrorBuffer* error) noexcept override {
    return guarded(error, [&] {
      if (g->rows != o->rows || g->cols != o->cols) throw std::runtime_error("output shape differs from input shape");
      impl_.apply(ConstMatrixMap(g->data, g->rows, g->cols), MatrixMap(o->data, o->rows, o->cols));
    });
  }
  OrthogonalizerCost last_cost() const noexcept override { return impl_.last_cost(); }

 private:
  T impl_;
};

template <class T>
struct AdapterFor {
  static_assert(std::is_base_of<Problem, T>::value || std::is_base_of<Optimizer, T>::value ||
                    std::is_base_of<Orthogonalizer, T>::value,
                "MUONLAB_PLUGIN class must derive from muonlab::Problem, Optimizer or Orthogonalizer");
  static_assert(!std::is_abstract<T>::value,
                "MUONLAB_PLUGIN class leaves a pure virtual unimplemented: an optimizer needs initialize(blocks), "
                "step(iteration, params, grads, const GradientSource&) and step_size(); a problem blocks(), "
                "metrics(), initialize(params) and evaluate(params, grads, metrics, const EvalContext&); an "
                "orthogonalizer apply(gradient, output)");
  static_assert(std::is_abstract<T>::value || std::is_constructible<T, const Params&, const CreateContext&>::value,
                "MUONLAB_PLUGIN class needs a constructor (const muonlab::Params&, const muonlab::CreateContext&)");
  using type = std::conditional_t<
      std::is_base_of<Problem, T>::value, ProblemAdapter<T>,
      std::conditional_t<std::is_base_of<Optimizer, T>::value, OptimizerAdapter<T>, OrthogonalizerAdapter<T>>>;
  using abi =
      std::conditional_t<std::is_base_of<Problem, T>::value, ProblemAbi,
                         std::conditional_t<std::is_base_of<Optimizer, T>::value, OptimizerAbi, OrthogonalizerAbi>>;
  static constexpr const char* kind = std::is_base_of<Problem, T>::value     ? "problem"
                                      : std::is_base_of<Optimizer, T>::value ? "optimizer"
                                                                             : "orthogonalizer";
};

template <class T>
void* create(const ParamSet* params, const CreateContext* context, ErrorBuffer* error) noexcept {
  using Traits = AdapterFor<T>;
  typename Traits::abi* object = nullptr;
  const int status = guarded(error, [&] { object = new typename Traits::type(Params(params), *context); });
  return status == 0 ? static_cast<void*>(object) : nullptr;
}

template <class T>
void destroy(void* object) noexcept {
  using Traits = AdapterFor<T>;
  delete static_cast<typename Traits::type*>(static_cast<typename Traits::abi*>(object));
}

#define MUONLAB_STRINGIFY_(x) #x
#define MUONLAB_STRINGIFY(x) MUONLAB_STRINGIFY_(x)
#ifdef NDEBUG
#define MUONLAB_BUILD_TYPE "release"
#else
#define MUONLAB_BUILD_TYPE "debug"
#endif

// Compiler, C++ library, Boost, Eigen, scalar type and build type of this translation unit.
#define MUONLAB_BUILD_TAG \
  "gcc-compatible " __VERSION__ "; libstdc++ " MUONLAB_STRINGIFY(__GLIBCXX__) "; boost " \
  MUONLAB_STRINGIFY(BOOST_VERSION) "; eigen " MUONLAB_STRINGIFY(EIGEN_WORLD_VERSION) "." \
  MUONLAB_STRINGIFY(EIGEN_MAJOR_VERSION) "." MUONLAB_STRINGIFY(EIGEN_MINOR_VERSION)     \
  "; double; " MUONLAB_BUILD_TYPE

}  // namespace detail
}  // namespace muonlab

// Exports the three aliases of a plugin library. PARAMS is a ParamSpec array in scope.
#define MUONLAB_PLUGIN(CLASS, NAME, VERSION, SUMMARY, PARAMS)                                                   \
  namespace muonlab_plugin_exports {                                                                            \
  const ::muonlab::PluginDescriptor* descriptor() {                                                             \
    static const ::muonlab::PluginDescriptor d{::muonlab::kAbiMajor,                                            \
                                               ::muonlab::kAbiMinor,                                            \
                                               ::muonlab::detail::AdapterFor<CLASS>::kind,                      \
                                               NAME,                                                            \
                                               VERSION,                                                         \
                                               SUMMARY,                                                         \
                                               MUONLAB_BUILD_TAG,                                               \
                                               PARAMS,                                                          \
                                               static_cast<std::uint32_t>(sizeof(PARAMS) / sizeof(PARAMS[0]))}; \
    return &d;                                                                                                  \
  }                                                                                                             \
  void* create(const ::muonlab::ParamSet* p, const ::muonlab::CreateContext* c, ::muonlab::ErrorBuffer* e) {    \
    return ::muonlab::detail::create<CLASS>(p, c, e);                                                           \
  }                                                                                                             \
  void destroy(void* o) { ::muonlab::detail::destroy<CLASS>(o); }                                               \
  static_assert(std::is_same<decltype(descriptor), ::muonlab::DescriptorFn>::value &&                           \
                    std::is_same<decltype(create), ::muonlab::CreateFn>::value &&                               \
                    std::is_same<decltype(destroy), ::muonlab::DestroyFn>::value,                               \
                "exported signatures must match muonlab/abi.hpp");                                              \
  }                                                                                                             \
  BOOST_DLL_ALIAS(muonlab_plugin_exports::descriptor, muonlab_plugin_descriptor)                                \
  BOOST_DLL_ALIAS(muonlab_plugin_exports::create, muonlab_plugin_create)                                        \
  BOOST_DLL_ALIAS(muonlab_plugin_exports::destroy, muonlab_plugin_destroy)
