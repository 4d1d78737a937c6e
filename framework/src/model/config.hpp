// The resolved configuration of an experiment grid: what the YAML means once every sweep
// is expanded and every parameter validated against its plugin's schema.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/vocabulary.hpp"
#include "muonlab/abi.hpp"

namespace muonlab {

struct ComponentConfig;

// One validated parameter value; the field used depends on type.
struct ParamData {
  ParamType type = ParamType::Real;
  double number = 0.0;                         // Real, Integer, Boolean
  std::string text;                            // String, Choice
  std::vector<double> list;                    // RealList
  std::shared_ptr<ComponentConfig> component;  // Orthogonalizer: its own name + params
};

// A plugin to instantiate: its name and a complete parameter set (defaults filled in).
struct ComponentConfig {
  PluginKind kind = PluginKind::Problem;
  std::string name;
  std::map<std::string, ParamData> params;
};

struct StopRule {
  std::int64_t max_iters = 1000;
  double tol = 0.0;                  // stop when metric <= tol (0 disables)
  std::string metric = "rel_error";  // "loss" or a problem metric
  double max_seconds = 0.0;          // wall-clock limit per cell (0 disables)
  double divergence_factor = 1e8;    // diverged when loss > factor * initial loss (or NaN/Inf)
};

enum class SpectraSchedule { Off, Every, Log };

struct RecordRule {
  std::int64_t every = 1;  // trajectory row every N steps (plus the last)
  SpectraSchedule spectra = SpectraSchedule::Log;
  std::int64_t spectra_every = 1;  // with spectra: every
  int spectra_per_decade = 20;     // with spectra: log
  bool spectra_exact = false;      // Householder route always (else checked Gram, linalg.hpp)
  // Which spectra a recording takes, per parameter: the iterate, its gradient, the update.
  bool spectra_of_iterate = true;
  bool spectra_of_grad = true;
  bool spectra_of_update = true;
  bool final_iterates = true;  // write final/<param>
  bool orth_quality = false;   // measure every orthogonalizer call against the exact polar factor
};

struct CellConfig {
  std::string id;                    // stable: hash of the canonical configuration
  std::int64_t seed = 0;             // the grid seed (an entry of `seeds`)
  std::uint64_t problem_seed = 0;    // derived from (seed, problem name): common random numbers
  std::uint64_t optimizer_seed = 0;  // derived from (seed, cell id)
  std::uint64_t sample_seed = 0;     // problem_seed ^ kSampleStream; step t draws mix_seed(sample_seed, t)
  ComponentConfig problem;
  ComponentConfig optimizer;
  std::string canonical;  // canonical JSON of {problem, optimizer, seed}; the id hashes it
};

// Separates the per-step sample stream from the problem's instance stream.
constexpr std::uint64_t kSampleStream = 0x6a09e667f3bcc909ull;

struct Grid {
  std::string source_path;  // the YAML file
  std::string name;
  std::string description;
  std::string output;                  // output path from the YAML (may be empty)
  std::string yaml_text;               // full text of the grid file
  std::vector<std::string> overrides;  // --set key=value, as given
  StopRule stop;
  RecordRule record;
  std::vector<CellConfig> cells;
};

}  // namespace muonlab
