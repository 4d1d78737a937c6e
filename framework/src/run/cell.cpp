// One cell: create the plugins, run the loop the core owns, record everything.
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "model/config_json.hpp"
#include "muonlab/linalg.hpp"
#include "run/cell.hpp"
#include "run/schedule.hpp"
#include "util/errors.hpp"
#include "util/hash.hpp"
#include "util/sha256.hpp"

namespace muonlab {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Library hashes are computed once per process.
std::string library_sha256(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(path);
  if (it == cache.end()) it = cache.emplace(path, sha256_file(path)).first;
  return it->second;
}

PluginStamp stamp(PluginKind role, const PluginInfo& info) {
  return {role, info.name, info.version, info.library, library_sha256(info.library)};
}

std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

// Everything a running cell holds; the loop itself lives in run().
class CellRun {
 public:
  CellRun(const CellConfig& cell, const Grid& grid, const Registry& registry, CellWriter& writer)
      : cell_(cell), grid_(grid), registry_(registry), writer_(writer), spectra_clock_(grid.record) {}

  CellOutcome run() {
    setup();
    loop();
    finish_recording();
    return outcome_;
  }

 private:
  void setup() {
    problem_ = registry_.create_problem(cell_.problem, cell_.problem_seed);
    optimizer_ = registry_.create_optimizer(cell_.optimizer, cell_.optimizer_seed, grid_.record.orth_quality);
    for (const auto& o : optimizer_->orthogonalizers()) {
      if (o->probe()) probes_.push_back(o->probe());
    }
    blocks_ = problem_->blocks();
    params_ = problem_->allocate();
    grads_ = problem_->allocate();
    previous_ = problem_->allocate();
    problem_->initialize(params_);
    initial_checksum_ = checksum(params_);
    optimizer_->initialize(blocks_);
    metrics_.assign(problem_->metrics().size(), 0.0);
    oracle_metrics_ = metrics_;
    diagnostics_.assign(optimizer_->diagnostics().size(), std::numeric_limits<double>::quiet_NaN());
    stop_metric_ = locate_stop_metric();
    const auto route =
        grid_.record.spectra_exact ? SpectrumCalculator::Route::Householder : SpectrumCalculator::Route::Gram;
    spectra_.clear();
    for (std::size_t i = 0; i < blocks_.size() * 3; ++i) spectra_.emplace_back(route);
    const std::int64_t max_iters = grid_.stop.max_iters;
    if (max_iters <= 10'000'000) step_sizes_.reserve(static_cast<std::size_t>(max_iters));
    write_instance();
    declare_trajectory();
  }

  int locate_stop_metric() const {
    if (grid_.stop.metric == "loss") return -1;
    const auto& metrics = problem_->metrics();
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      if (metrics[i].name == grid_.stop.metric) return static_cast<int>(i);
    }
    throw InputError("stop.metric '" + grid_.stop.metric + "' is not a metric of problem '" + cell_.problem.name + "'");
  }

  void write_instance() {
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      writer_.write_array("init/" + blocks_[b].name, params_[b], "1", "initial iterate: " + blocks_[b].doc);
    }
    for (const NamedArray& array : problem_->instance()) {
      writer_.write_array("problem/" + array.name, array.value, "1", array.doc);
    }
  }

  void declare_trajectory() {
    std::vector<ColumnSpec> columns{{"loss", "1", "objective value at the iterate of this step"}};
    for (const ScalarSpec& m : problem_->metrics()) columns.push_back({m.name, m.unit, m.doc});
    columns.push_back({"grad_evals", "1", "gradient evaluations so far, including this step's (a cost axis)"});
    if (!probes_.empty()) {
      columns.push_back({"orth_residual", "1",
                         "max over this step's orthogonalizer calls of ||O_r^T O_r - I_r||_F, O restricted to the "
                         "gradient's rank-r subspace"});
      columns.push_back({"orth_rel_error", "1",
                         "max over calls of ||O - U_r V_r^T||_F / sqrt(r), against the exact SVD polar factor"});
      columns.push_back({"orth_sigma_min", "1", "smallest of the output's top-r singular values (min over calls)"});
      columns.push_back({"orth_sigma_max", "1", "largest singular value of the output (max over calls)"});
      columns.push_back({"orth_alignment", "1", "<G, O> / ||G||_* (min over calls; 1 for the exact factor)"});
      columns.push_back({"orth_gemms", "1", "matrix products reported by the orthogonalizer this step"});
      columns.push_back({"orth_flops", "flop", "floating-point operations reported by the orthogonalizer this step"});
    }
    for (const ScalarSpec& d : optimizer_->diagnostics()) columns.push_back({d.name, d.unit, d.doc});
    row_.assign(columns.size(), 0.0);
    writer_.declare_trajectory(columns);
  }

  void loop() {
    const StopRule& stop = grid_.stop;
    const auto start = Clock::now();
    double initial_loss = 0.0;
    for (std::int64_t t = 0;; ++t) {
      context_ = EvalContext{t, mix_seed(cell_.sample_seed, static_cast<std::uint64_t>(t))};
      const double loss = problem_->evaluate(params_, grads_, metrics_.data(), context_);
      ++grad_evals_;
      const double metric = stop_metric_ < 0 ? loss : metrics_[static_cast<std::size_t>(stop_metric_)];
      if (t == 0) initial_loss = loss;
      outcome_.iterations = t;
      outcome_.final_loss = loss;
      outcome_.final_metric = metric;
      const bool spectra_now = spectra_clock_.due(t);
      if (spectra_now) record_spectra(t);

      if (stop.tol > 0 && metric <= stop.tol && outcome_.iters_to_tol < 0) outcome_.iters_to_tol = t;
      if (stop_now(t, loss, metric, initial_loss, seconds_since(start))) {
        std::fill(diagnostics_.begin(), diagnostics_.end(), std::numeric_limits<double>::quiet_NaN());
        append_row(t, seconds_since(start), loss);
        return;
      }

      const bool update_spectra_now = spectra_now && grid_.record.spectra_of_update;
      if (update_spectra_now) copy_into(previous_, params_);
      oracle_.loss = loss;
      optimizer_->step(t, params_, grads_, &oracle_);
      optimizer_->read_diagnostics(diagnostics_.data());
      record_step_size();
      if (update_spectra_now) record_update_spectra(t);
      if (t % grid_.record.every == 0) append_row(t, seconds_since(start), loss);
    }
  }

  // eta_t of the step just taken, for predict(). A step without a step size (NaN) drops the
  // series: predict() sees every step's eta_t or none, like a run of an optimizer that has none.
  void record_step_size() {
    if (!has_step_sizes_) return;
    const double eta = optimizer_->step_size();
    if (std::isnan(eta)) {
      has_step_sizes_ = false;
      step_sizes_.clear();
      return;
    }
    step_sizes_.push_back(eta);
  }

  // Whether the loop stops at step t; if so, outcome_ says why.
  bool stop_now(std::int64_t t, double loss, double metric, double initial_loss, double elapsed) {
    const StopRule& stop = grid_.stop;
    if (!std::isfinite(loss) || !std::isfinite(metric)) {
      outcome_.stop(StopReason::NonFinite);
    } else if (loss > stop.divergence_factor * std::max(initial_loss, std::numeric_limits<double>::min())) {
      outcome_.stop(StopReason::Blowup, "loss " + format_double(loss) + " exceeded " +
                                            format_double(stop.divergence_factor) + " x initial loss " +
                                            format_double(initial_loss));
    } else if (stop.tol > 0 && metric <= stop.tol) {
      outcome_.stop(StopReason::Tolerance);
    } else if (t >= stop.max_iters) {
      outcome_.stop(StopReason::MaxIters);
    } else if (stop.max_seconds > 0 && elapsed >= stop.max_seconds) {
      outcome_.stop(StopReason::MaxSeconds);
    }
    return outcome_.stop_reason != StopReason::None;
  }

  // The worst quality over every probed orthogonalizer since the last row.
  OrthQuality take_quality() {
    OrthQuality total;
    bool any = false;
    for (OrthogonalizerProbe* probe : probes_) {
      const OrthQuality q = probe->take();
      if (q.calls == 0) continue;
      any = true;
      total.residual = std::max(total.residual, q.residual);
      total.rel_error = std::max(total.rel_error, q.rel_error);
      total.sigma_min = std::min(total.sigma_min, q.sigma_min);
      total.sigma_max = std::max(total.sigma_max, q.sigma_max);
      total.alignment = std::min(total.alignment, q.alignment);
      total.gemms += q.gemms;
      total.flops += q.flops;
      total.calls += q.calls;
    }
    if (!any) return OrthQuality::missing();
    return total;
  }

  // Gradient at other points with this step's sample, for optimizers that ask (counted).
  static int oracle_gradient(void* self_ptr, const MatrixView* points, MatrixView* grads, std::uint32_t count,
                             ErrorBuffer* error) {
    auto* self = static_cast<CellRun*>(self_ptr);
    try {
      if (count != self->blocks_.size()) throw std::invalid_argument("gradient oracle called with a wrong block count");
      self->problem_->evaluate(points, grads, self->oracle_metrics_.data(), self->context_);
      ++self->grad_evals_;
      return 0;
    } catch (const std::exception& e) {
      std::snprintf(error->message, sizeof(error->message), "%s", e.what());
      return 1;
    }
  }

  void append_row(std::int64_t t, double time_s, double loss) {
    std::size_t c = 0;
    row_[c++] = loss;
    for (double m : metrics_) row_[c++] = m;
    row_[c++] = static_cast<double>(grad_evals_);
    if (!probes_.empty()) {
      const OrthQuality q = take_quality();
      for (double v : {q.residual, q.rel_error, q.sigma_min, q.sigma_max, q.alignment, q.gemms, q.flops}) row_[c++] = v;
    }
    for (double d : diagnostics_) row_[c++] = d;
    writer_.append_trajectory(t, time_s, row_.data());
  }

  static void copy_into(std::vector<Matrix>& target, const std::vector<Matrix>& source) {
    for (std::size_t i = 0; i < source.size(); ++i) target[i] = source[i];  // same shape: no allocation
  }

  void record_spectra(std::int64_t t) {
    spectra_steps_.push_back(t);
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      const std::string& name = blocks_[b].name;
      if (grid_.record.spectra_of_iterate)
        writer_.append_series("spectra", name, t, spectra_[3 * b].compute(params_[b]), "1",
                              "singular values of the iterate " + name + " (descending)");
      if (grid_.record.spectra_of_grad)
        writer_.append_series("spectra", name + "_grad", t, spectra_[3 * b + 1].compute(grads_[b]), "1",
                              "singular values of the gradient of " + name + " at this step");
    }
    for (const NamedArray& o : problem_->observe(params_)) {
      const Eigen::Map<const Vector> row(o.value.data(), o.value.size());
      writer_.append_series("observables", o.name, t, row, "1", o.doc);
    }
  }

  // The update of step t is previous - params (what the optimizer subtracted).
  void record_update_spectra(std::int64_t t) {
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      previous_[b] -= params_[b];
      writer_.append_series("spectra", blocks_[b].name + "_update", t, spectra_[3 * b + 2].compute(previous_[b]), "1",
                            "singular values of the update W_t - W_{t+1} of " + blocks_[b].name);
    }
  }

  void finish_recording() {
    if (grid_.record.final_iterates) {
      for (std::size_t b = 0; b < blocks_.size(); ++b) {
        writer_.write_array("final/" + blocks_[b].name, params_[b], "1", "final iterate " + blocks_[b].name);
      }
    }
    write_theory();
    if (outcome_.status == CellStatus::Running) outcome_.status = CellStatus::MaxIters;
  }

  // The initial iterate for predict(), regenerated into the previous_ buffer instead of
  // kept as a copy through the run (problems' initialize() is deterministic in their seed;
  // the checksum holds a problem to that).
  const std::vector<Matrix>& regenerated_initial_iterate() {
    problem_->initialize(previous_);
    if (checksum(previous_) != initial_checksum_) {
      throw std::runtime_error("problem '" + cell_.problem.name +
                               "' wrote a different initial iterate on a second initialize() call; "
                               "initialize() must depend only on the seed given at construction");
    }
    return previous_;
  }

  // FNV-1a over the bytes of every block.
  static std::uint64_t checksum(const std::vector<Matrix>& blocks) {
    std::uint64_t hash = fnv1a(nullptr, 0);
    for (const Matrix& block : blocks)
      hash = fnv1a(block.data(), static_cast<std::size_t>(block.size()) * sizeof(double), hash);
    return hash;
  }

  void write_theory() {
    std::vector<std::int64_t> steps = spectra_steps_;
    if (steps.empty()) {
      for (std::int64_t t = 0; t <= outcome_.iterations; t += grid_.record.every) steps.push_back(t);
    }
    const std::vector<NamedArray> theory = problem_->predict(cell_.optimizer.name, optimizer_->params(), step_sizes_,
                                                             steps, regenerated_initial_iterate());
    if (theory.empty()) return;
    writer_.write_steps("theory/step", steps);
    for (const NamedArray& array : theory) writer_.write_array("theory/" + array.name, array.value, "1", array.doc);
  }

  const CellConfig& cell_;
  const Grid& grid_;
  const Registry& registry_;
  CellWriter& writer_;

  std::unique_ptr<ProblemHandle> problem_;
  std::unique_ptr<OptimizerHandle> optimizer_;
  std::vector<BlockSpec> blocks_;
  std::vector<Matrix> params_, grads_, previous_;  // previous_: iterate before a spectra step's update
  std::uint64_t initial_checksum_ = 0;
  std::vector<double> metrics_, oracle_metrics_, diagnostics_, row_, step_sizes_;
  EvalContext context_{0, 0};
  GradientOracleAbi oracle_{this, &CellRun::oracle_gradient};
  std::int64_t grad_evals_ = 0;
  std::vector<OrthogonalizerProbe*> probes_;
  std::vector<std::int64_t> spectra_steps_;
  std::vector<SpectrumCalculator> spectra_;  // per block: iterate, gradient, update
  SpectraClock spectra_clock_;
  int stop_metric_ = -1;
  bool has_step_sizes_ = true;
  CellOutcome outcome_;
};

std::vector<PluginStamp> plugin_stamps(const CellConfig& cell, const Registry& registry) {
  std::vector<PluginStamp> stamps;
  const std::string orth = orthogonalizer_name(cell.optimizer);
  for (const auto& [kind, name] :
       {std::pair{PluginKind::Problem, cell.problem.name}, std::pair{PluginKind::Optimizer, cell.optimizer.name},
        std::pair{PluginKind::Orthogonalizer, orth}}) {
    if (const PluginInfo* info = registry.info(kind, name)) stamps.push_back(stamp(kind, *info));
  }
  return stamps;
}

}  // namespace

IndexRow run_cell(const CellConfig& cell, const Grid& grid, const Registry& registry, Store& store) {
  const auto start = Clock::now();
  std::unique_ptr<CellWriter> writer = store.begin_cell(cell_header(cell, registry));
  CellOutcome outcome;
  try {
    CellRun run(cell, grid, registry, *writer);
    outcome = run.run();
  } catch (const std::exception& e) {
    outcome = CellOutcome();
    outcome.fail(e.what());
  }
  writer->finish(outcome.status, outcome.stop_text(), outcome.error);
  return make_index_row(cell, outcome, seconds_since(start));
}

CellHeader cell_header(const CellConfig& cell, const Registry& registry) {
  CellHeader header;
  header.cell_id = cell.id;
  header.config_json = cell_json(cell, JsonNumbers::Shortest);
  header.seed = cell.seed;
  header.problem_seed = cell.problem_seed;
  header.optimizer_seed = cell.optimizer_seed;
  header.sample_seed = cell.sample_seed;
  header.plugins = plugin_stamps(cell, registry);
  return header;
}

}  // namespace muonlab
