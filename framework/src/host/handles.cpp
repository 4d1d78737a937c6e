#include "host/handles.hpp"

#include <algorithm>

#include "util/errors.hpp"

namespace muonlab {
namespace {

MatrixView view_of(const Matrix& m) { return MatrixView{const_cast<double*>(m.data()), m.rows(), m.cols()}; }

void fill_views(const std::vector<Matrix>& matrices, std::vector<MatrixView>& views) {
  views.resize(matrices.size());  // no allocation once sized
  for (std::size_t i = 0; i < matrices.size(); ++i) views[i] = view_of(matrices[i]);
}

// Collects arrays emitted through an ArraySink.
struct ArrayCollector {
  std::vector<NamedArray> arrays;
  static void emit(void* context, const char* name, const double* data, std::int64_t rows, std::int64_t cols,
                   const char* /*unit*/, const char* doc) {
    auto* self = static_cast<ArrayCollector*>(context);
    NamedArray array{name ? name : "", Matrix(rows, cols), doc ? doc : ""};
    std::copy(data, data + rows * cols, array.value.data());
    self->arrays.push_back(std::move(array));
  }
  ArraySink sink() { return ArraySink{this, &ArrayCollector::emit}; }
};

}  // namespace

ProblemHandle::ProblemHandle(ProblemAbi* object, const PluginInfo& info) : object_(object), info_(info) {
  for (std::uint32_t i = 0; i < object_->num_blocks(); ++i) {
    const BlockInfo b = object_->block(i);
    if (b.name == nullptr || b.name[0] == '\0' || b.rows <= 0 || b.cols <= 0) {
      // The message is complete before the object (which owns b.name) is destroyed.
      const bool named = b.name != nullptr && b.name[0] != '\0';
      const std::string message = describe(info_) + ": block " + std::to_string(i) +
                                  (named ? " '" + std::string(b.name) + "'" : std::string(" without a name")) +
                                  " is declared " + std::to_string(b.rows) + " x " + std::to_string(b.cols) +
                                  "; every block needs a name and a positive shape";
      info_.destroy(object_);  // the handle is not constructed: its destructor will not run
      throw PluginError(message);
    }
    blocks_.push_back({b.name, b.rows, b.cols, b.doc ? b.doc : ""});
  }
  for (std::uint32_t i = 0; i < object_->num_metrics(); ++i) {
    const NameInfo m = object_->metric(i);
    metrics_.push_back({m.name, m.unit ? m.unit : "", m.doc ? m.doc : ""});
  }
  for (std::uint32_t i = 0; i < object_->num_observables(); ++i) {
    const NameInfo m = object_->observable(i);
    observables_.push_back({m.name, m.unit ? m.unit : "", m.doc ? m.doc : ""});
  }
}

ProblemHandle::~ProblemHandle() { info_.destroy(object_); }

void ProblemHandle::check(int status, const char* call) const {
  if (status != 0) throw PluginError(describe(info_) + " failed in " + call + ": " + error_.message);
}

std::vector<Matrix> ProblemHandle::allocate() const {
  std::vector<Matrix> out;
  for (const BlockSpec& b : blocks_) out.push_back(Matrix::Zero(b.rows, b.cols));
  return out;
}

void ProblemHandle::initialize(std::vector<Matrix>& params) {
  fill_views(params, param_views_);
  check(object_->initialize(param_views_.data(), static_cast<std::uint32_t>(params.size()), &error_), "initialize");
}

double ProblemHandle::evaluate(const std::vector<Matrix>& params, std::vector<Matrix>& grads, double* metrics,
                               const EvalContext& context) {
  fill_views(params, param_views_);
  fill_views(grads, grad_views_);
  return evaluate(param_views_.data(), grad_views_.data(), metrics, context);
}

double ProblemHandle::evaluate(const MatrixView* params, MatrixView* grads, double* metrics,
                               const EvalContext& context) {
  double loss = 0.0;
  check(object_->evaluate(params, grads, static_cast<std::uint32_t>(blocks_.size()), &context, &loss, metrics, &error_),
        "evaluate");
  return loss;
}

std::vector<NamedArray> ProblemHandle::instance() {
  ArrayCollector collector;
  ArraySink sink = collector.sink();
  check(object_->instance(&sink, &error_), "instance");
  return std::move(collector.arrays);
}

std::vector<NamedArray> ProblemHandle::observe(const std::vector<Matrix>& params) {
  fill_views(params, param_views_);
  ArrayCollector collector;
  ArraySink sink = collector.sink();
  check(object_->observe(param_views_.data(), static_cast<std::uint32_t>(params.size()), &sink, &error_), "observe");
  return std::move(collector.arrays);
}

std::vector<NamedArray> ProblemHandle::predict(const std::string& optimizer, const ParamSet* optimizer_params,
                                               const std::vector<double>& step_sizes,
                                               const std::vector<std::int64_t>& steps,
                                               const std::vector<Matrix>& initial) {
  std::vector<MatrixView> initial_views;
  fill_views(initial, initial_views);
  TheoryRequestAbi request{optimizer.c_str(),    optimizer_params,
                           step_sizes.data(),    static_cast<std::int64_t>(step_sizes.size()),
                           steps.data(),         static_cast<std::int64_t>(steps.size()),
                           initial_views.data(), static_cast<std::uint32_t>(initial_views.size())};
  ArrayCollector collector;
  ArraySink sink = collector.sink();
  check(object_->predict(&request, &sink, &error_), "predict");
  return std::move(collector.arrays);
}

OrthogonalizerHandle::OrthogonalizerHandle(OrthogonalizerAbi* object, const PluginInfo& info)
    : object_(object), info_(info) {}

OrthogonalizerHandle::~OrthogonalizerHandle() { info_.destroy(object_); }

void OrthogonalizerHandle::apply(const Matrix& gradient, Matrix& output) {
  const MatrixView in = view_of(gradient);
  MatrixView out = view_of(output);
  if (object_->apply(&in, &out, &error_) != 0) {
    throw PluginError(describe(info_) + " failed in apply: " + error_.message);
  }
}

OptimizerHandle::OptimizerHandle(OptimizerAbi* object, const PluginInfo& info,
                                 std::vector<std::unique_ptr<OrthogonalizerHandle>> orthogonalizers,
                                 std::unique_ptr<ParamSetBuilder> params)
    : object_(object), info_(info), orthogonalizers_(std::move(orthogonalizers)), params_(std::move(params)) {
  for (std::uint32_t i = 0; i < object_->num_diagnostics(); ++i) {
    const NameInfo d = object_->diagnostic(i);
    diagnostics_.push_back({d.name, d.unit ? d.unit : "", d.doc ? d.doc : ""});
  }
}

// The optimizer goes first: it may hold references to the orthogonalizers.
OptimizerHandle::~OptimizerHandle() { info_.destroy(object_); }

void OptimizerHandle::check(int status, const char* call) const {
  if (status != 0) throw PluginError(describe(info_) + " failed in " + call + ": " + error_.message);
}

void OptimizerHandle::initialize(const std::vector<BlockSpec>& blocks) {
  std::vector<BlockInfo> infos;
  for (const BlockSpec& b : blocks) infos.push_back({b.name.c_str(), b.rows, b.cols, b.doc.c_str()});
  check(object_->initialize(infos.data(), static_cast<std::uint32_t>(infos.size()), &error_), "initialize");
}

void OptimizerHandle::step(std::int64_t iteration, std::vector<Matrix>& params, const std::vector<Matrix>& grads,
                           const GradientOracleAbi* oracle) {
  fill_views(params, param_views_);
  fill_views(grads, grad_views_);
  check(object_->step(iteration, param_views_.data(), grad_views_.data(), static_cast<std::uint32_t>(params.size()),
                      oracle, &error_),
        "step");
}

void OptimizerHandle::read_diagnostics(double* values) {
  check(object_->read_diagnostics(values, &error_), "read_diagnostics");
}

double OptimizerHandle::step_size() const { return object_->step_size(); }

}  // namespace muonlab
