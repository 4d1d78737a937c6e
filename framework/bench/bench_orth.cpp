#include "bench/bench_orth.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <random>
#include <sstream>

#include "util/csv.hpp"
#include "util/errors.hpp"
#include "util/text.hpp"
#include "grid/grid.hpp"
#include "muonlab/linalg.hpp"

namespace muonlab {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, separator)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

std::string shape_label(int rows, int cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2e", v);
  return buf;
}

BenchOrthRow measure(OrthogonalizerHandle& method, const Matrix& g, int repetitions) {
  BenchOrthRow row;
  Matrix out(g.rows(), g.cols());
  method.apply(g, out);  // warm-up: first-call workspace allocation is not timed
  std::vector<double> seconds, cpu;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = process_cpu_seconds();
    method.apply(g, out);
    cpu.push_back(process_cpu_seconds() - cpu_start);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  row.cpu_median = median(cpu);
  row.seconds_median = median(seconds);
  row.seconds_min = *std::min_element(seconds.begin(), seconds.end());
  method.enable_probe();
  const MatrixView in{const_cast<double*>(g.data()), g.rows(), g.cols()};
  MatrixView view{out.data(), out.rows(), out.cols()};
  ErrorBuffer error{};
  if (method.abi()->apply(&in, &view, &error) != 0) throw PluginError(error.message);
  row.quality = method.probe()->take();
  return row;
}

}  // namespace

std::string MatrixKind::label() const {
  if (name == "gaussian") return name;
  std::ostringstream out;
  out << name << (name == "geometric" ? " kappa=" : " rank=") << parameter;
  return out.str();
}

std::vector<std::pair<int, int>> parse_shapes(const std::string& text) {
  std::vector<std::pair<int, int>> shapes;
  for (const std::string& item : split(text, ',')) {
    int rows = 0, cols = 0;
    char x = 0;
    std::istringstream in(item);
    if (!(in >> rows >> x >> cols) || x != 'x' || rows < 1 || cols < 1 || !in.eof()) {
      throw InputError("--shapes: cannot read '" + item + "'; expected ROWSxCOLS, e.g. 1024x128,512x512");
    }
    shapes.emplace_back(rows, cols);
  }
  if (shapes.empty()) throw InputError("--shapes: no shape given");
  return shapes;
}

std::vector<MatrixKind> parse_kinds(const std::string& text) {
  std::vector<MatrixKind> kinds;
  for (const std::string& item : split(text, ',')) {
    const auto colon = item.find(':');
    MatrixKind kind{item.substr(0, colon), 0.0};
    const std::string value = colon == std::string::npos ? "" : item.substr(colon + 1);
    if (kind.name == "gaussian" && value.empty()) {
      kinds.push_back(kind);
      continue;
    }
    if (kind.name != "geometric" && kind.name != "lowrank") {
      const std::string suggestion = closest_name(kind.name, {"geometric", "gaussian", "lowrank"});
      throw InputError("--spectra: unknown kind '" + kind.name + "'" +
                       (suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?") +
                       " (geometric:KAPPA, gaussian, lowrank:RANK)");
    }
    try {
      kind.parameter = std::stod(value);
    } catch (const std::exception&) {
      throw InputError("--spectra: '" + item + "' needs a number after ':', e.g. geometric:1e4 or lowrank:8");
    }
    if (!(kind.parameter >= 1)) throw InputError("--spectra: '" + item + "': the value must be >= 1");
    kinds.push_back(kind);
  }
  if (kinds.empty()) throw InputError("--spectra: no matrix kind given");
  return kinds;
}

Matrix bench_matrix(const MatrixKind& kind, int rows, int cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto gaussian = [&](int r, int c) {
    Matrix m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
    return m;
  };
  if (kind.name == "gaussian") return gaussian(rows, cols);
  const int p = std::min(rows, cols);
  const Matrix u = haar_orthonormal(rows, p, rng);
  const Matrix v = haar_orthonormal(cols, p, rng);
  Vector s = Vector::Zero(p);
  if (kind.name == "geometric") {
    for (int i = 0; i < p; ++i) s(i) = std::pow(kind.parameter, -static_cast<double>(i) / std::max(1, p - 1));
    return u * s.asDiagonal() * v.transpose();
  }
  // lowrank: rank r with unit singular values plus Gaussian noise at 1e-3 relative level
  const int rank = std::min(p, static_cast<int>(kind.parameter));
  s.head(rank).setOnes();
  const Matrix noise = gaussian(rows, cols) * (1e-3 / std::sqrt(static_cast<double>(std::max(rows, cols))));
  return u * s.asDiagonal() * v.transpose() + noise;
}

std::vector<BenchOrthRow> bench_orthogonalizers(const Registry& registry, const BenchOrthOptions& options,
                                                std::ostream* progress) {
  std::vector<std::string> names =
      options.orthogonalizers.empty() ? registry.names(PluginKind::Orthogonalizer) : options.orthogonalizers;
  // svd first: it is the reference the others' times are divided by.
  names.erase(std::remove(names.begin(), names.end(), "svd"), names.end());
  names.insert(names.begin(), "svd");
  std::vector<BenchOrthRow> rows;
  for (const auto& [r, c] : options.shapes) {
    for (const MatrixKind& kind : options.kinds) {
      const Matrix g = bench_matrix(kind, r, c, options.seed);
      double svd_median = 0, svd_cpu = 0;
      const std::size_t first = rows.size();
      for (const std::string& name : names) {
        if (progress)
          *progress << "\r" << shape_label(r, c) << " " << kind.label() << ": " << name << "\x1b[K" << std::flush;
        auto method =
            registry.create_orthogonalizer(resolve_component(PluginKind::Orthogonalizer, name, "{}", registry), 0);
        BenchOrthRow row;
        try {
          row = measure(*method, g, options.repetitions);
        } catch (const std::exception& e) {
          row.error = e.what();
        }
        row.orthogonalizer = name;
        row.shape = shape_label(r, c);
        row.matrix = kind.label();
        if (name == "svd") {
          svd_median = row.seconds_median;
          svd_cpu = row.cpu_median;
        }
        rows.push_back(row);
      }
      for (std::size_t i = first; i < rows.size(); ++i) {
        rows[i].time_vs_svd = svd_median > 0 ? rows[i].seconds_median / svd_median : NAN;
        rows[i].cpu_vs_svd = svd_cpu > 0 ? rows[i].cpu_median / svd_cpu : NAN;
      }
    }
  }
  if (progress) *progress << "\r\x1b[K" << std::flush;
  return rows;
}

void print_bench_orth(std::ostream& out, const std::vector<BenchOrthRow>& rows) {
  out << std::left << std::setw(16) << "orthogonalizer" << std::setw(11) << "shape" << std::setw(22) << "matrix"
      << std::right << std::setw(11) << "rel_error" << std::setw(11) << "residual" << std::setw(9) << "s_min"
      << std::setw(9) << "s_max" << std::setw(10) << "align" << std::setw(11) << "ms/call" << std::setw(9) << "vs svd"
      << std::setw(11) << "cpu ms" << std::setw(9) << "cpu/svd"
      << "\n";
  for (const BenchOrthRow& row : rows) {
    out << std::left << std::setw(16) << row.orthogonalizer << std::setw(11) << row.shape << std::setw(22)
        << row.matrix;
    if (!row.error.empty()) {
      out << "failed: " << row.error << "\n";
      continue;
    }
    const OrthQuality& q = row.quality;
    char buf[160];
    std::snprintf(buf, sizeof(buf), "%11s%11s%9.4f%9.4f%10.6f%11.3f%9.2f%11.3f%9.2f", sci(q.rel_error).c_str(),
                  sci(q.residual).c_str(), q.sigma_min, q.sigma_max, q.alignment, 1e3 * row.seconds_median,
                  row.time_vs_svd, 1e3 * row.cpu_median, row.cpu_vs_svd);
    out << buf << "\n";
  }
  out << "rel_error = ||O - U_r V_r^T||_F / sqrt(r) against the exact SVD polar factor; residual = ||O_r^T O_r - "
         "I_r||_F;\n"
         "s_min/s_max: singular values of O on the input's rank; align = <G,O>/||G||_*; times: median over "
         "repetitions,\n"
         "wall clock and process CPU (all threads; the robust ratio when the machine is shared)\n";
}

void write_bench_orth_csv(const std::string& path, const std::vector<BenchOrthRow>& rows) {
  std::ofstream out(path);
  if (!out) throw InputError("cannot write " + path + ": check the directory exists and is writable");
  out << std::setprecision(17)
      << "orthogonalizer,shape,matrix,rel_error,residual,sigma_min,sigma_max,alignment,gemms,flops,seconds_median,"
         "seconds_min,time_vs_svd,cpu_seconds_median,cpu_vs_svd,error\n";
  for (const BenchOrthRow& r : rows) {
    const OrthQuality& q = r.quality;
    out << csv_field(r.orthogonalizer) << "," << csv_field(r.shape) << "," << csv_field(r.matrix) << "," << q.rel_error
        << "," << q.residual << "," << q.sigma_min << "," << q.sigma_max << "," << q.alignment << "," << q.gemms << ","
        << q.flops << "," << r.seconds_median << "," << r.seconds_min << "," << r.time_vs_svd << "," << r.cpu_median
        << "," << r.cpu_vs_svd << "," << csv_field(r.error) << "\n";
  }
}

}  // namespace muonlab
