// The loop the core owns: stopping rules, divergence, recording schedules, parallel cells.
#include <catch2/catch.hpp>

#include <cmath>
#include <unistd.h>

#include <filesystem>

#include "grid.hpp"
#include "recording.hpp"
#include "runner.hpp"
#include "test_support.hpp"

using namespace muonlab;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "muonlab-tests";
  fs::create_directories(dir);
  const fs::path p = dir / (name + "-" + std::to_string(::getpid()) + ".h5");
  fs::remove(p);
  return p.string();
}

Grid small_grid(const std::string& optimizers, const std::string& stop) {
  const std::string yaml = "name: t\nseeds: [0]\nstop: " + stop +
                           "\nrecord: {every: 1, spectra: every}\n"
                           "problem: {name: matrix_factorization, params: {n: 20, rank: 3, kappa: 10, init_scale: 0.01}}\n"
                           "optimizer:\n" +
                           optimizers;
  return parse_grid(yaml, "test.yaml", {}, testing::registry());
}

RunReport run(const Grid& grid, const std::string& name, int jobs = 1) {
  RunOptions options;
  options.output = temp_path(name);
  options.jobs = jobs;
  return run_grid(grid, testing::registry(), options);
}

}  // namespace

TEST_CASE("log schedule: every step at first, then about per_decade steps per decade", "[runner]") {
  LogSchedule schedule(10);
  std::vector<std::int64_t> steps{0};
  while (steps.back() < 1000) steps.push_back(schedule.next_after(steps.back()));
  CHECK(steps[1] == 1);
  CHECK(steps[2] == 2);
  // 10^(j/10) rounded: ..., 10, 13, 16, 20, 25, 32, 40, 50, 63, 79, 100
  CHECK(std::find(steps.begin(), steps.end(), 13) != steps.end());
  CHECK(std::find(steps.begin(), steps.end(), 79) != steps.end());
  CHECK(std::find(steps.begin(), steps.end(), 100) != steps.end());
  CHECK(std::find(steps.begin(), steps.end(), 1000) != steps.end());
  CHECK(std::is_sorted(steps.begin(), steps.end()));
  CHECK(std::adjacent_find(steps.begin(), steps.end()) == steps.end());
  // Between 100 and 1000 there are exactly 10 scheduled steps (j = 21..30).
  CHECK(std::count_if(steps.begin(), steps.end(), [](std::int64_t s) { return s > 100 && s <= 1000; }) == 10);
}

TEST_CASE("stopping: tolerance, max_iters and divergence", "[runner]") {
  const Grid grid = small_grid(
      "  - {name: muon, params: {lr: 0.15, decay: 0.9}}\n"
      "  - {name: gd, params: {lr: 0.001}}\n"
      "  - {name: gd, params: {lr: 1000}}\n",
      "{max_iters: 300, tol: 1.0e-6, metric: rel_error}");
  const RunReport report = run(grid, "stopping");
  REQUIRE(report.rows.size() == 3);
  const IndexRow& muon = report.rows[0];
  CHECK(muon.status == "converged");
  CHECK(muon.iters_to_tol == muon.iterations);
  CHECK(muon.final_metric <= 1e-6);
  const IndexRow& slow = report.rows[1];
  CHECK(slow.status == "max_iters");
  CHECK(slow.iterations == 300);
  CHECK(slow.iters_to_tol == -1);
  const IndexRow& wild = report.rows[2];
  CHECK(wild.status == "diverged");
  CHECK(wild.iterations < 300);
  CHECK(report.failed == 0);
}

TEST_CASE("parallel cells give bit-identical results to serial ones", "[runner]") {
  const Grid grid = small_grid(
      "  - {name: muon, params: {lr: 0.05, orthogonalizer: {values: [svd, ns5]}}}\n"
      "  - {name: adam, params: {lr: {values: [0.01, 0.03]}}}\n",
      "{max_iters: 60}");
  const RunReport serial = run(grid, "serial", 1);
  const RunReport parallel = run(grid, "parallel", 2);
  REQUIRE(serial.rows.size() == 4);
  REQUIRE(parallel.rows.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(serial.rows[i].cell_id == parallel.rows[i].cell_id);
    CHECK(serial.rows[i].final_loss == parallel.rows[i].final_loss);
  }
}

TEST_CASE("a failing cell is recorded as failed and the others complete", "[runner]") {
  // k < rank is rejected by the problem's constructor inside the cell.
  const std::string yaml =
      "name: t\nstop: {max_iters: 5}\n"
      "problem: {name: matrix_factorization, params: {n: 10, rank: 3, k: {values: [3, 2]}}}\n"
      "optimizer: {name: gd}\n";
  const Grid grid = parse_grid(yaml, "t.yaml", {}, testing::registry());
  const RunReport report = run(grid, "failing");
  REQUIRE(report.rows.size() == 2);
  CHECK(report.rows[0].status == "max_iters");
  CHECK(report.rows[1].status == "failed");
  CHECK_THAT(report.rows[1].stop_reason, Catch::Contains("matrix_factorization") && Catch::Contains("k"));
  CHECK(report.failed == 1);
}
