#include "bench/bench_step.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <iomanip>
#include <ostream>
#include <random>
#include <sstream>

#include "util/csv.hpp"
#include "util/errors.hpp"
#include "grid/grid.hpp"
#include "muonlab/linalg.hpp"
#include "run/runner.hpp"

// Floors (what a step at this shape cannot avoid), all on preallocated matrices:
//   dense     the three n x m x r products X Y^T, R Y, R^T X (6 n m r flops);
//   factored  per factor F (p x r) with basis B: B^T F, F^T F, B C, F G (r x r C, G), the
//             products any factored gradient grad_X = U* C + X G needs (8 p r^2 flops);
//   muon+svd  the gradient floor plus, per block, a thin SVD (LAPACK dgesdd) and U_r V_r^T;
//   muon+ns5  the gradient floor plus, per block, five quintic Newton-Schulz iterations
//             (Gram, r x r polynomial, update: about 4 p r^2 + 2 r^3 flops each).
// gd and adam share the gradient floor: their own work is elementwise.
// GFLOP/s counts the gradient floor's flops only, divided by the step's median time.

namespace muonlab {
namespace {

using Clock = std::chrono::steady_clock;

struct Timing {
  double median = 0, min = 0, max = 0;
  double cpu_median = 0;  // process CPU seconds per call (all threads), median
};

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Times `a` and `b` alternately (a, b, a, b, ...) after `warmup` untimed calls of each, so a
// burst of load from other processes on a shared machine falls on both sides of a ratio.
std::pair<Timing, Timing> time_alternating(const std::function<void()>& a, const std::function<void()>& b, int warmup,
                                           int repetitions) {
  for (int i = 0; i < warmup; ++i) {
    a();
    b();
  }
  std::vector<double> wall[2], cpu[2];
  for (int i = 0; i < repetitions; ++i) {
    for (int side = 0; side < 2; ++side) {
      const double cpu_start = process_cpu_seconds();
      const auto start = Clock::now();
      (side == 0 ? a : b)();
      wall[side].push_back(std::chrono::duration<double>(Clock::now() - start).count());
      cpu[side].push_back(process_cpu_seconds() - cpu_start);
    }
  }
  Timing t[2];
  for (int side = 0; side < 2; ++side) {
    t[side].median = median_of(wall[side]);
    t[side].min = *std::min_element(wall[side].begin(), wall[side].end());
    t[side].max = *std::max_element(wall[side].begin(), wall[side].end());
    t[side].cpu_median = median_of(cpu[side]);
  }
  return {t[0], t[1]};
}

Matrix gaussian(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng, double stddev = 1.0) {
  std::normal_distribution<double> normal(0.0, stddev);
  Matrix out(rows, cols);
  for (Eigen::Index i = 0; i < out.size(); ++i) out.data()[i] = normal(rng);
  return out;
}

// A real cell's two handles and buffers, created exactly as cell_runner.cpp creates them.
class StepRig {
 public:
  StepRig(const Registry& registry, const std::string& target, const StepShape& shape, const std::string& method) {
    std::ostringstream problem;
    problem << "{symmetric: false, n: " << shape.n << ", m: " << shape.m << ", rank: " << shape.r << ", k: " << shape.r
            << ", target: " << target << "}";
    problem_ = registry.create_problem(
        resolve_component(PluginKind::Problem, "matrix_factorization", problem.str(), registry), 1);
    optimizer_ = registry.create_optimizer(optimizer_config(registry, method), 2);
    params_ = problem_->allocate();
    grads_ = problem_->allocate();
    problem_->initialize(params_);
    optimizer_->initialize(problem_->blocks());
    metrics_.assign(problem_->metrics().size(), 0.0);
  }

  void step() {
    problem_->evaluate(params_, grads_, metrics_.data(), EvalContext{iteration_, 0});
    optimizer_->step(iteration_, params_, grads_);
    ++iteration_;
  }

  const std::vector<Matrix>& params() const { return params_; }
  const std::vector<Matrix>& grads() const { return grads_; }

 private:
  // "muon+ns5" is muon with orthogonalizer ns5; other names are optimizers with defaults.
  // Step sizes are small so a few dozen steps from the small initialization stay finite.
  static ComponentConfig optimizer_config(const Registry& registry, const std::string& method) {
    const auto plus = method.find('+');
    if (plus != std::string::npos) {
      return resolve_component(PluginKind::Optimizer, method.substr(0, plus),
                               "{lr: 1.0e-3, orthogonalizer: " + method.substr(plus + 1) + "}", registry);
    }
    return resolve_component(PluginKind::Optimizer, method, "{lr: 1.0e-4}", registry);
  }

  std::unique_ptr<ProblemHandle> problem_;
  std::unique_ptr<OptimizerHandle> optimizer_;
  std::vector<Matrix> params_, grads_;
  std::vector<double> metrics_;
  std::int64_t iteration_ = 0;
};

// The products of the gradient floor, on random matrices of the cell's shapes.
class GradientFloor {
 public:
  GradientFloor(const std::string& target, const StepShape& s) : dense_(target == "dense") {
    std::mt19937_64 rng(7);
    x_ = gaussian(s.n, s.r, rng);
    y_ = gaussian(s.m, s.r, rng);
    grad_x_.resize(s.n, s.r);
    grad_y_.resize(s.m, s.r);
    if (dense_) {
      residual_.resize(s.n, s.m);
    } else {
      basis_x_ = gaussian(s.n, s.r, rng);
      basis_y_ = gaussian(s.m, s.r, rng);
      coefficients_ = gaussian(s.r, s.r, rng);
      gram_ = gaussian(s.r, s.r, rng);
      along_.resize(s.r, s.r);
      own_gram_.resize(s.r, s.r);
    }
    const double n = s.n, m = s.m, r = s.r;
    flops_ = dense_ ? 6 * n * m * r : 8 * (n + m) * r * r;
  }

  void run() {
    if (dense_) {
      residual_.noalias() = x_ * y_.transpose();
      grad_x_.noalias() = residual_ * y_;
      grad_y_.noalias() = residual_.transpose() * x_;
      return;
    }
    factor_products(x_, basis_x_, grad_x_);
    factor_products(y_, basis_y_, grad_y_);
  }

  double flops() const { return flops_; }
  const Matrix& grad_x() const { return grad_x_; }
  const Matrix& grad_y() const { return grad_y_; }

 private:
  void factor_products(const Matrix& factor, const Matrix& basis, Matrix& grad) {
    along_.noalias() = basis.transpose() * factor;
    own_gram_.noalias() = factor.transpose() * factor;
    grad.noalias() = basis * coefficients_;
    grad.noalias() += factor * gram_;
  }

  bool dense_;
  Matrix x_, y_, grad_x_, grad_y_, residual_;
  Matrix basis_x_, basis_y_, coefficients_, gram_, along_, own_gram_;
  double flops_ = 0;
};

// The polar-factor part of muon's floor: exact (SVD) or five quintic Newton-Schulz steps.
class PolarFloor {
 public:
  PolarFloor(const Matrix& grad_x, const Matrix& grad_y, bool exact) : exact_(exact), inputs_{grad_x, grad_y} {
    for (const Matrix& g : inputs_) {
      outputs_.emplace_back(g.rows(), g.cols());
      scratch_.emplace_back(g.rows(), g.cols());
    }
    gram_.resize(grad_x.cols(), grad_x.cols());
    poly_.resize(grad_x.cols(), grad_x.cols());
  }

  void run() {
    for (std::size_t b = 0; b < inputs_.size(); ++b) {
      if (exact_) {
        svd_.compute(inputs_[b], true);
        outputs_[b].noalias() = svd_.u() * svd_.vt();
      } else {
        newton_schulz(inputs_[b], outputs_[b], scratch_[b]);
      }
    }
  }

 private:
  // Tall orientation: X <- a X + X (b A + c A^2), A = X^T X (same flops as the wide form).
  void newton_schulz(const Matrix& g, Matrix& x, Matrix& next) {
    constexpr double a = 3.4445, b = -4.7750, c = 2.0315;
    x = g / (g.norm() + 1e-7);
    for (int i = 0; i < 5; ++i) {
      gram_.noalias() = x.transpose() * x;
      poly_.noalias() = c * gram_ * gram_;
      poly_ += b * gram_;
      next.noalias() = x * poly_;
      next += a * x;
      x.swap(next);
    }
  }

  bool exact_;
  std::vector<Matrix> inputs_, outputs_, scratch_;
  Matrix gram_, poly_;
  ThinSvd svd_;
};

std::string method_floor_key(const std::string& method) {
  if (method == "muon+svd") return "svd";
  if (method == "muon+ns5") return "ns5";
  return "gradient";
}

BenchStepRow make_row(const std::string& target, const StepShape& shape, int threads, const std::string& method,
                      const Timing& timing, const Timing& floor) {
  BenchStepRow row;
  row.target = target;
  row.shape = shape.label();
  row.method = method;
  row.threads = threads;
  row.seconds_median = timing.median;
  row.seconds_min = timing.min;
  row.seconds_max = timing.max;
  row.cpu_median = timing.cpu_median;
  row.floor_seconds = floor.median;
  row.floor_min = floor.min;
  row.floor_cpu = floor.cpu_median;
  return row;
}

// Every method and the spectra cost at one target, shape and thread count. Each row's
// floor is timed alternately with its step.
void bench_configuration(const Registry& registry, const BenchStepOptions& options, const std::string& target,
                         const StepShape& shape, int threads, std::vector<BenchStepRow>& rows, std::ostream* progress) {
  set_blas_threads(threads);
  GradientFloor gradient(target, shape);
  for (const std::string& method : options.methods) {
    if (progress)
      *progress << "bench-step: " << target << " " << shape.label() << " threads " << threads << " " << method << "\n";
    StepRig rig(registry, target, shape, method);
    const std::string key = method_floor_key(method);
    PolarFloor polar(gradient.grad_x(), gradient.grad_y(), key == "svd");
    const auto floor = [&] {
      gradient.run();
      if (key != "gradient") polar.run();
    };
    const auto [step, floor_timing] = time_alternating([&] { rig.step(); }, floor, options.warmup, options.repetitions);
    BenchStepRow row = make_row(target, shape, threads, method, step, floor_timing);
    row.floor_flops = gradient.flops();
    rows.push_back(row);
    if (method != "gd") continue;
    // Spectra as a recording step takes them: iterate, gradient and update of both blocks,
    // against the gd step (the row's "floor"), so vs floor is the fraction of a gd step. The
    // update is that of one gd step. Both routes: the runner's default (checked Gram) and
    // record.spectra_exact (Householder).
    std::vector<Matrix> updates = rig.params();
    rig.step();
    for (std::size_t b = 0; b < 2; ++b) updates[b] -= rig.params()[b];
    for (const auto route : {SpectrumCalculator::Route::Gram, SpectrumCalculator::Route::Householder}) {
      std::vector<SpectrumCalculator> spectra;
      for (int i = 0; i < 6; ++i) spectra.emplace_back(route);
      const auto record = [&] {
        for (std::size_t b = 0; b < 2; ++b) {
          spectra[3 * b].compute(rig.params()[b]);
          spectra[3 * b + 1].compute(rig.grads()[b]);
          spectra[3 * b + 2].compute(updates[b]);
        }
      };
      const auto [spectra_timing, gd_step] = time_alternating(
          record, [&] { rig.step(); }, options.warmup, options.repetitions);
      int gram = 0;
      for (const SpectrumCalculator& s : spectra) gram += s.used_gram() ? 1 : 0;
      const std::string label = route == SpectrumCalculator::Route::Gram
                                    ? "spectra(" + std::to_string(gram) + "/6 gram)"
                                    : std::string("spectra(exact)");
      rows.push_back(make_row(target, shape, threads, label, spectra_timing, gd_step));
    }
    // record.spectra_of: [iterate]: the two iterates only (default route).
    std::vector<SpectrumCalculator> iterate_spectra(2, SpectrumCalculator(SpectrumCalculator::Route::Gram));
    const auto record_iterates = [&] {
      for (std::size_t b = 0; b < 2; ++b) iterate_spectra[b].compute(rig.params()[b]);
    };
    const auto [iterate_timing, gd_step] = time_alternating(
        record_iterates, [&] { rig.step(); }, options.warmup, options.repetitions);
    int gram = 0;
    for (const SpectrumCalculator& s : iterate_spectra) gram += s.used_gram() ? 1 : 0;
    rows.push_back(make_row(target, shape, threads, "spectra(iterates, " + std::to_string(gram) + "/2 gram)",
                            iterate_timing, gd_step));
  }
}

std::string fixed(double v, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v;
  return out.str();
}

}  // namespace

std::string StepShape::label() const { return std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(r); }

std::vector<StepShape> parse_step_sizes(const std::string& text) {
  std::vector<StepShape> sizes;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) continue;
    StepShape s;
    char x1 = 0, x2 = 0;
    std::istringstream parse(item);
    if (!(parse >> s.m >> x1 >> s.n >> x2 >> s.r) || x1 != 'x' || x2 != 'x' || !parse.eof() || s.m < 1 || s.n < 1 ||
        s.r < 1 || s.r > std::min(s.m, s.n)) {
      throw InputError("--sizes: '" + item + "' is not MxNxR with 1 <= R <= min(M, N), e.g. 1024x1024x32");
    }
    sizes.push_back(s);
  }
  if (sizes.empty()) throw InputError("--sizes: no size given");
  return sizes;
}

std::vector<BenchStepRow> bench_steps(const Registry& registry, const BenchStepOptions& options,
                                      std::ostream* progress) {
  std::vector<BenchStepRow> rows;
  for (const StepShape& shape : options.sizes) {
    for (const std::string& target : options.targets) {
      for (int threads : options.threads)
        bench_configuration(registry, options, target, shape, threads, rows, progress);
    }
  }
  return rows;
}

void print_bench_step(std::ostream& out, const std::vector<BenchStepRow>& rows) {
  out << "wall ms per call (median, min, max), the floor timed alternately with the step, GFLOP/s of the\n"
         "gradient floor's flops at the step's median; ratios: median/median, min/min, CPU/CPU (process CPU time)\n";
  out << std::left << std::setw(9) << "target" << std::setw(16) << "m x n x r" << std::setw(4) << "thr" << std::setw(18)
      << "method" << std::right << std::setw(10) << "median" << std::setw(10) << "min" << std::setw(10) << "max"
      << std::setw(10) << "floor" << std::setw(10) << "floor min" << std::setw(8) << "GFLOP/s" << std::setw(9)
      << "ratio" << std::setw(9) << "min/min" << std::setw(9) << "cpu/cpu"
      << "\n";
  for (const BenchStepRow& r : rows) {
    const bool spectra = r.method.rfind("spectra", 0) == 0;
    out << std::left << std::setw(9) << r.target << std::setw(16) << r.shape << std::setw(4) << r.threads
        << std::setw(18) << r.method << std::right << std::setw(10) << fixed(1e3 * r.seconds_median, 3) << std::setw(10)
        << fixed(1e3 * r.seconds_min, 3) << std::setw(10) << fixed(1e3 * r.seconds_max, 3) << std::setw(10)
        << fixed(1e3 * r.floor_seconds, 3) << std::setw(10) << fixed(1e3 * r.floor_min, 3) << std::setw(8)
        << (spectra ? "-" : fixed(r.gflops(), 1)) << std::setw(9) << fixed(r.vs_floor(), 3) << std::setw(9)
        << fixed(r.min_vs_floor(), 3) << std::setw(9) << fixed(r.cpu_vs_floor(), 3)
        << (spectra ? "  (spectra / gd step)" : "") << "\n";
  }
}

void write_bench_step_csv(const std::string& path, const std::vector<BenchStepRow>& rows) {
  std::ofstream out(path);
  if (!out) throw InputError("cannot write " + path);
  out << "target,shape,threads,method,seconds_median,seconds_min,seconds_max,cpu_seconds_median,floor_seconds,"
         "floor_seconds_min,floor_cpu_seconds,floor_gflop,gflops,vs_floor,min_vs_floor,cpu_vs_floor\n";
  out << std::setprecision(6);
  for (const BenchStepRow& r : rows) {
    out << csv_field(r.target) << "," << csv_field(r.shape) << "," << r.threads << "," << csv_field(r.method) << ","
        << r.seconds_median << "," << r.seconds_min << "," << r.seconds_max << "," << r.cpu_median << ","
        << r.floor_seconds << "," << r.floor_min << "," << r.floor_cpu << "," << r.floor_flops * 1e-9 << ","
        << r.gflops() << "," << r.vs_floor() << "," << r.min_vs_floor() << "," << r.cpu_vs_floor() << "\n";
  }
}

}  // namespace muonlab
