// `muonlab bench-step`: the time of one full optimizer step (problem evaluate, then optimizer
// step) on matrix factorization, next to the floor of the products that step cannot avoid,
// all measured in one process so the ratios are meaningful on a noisy machine.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "host/registry.hpp"

namespace muonlab {

struct StepShape {
  int m = 0, n = 0, r = 0;  // M is n x m of rank r; factors X (n x r), Y (m x r)
  std::string label() const;
};

struct BenchStepOptions {
  std::vector<StepShape> sizes{{256, 256, 8}, {1024, 1024, 32}};
  std::vector<std::string> targets{"dense", "factored"};
  std::vector<int> threads{1, 2};
  std::vector<std::string> methods{"gd", "adam", "muon+svd", "muon+ns5"};
  int warmup = 2;
  int repetitions = 7;
  std::string csv;
};

// One timed configuration. method "spectra" is the cost of one spectrum recording (X, Y and
// both gradients), and its floor is the gd step at the same target, shape and threads.
struct BenchStepRow {
  std::string target, shape, method;
  int threads = 1;
  double seconds_median = 0, seconds_min = 0, seconds_max = 0;
  double cpu_median = 0;     // process CPU seconds per call (all threads)
  double floor_seconds = 0;  // median of the unavoidable products (see bench_step.cpp)
  double floor_min = 0, floor_cpu = 0;
  double floor_flops = 0;  // flops of the gradient part of the floor
  double gflops() const { return seconds_median > 0 ? floor_flops / seconds_median * 1e-9 : 0; }
  double vs_floor() const { return floor_seconds > 0 ? seconds_median / floor_seconds : 0; }
  double min_vs_floor() const { return floor_min > 0 ? seconds_min / floor_min : 0; }
  double cpu_vs_floor() const { return floor_cpu > 0 ? cpu_median / floor_cpu : 0; }
};

// Parses "256x256x8,1024x1024x32" (m x n x r); InputError on bad text.
std::vector<StepShape> parse_step_sizes(const std::string& text);

std::vector<BenchStepRow> bench_steps(const Registry& registry, const BenchStepOptions& options,
                                      std::ostream* progress);
void print_bench_step(std::ostream& out, const std::vector<BenchStepRow>& rows);
void write_bench_step_csv(const std::string& path, const std::vector<BenchStepRow>& rows);

}  // namespace muonlab
