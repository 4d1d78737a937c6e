// The benchmark drivers' CSV files: every row has as many fields as the header, even when a
// label or an error message holds commas or quotes (read back with an independent parser).
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_orth.hpp"
#include "bench/bench_step.hpp"
#include "util/csv.hpp"

using namespace muonlab;

namespace {

// RFC 4180 records of a whole file (quoted fields may hold commas, doubled quotes, newlines).
std::vector<std::vector<std::string>> parse_csv(const std::string& path) {
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<std::string>> records(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      records.back().push_back(field);
      field.clear();
    } else if (c == '\n') {
      records.back().push_back(field);
      field.clear();
      records.emplace_back();
    } else {
      field += c;
    }
  }
  if (records.back().empty()) records.pop_back();
  return records;
}

std::string temporary_path(const char* name) { return std::string(P_tmpdir) + "/muonlab_test_" + name; }

}  // namespace

TEST_CASE("csv_field quotes only what needs quoting", "[csv]") {
  CHECK(csv_field("gd") == "gd");
  CHECK(csv_field("1024x1024x32") == "1024x1024x32");
  CHECK(csv_field("spectra(iterates, 2/2 gram)") == "\"spectra(iterates, 2/2 gram)\"");
  CHECK(csv_field("say \"no\"") == "\"say \"\"no\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
  CHECK(csv_field("") == "");
}

TEST_CASE("bench-step CSV: a method label with a comma stays one field", "[csv]") {
  BenchStepRow row;
  row.target = "dense";
  row.shape = "1024x1024x32";
  row.method = "spectra(iterates, 2/2 gram)";
  row.seconds_median = 1e-4;
  row.floor_seconds = 2e-3;
  const std::string path = temporary_path("bench_step.csv");
  write_bench_step_csv(path, {row, row});
  const auto records = parse_csv(path);
  std::remove(path.c_str());
  REQUIRE(records.size() == 3);
  for (const auto& record : records) CHECK(record.size() == records[0].size());
  CHECK(records[0][3] == "method");
  CHECK(records[1][3] == "spectra(iterates, 2/2 gram)");
  CHECK(records[1][13] == "0.05");  // vs_floor
}

TEST_CASE("bench-orth CSV: an error message with commas and quotes stays one field", "[csv]") {
  BenchOrthRow row;
  row.orthogonalizer = "higham_newton";
  row.shape = "64x64";
  row.matrix = "geometric:1e4";
  row.error = "singular input, \"X\" not invertible";
  const std::string path = temporary_path("bench_orth.csv");
  write_bench_orth_csv(path, {row});
  const auto records = parse_csv(path);
  std::remove(path.c_str());
  REQUIRE(records.size() == 2);
  CHECK(records[1].size() == records[0].size());
  CHECK(records[1].back() == "singular input, \"X\" not invertible");
}
