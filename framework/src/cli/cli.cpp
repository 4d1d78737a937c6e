#include "cli/cli.hpp"

#include <unistd.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "bench/bench_orth.hpp"
#include "bench/bench_step.hpp"
#include "util/errors.hpp"
#include "util/text.hpp"
#include "grid/grid.hpp"
#include "muonlab_version.hpp"
#include "host/registry.hpp"
#include "run/runner.hpp"

namespace muonlab {
namespace po = boost::program_options;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitCellsFailed = 1;
constexpr int kExitBadInput = 2;

const char* kUsage =
    "muonlab " MUONLAB_VERSION
    " - matrix-aware optimizers against theory\n"
    "\n"
    "usage: muonlab <command> [options]\n"
    "\n"
    "commands:\n"
    "  run GRID.yaml [-o OUT.h5] [-j N] [--set key=value]... [--shard i/N] [--resume] [--overwrite] [--dry-run]\n"
    "                         run every cell of an experiment grid, write HDF5 results\n"
    "  validate GRID.yaml     expand and check a grid against the plugin schemas, run nothing\n"
    "  list [problems|optimizers|orthogonalizers]\n"
    "                         installed plugins with one-line docs and library paths\n"
    "  describe NAME          a plugin's parameters: type, default, range, doc\n"
    "  bench-orth [--shapes 1024x128,512x512] [--spectra geometric:1e2,gaussian,lowrank:8] [--reps N] [--csv F]\n"
    "                         every orthogonalizer on the same matrices: error vs the exact polar factor, time vs svd\n"
    "  bench-step [--sizes 1024x1024x32] [--targets dense,factored] [--methods gd,adam] [--threads 1,2] [--csv F]\n"
    "                         one optimizer step of matrix factorization against its GEMM floor, and spectra's cost\n"
    "\n"
    "options: --help, --version; `muonlab <command> --help` for a command's options\n"
    "exit codes: 0 all cells ran (diverged is a result), 1 some cells failed, 2 bad input\n"
    "plugins are searched in the build's plugin directory, the install prefix and MUONLAB_PLUGIN_PATH\n";

// "problems" or "problem" -> PluginKind::Problem, ...
std::optional<PluginKind> kind_of_listing(const std::string& word) {
  if (!word.empty() && word.back() == 's') return parse_plugin_kind(word.substr(0, word.size() - 1));
  return parse_plugin_kind(word);
}

void report_load_failures(const Registry& registry, std::ostream& err) {
  for (const LoadFailure& f : registry.failures()) {
    err << "muonlab: warning: plugin library " << f.library << " not loaded: " << f.reason << "\n";
  }
}

std::string range_text(const ParamSpec& p) {
  if (p.type == ParamType::Choice) return p.choices ? std::string(p.choices) : "";
  if (p.type != ParamType::Real && p.type != ParamType::Integer) return "";
  if (std::isinf(p.low) && std::isinf(p.high)) return "";
  std::ostringstream out;
  out << ((p.flags & kParamLowExclusive) ? "(" : "[");
  if (std::isinf(p.low))
    out << "-inf";
  else
    out << p.low;
  out << ", ";
  if (std::isinf(p.high))
    out << "inf";
  else
    out << p.high;
  out << ((p.flags & kParamHighExclusive) ? ")" : "]");
  return out.str();
}

int command_list(const std::vector<std::string>& args) {
  if (args.size() > 1) {
    std::cerr << "muonlab list: expected at most one of problems, optimizers, orthogonalizers\n";
    return kExitBadInput;
  }
  std::optional<PluginKind> kind;
  if (!args.empty()) {
    kind = kind_of_listing(args[0]);
    if (!kind) {
      std::cerr << "muonlab list: unknown plugin kind '" << args[0]
                << "'; use problems, optimizers or orthogonalizers\n";
      return kExitBadInput;
    }
  }
  Registry registry;
  report_load_failures(registry, std::cerr);
  for (const PluginKind k : kPluginKinds) {
    if (kind && k != *kind) continue;
    std::cout << to_string(k) << "s:\n";
    for (const PluginInfo& p : registry.plugins()) {
      if (p.kind != k) continue;
      std::cout << "  " << std::left << std::setw(22) << p.name << " " << p.summary << "\n"
                << "  " << std::setw(22) << ""
                << " " << p.library << " (v" << p.version << ")\n";
    }
  }
  if (registry.plugins().empty()) {
    std::cerr << "muonlab: no plugins found; searched:";
    for (const std::string& d : registry.directories()) std::cerr << " " << d;
    std::cerr << "\n";
  }
  return kExitOk;
}

int command_describe(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::cerr << "muonlab describe: expected one plugin name, e.g. `muonlab describe muon`\n";
    return kExitBadInput;
  }
  Registry registry;
  report_load_failures(registry, std::cerr);
  bool found = false;
  for (const PluginInfo& p : registry.plugins()) {
    if (p.name != args[0]) continue;
    found = true;
    std::cout << to_string(p.kind) << " " << p.name << " v" << p.version << ": " << p.summary << "\n"
              << "library: " << p.library << "\nbuild: " << p.build_tag << "\n\nparameters:\n";
    for (std::uint32_t i = 0; i < p.descriptor->num_params; ++i) {
      const ParamSpec& s = p.descriptor->params[i];
      std::cout << "  " << std::left << std::setw(18) << s.name << std::setw(15) << param_type_name(s.type)
                << "default " << std::setw(14) << (s.default_value ? s.default_value : "(required)");
      const std::string range = range_text(s);
      if (!range.empty()) std::cout << (s.type == ParamType::Choice ? "one of " : "range ") << range;
      std::cout << "\n      " << (s.doc ? s.doc : "") << "\n";
    }
  }
  if (!found) {
    std::vector<std::string> all;
    for (const PluginInfo& p : registry.plugins()) all.push_back(p.name);
    const std::string suggestion = closest_name(args[0], all);
    std::cerr << "muonlab describe: no plugin named '" << args[0] << "'"
              << (suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?") << " (see `muonlab list`)\n";
    return kExitBadInput;
  }
  return kExitOk;
}

struct GridArgs {
  std::string grid;
  std::vector<std::string> overrides;
};

po::options_description grid_options(GridArgs& args) {
  po::options_description options;
  options.add_options()("set", po::value<std::vector<std::string>>(&args.overrides)->composing(),
                        "override a key of the grid, e.g. --set problem.params.n=512 (repeatable)");
  return options;
}

// Parses a command's arguments; prints help and returns false when asked to stop.
bool parse_command(const std::vector<std::string>& argv, po::options_description& visible, const char* usage,
                   std::string& positional, int& exit_code) {
  po::options_description all = visible;
  all.add_options()("help,h", "show this help")("grid", po::value<std::string>(&positional));
  po::positional_options_description pos;
  pos.add("grid", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(argv).options(all).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << usage << "\n" << visible;
    exit_code = kExitOk;
    return false;
  }
  if (positional.empty()) {
    std::cerr << usage << "\nmissing GRID.yaml\n";
    exit_code = kExitBadInput;
    return false;
  }
  return true;
}

Grid load_checked_grid(const GridArgs& args, const Registry& registry) {
  Grid grid = load_grid(args.grid, args.overrides, registry);
  preflight(grid, registry);
  return grid;
}

int command_validate(const std::vector<std::string>& argv) {
  GridArgs args;
  po::options_description visible = grid_options(args);
  int exit_code = kExitOk;
  if (!parse_command(argv, visible, "usage: muonlab validate GRID.yaml [--set key=value]...", args.grid, exit_code)) {
    return exit_code;
  }
  Registry registry;
  report_load_failures(registry, std::cerr);
  const Grid grid = load_checked_grid(args, registry);
  std::cout << args.grid << ": ok, " << grid.cells.size() << " cells\n";
  return kExitOk;
}

void parse_shard(const std::string& text, RunOptions& options) {
  int index = -1, count = 0;
  char slash = 0;
  std::istringstream in(text);
  if (!(in >> index >> slash >> count) || slash != '/' || count < 1 || index < 0 || index >= count || !in.eof()) {
    throw InputError("--shard " + text + ": expected i/N with 0 <= i < N, e.g. --shard 0/4");
  }
  options.shard_index = index;
  options.shard_count = count;
}

std::string default_output(const Grid& grid) {
  if (!grid.output.empty()) return grid.output;
  return "results/" + (grid.name.empty() ? std::string("muonlab") : grid.name) + ".h5";
}

int command_run(const std::vector<std::string>& argv) {
  GridArgs args;
  RunOptions options;
  const std::string kUnset = "\x1f";  // -o not given (an explicit empty -o is an error)
  std::string output = kUnset, shard;
  bool resume = false, overwrite = false, dry_run = false, quiet = false;
  po::options_description visible = grid_options(args);
  visible.add_options()("output,o", po::value<std::string>(&output),
                        "result file (default: the grid's output, or results/<name>.h5)")(
      "jobs,j", po::value<int>(&options.jobs)->default_value(1),
      "cells run in parallel, in N worker processes; BLAS threads per cell = cores / N")(
      "shard", po::value<std::string>(&shard), "run the deterministic part i/N of the cells (0 <= i < N)")(
      "resume", po::bool_switch(&resume), "skip cells already complete in the output, re-run the others")(
      "overwrite", po::bool_switch(&overwrite), "replace an existing output file")(
      "dry-run", po::bool_switch(&dry_run), "list the cells that would run, run nothing")(
      "quiet,q", po::bool_switch(&quiet), "no progress line");
  int exit_code = kExitOk;
  if (!parse_command(argv, visible,
                     "usage: muonlab run GRID.yaml [-o OUT.h5] [-j N] [--set key=value]... [--shard i/N] [--resume] "
                     "[--overwrite] [--dry-run]",
                     args.grid, exit_code)) {
    return exit_code;
  }
  if (resume && overwrite) throw InputError("--resume and --overwrite exclude each other");
  if (output.empty())
    throw InputError("-o: the result file name is empty; name a file, or leave -o out for the default");
  if (options.jobs < 1)
    throw InputError("-j " + std::to_string(options.jobs) + ": the number of parallel cells must be at least 1");
  if (!shard.empty()) parse_shard(shard, options);

  Registry registry;
  report_load_failures(registry, std::cerr);
  const Grid grid = load_checked_grid(args, registry);
  options.output = output == kUnset ? default_output(grid) : output;
  options.mode = resume ? OpenMode::Resume : overwrite ? OpenMode::Overwrite : OpenMode::Create;
  options.progress = !quiet && isatty(STDERR_FILENO);

  if (dry_run) {
    const auto cells = shard_cells(grid, options.shard_index, options.shard_count);
    const auto problems = cell_labels(grid, true);
    const auto optimizers = cell_labels(grid, false);
    for (std::size_t i = 0; i < grid.cells.size(); ++i) {
      if (std::find(cells.begin(), cells.end(), &grid.cells[i]) == cells.end()) continue;
      std::cout << grid.cells[i].id << "  " << problems[i] << "  |  " << optimizers[i] << "  seed "
                << grid.cells[i].seed << "\n";
    }
    std::cout << cells.size() << " cells would run, output " << options.output << "\n";
    return kExitOk;
  }
  const RunReport report = run_grid(grid, registry, options);
  print_summary(std::cout, grid, report, options.output);
  return report.failed > 0 ? kExitCellsFailed : kExitOk;
}

int command_bench_orth(const std::vector<std::string>& argv) {
  std::string shapes = "1024x128,512x512", spectra = "geometric:1e2,geometric:1e4", methods, csv;
  BenchOrthOptions options;
  int threads = blas_threads_for(1);
  po::options_description visible;
  visible.add_options()("help,h", "show this help")("shapes", po::value<std::string>(&shapes)->default_value(shapes),
                                                    "matrix shapes ROWSxCOLS, comma-separated")(
      "spectra", po::value<std::string>(&spectra)->default_value(spectra),
      "matrix kinds: geometric:KAPPA (singular values 1..1/KAPPA), gaussian, lowrank:RANK (+1e-3 noise)")(
      "orthogonalizers", po::value<std::string>(&methods), "comma-separated names (default: all registered)")(
      "reps", po::value<int>(&options.repetitions)->default_value(5), "timed calls per method and matrix")(
      "threads", po::value<int>(&threads)->default_value(threads), "OpenBLAS threads")(
      "csv", po::value<std::string>(&csv), "also write the table as CSV");
  po::variables_map vm;
  po::store(po::command_line_parser(argv).options(visible).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: muonlab bench-orth [options]\n" << visible;
    return kExitOk;
  }
  if (options.repetitions < 1) throw InputError("--reps must be at least 1");
  if (threads < 1) throw InputError("--threads must be at least 1");
  options.shapes = parse_shapes(shapes);
  options.kinds = parse_kinds(spectra);
  std::stringstream list(methods);
  for (std::string name; std::getline(list, name, ',');) {
    if (!name.empty()) options.orthogonalizers.push_back(name);
  }
  Registry registry;
  report_load_failures(registry, std::cerr);
  for (const std::string& name : options.orthogonalizers) {
    if (registry.info(PluginKind::Orthogonalizer, name) == nullptr) {
      std::string available;
      for (const std::string& n : registry.names(PluginKind::Orthogonalizer))
        available += (available.empty() ? "" : ", ") + n;
      throw InputError("--orthogonalizers: unknown orthogonalizer '" + name + "'; available: " + available);
    }
  }
  set_blas_threads(threads);
  const auto rows = bench_orthogonalizers(registry, options, isatty(STDERR_FILENO) ? &std::cerr : nullptr);
  print_bench_orth(std::cout, rows);
  if (!csv.empty()) {
    write_bench_orth_csv(csv, rows);
    std::cout << "csv: " << csv << "\n";
  }
  return kExitOk;
}

int command_bench_step(const std::vector<std::string>& argv) {
  std::string sizes = "256x256x8,1024x1024x32", threads = "1,2", targets = "dense,factored",
              methods = "gd,adam,muon+svd,muon+ns5";
  BenchStepOptions options;
  po::options_description visible;
  visible.add_options()("help,h", "show this help")("sizes", po::value<std::string>(&sizes)->default_value(sizes),
                                                    "MxNxR, comma-separated (k = R, asymmetric)")(
      "targets", po::value<std::string>(&targets)->default_value(targets), "dense and/or factored")(
      "methods", po::value<std::string>(&methods)->default_value(methods),
      "optimizers; muon+ORTH picks muon's orthogonalizer")(
      "threads", po::value<std::string>(&threads)->default_value(threads), "OpenBLAS thread counts to measure")(
      "warmup", po::value<int>(&options.warmup)->default_value(options.warmup), "untimed calls before timing")(
      "reps", po::value<int>(&options.repetitions)->default_value(options.repetitions), "timed calls per row")(
      "csv", po::value<std::string>(&options.csv), "also write the table as CSV");
  po::variables_map vm;
  po::store(po::command_line_parser(argv).options(visible).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: muonlab bench-step [options]\n" << visible;
    return kExitOk;
  }
  if (options.repetitions < 1 || options.warmup < 0) throw InputError("--reps must be >= 1 and --warmup >= 0");
  options.sizes = parse_step_sizes(sizes);
  const auto words = [](const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    for (std::string w; std::getline(in, w, ',');)
      if (!w.empty()) out.push_back(w);
    return out;
  };
  options.targets = words(targets);
  options.methods = words(methods);
  options.threads.clear();
  for (const std::string& t : words(threads)) options.threads.push_back(std::stoi(t));
  for (int t : options.threads) {
    if (t < 1) throw InputError("--threads: counts must be at least 1");
  }
  Registry registry;
  report_load_failures(registry, std::cerr);
  const auto rows = bench_steps(registry, options, isatty(STDERR_FILENO) ? &std::cerr : nullptr);
  print_bench_step(std::cout, rows);
  if (!options.csv.empty()) {
    write_bench_step_csv(options.csv, rows);
    std::cout << "csv: " << options.csv << "\n";
  }
  return kExitOk;
}

int dispatch(const std::string& command, const std::vector<std::string>& rest) {
  if (command == "bench-orth") return command_bench_orth(rest);
  if (command == "bench-step") return command_bench_step(rest);
  if (command == "run") return command_run(rest);
  if (command == "validate") return command_validate(rest);
  if (command == "list") return command_list(rest);
  if (command == "describe") return command_describe(rest);
  const std::string suggestion =
      closest_name(command, {"run", "validate", "list", "describe", "bench-orth", "bench-step"});
  std::cerr << "muonlab: unknown command '" << command << "'"
            << (suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?") << "\n\n"
            << kUsage;
  return kExitBadInput;
}

}  // namespace

int cli_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? kExitBadInput : kExitOk;
  }
  if (args[0] == "--version") {
    std::cout << "muonlab " << MUONLAB_VERSION << " (plugin ABI " << kAbiMajor << "." << kAbiMinor << "; "
              << build_description() << ")\n";
    return kExitOk;
  }
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    return dispatch(command, rest);
  } catch (const InputError& e) {
    std::cerr << "muonlab " << command << ": error: " << e.what() << "\n";
  } catch (const PluginError& e) {
    std::cerr << "muonlab " << command << ": plugin error: " << e.what() << "\n";
  } catch (const po::error& e) {
    std::cerr << "muonlab " << command << ": " << e.what() << " (see `muonlab " << command << " --help`)\n";
  } catch (const std::exception& e) {
    std::cerr << "muonlab " << command << ": error: " << e.what() << "\n";
  }
  return kExitBadInput;
}

}  // namespace muonlab
