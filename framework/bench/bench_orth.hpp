// `muonlab bench-orth`: every orthogonalizer on the same matrices, accuracy against the exact
// polar factor and time per call, measured in one run so ratios are meaningful.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "host/registry.hpp"

namespace muonlab {

struct MatrixKind {
  std::string name;  // geometric | gaussian | lowrank
  double parameter;  // kappa for geometric, rank for lowrank, unused for gaussian
  std::string label() const;
};

struct BenchOrthOptions {
  std::vector<std::pair<int, int>> shapes{{1024, 128}, {512, 512}};
  std::vector<MatrixKind> kinds{{"geometric", 1e2}, {"geometric", 1e4}};
  std::vector<std::string> orthogonalizers;  // empty: every registered one
  int repetitions = 5;
  std::uint64_t seed = 0;
  std::string csv;  // also write the table here when set
};

struct BenchOrthRow {
  std::string orthogonalizer, shape, matrix;
  double seconds_median = 0, seconds_min = 0;  // wall clock per call
  double cpu_median = 0;                       // process CPU time per call (all threads): robust on a loaded machine
  double time_vs_svd = 0;                      // wall median / svd's on the same matrix
  double cpu_vs_svd = 0;                       // cpu median / svd's
  OrthQuality quality;
  std::string error;  // a method that fails on this input (e.g. singular for higham_newton)
};

// Parses "1024x128,512x512" and "geometric:1e4,gaussian,lowrank:8"; InputError on bad text.
std::vector<std::pair<int, int>> parse_shapes(const std::string& text);
std::vector<MatrixKind> parse_kinds(const std::string& text);

// The test matrix of a kind and shape (deterministic in seed).
Matrix bench_matrix(const MatrixKind& kind, int rows, int cols, std::uint64_t seed);

std::vector<BenchOrthRow> bench_orthogonalizers(const Registry& registry, const BenchOrthOptions& options,
                                                std::ostream* progress);
void print_bench_orth(std::ostream& out, const std::vector<BenchOrthRow>& rows);
void write_bench_orth_csv(const std::string& path, const std::vector<BenchOrthRow>& rows);

}  // namespace muonlab
