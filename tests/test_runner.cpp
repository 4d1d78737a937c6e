// The loop the core owns: stopping rules, divergence, recording schedules, parallel cells.
#include <catch2/catch.hpp>

#include <Eigen/SVD>
#include <hdf5.h>

#include <cmath>
#include <unistd.h>

#include <filesystem>

#include "grid/grid.hpp"
#include "run/schedule.hpp"
#include "run/runner.hpp"
#include "test_support.hpp"

using namespace muonlab;
namespace fs = std::filesystem;

namespace {

// Where the test called `name` writes its result file.
fs::path temp_file(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "muonlab-tests";
  fs::create_directories(dir);
  return dir / (name + "-" + std::to_string(::getpid()) + ".h5");
}

// The same path, with any file of an earlier run removed.
std::string temp_path(const std::string& name) {
  const fs::path p = temp_file(name);
  fs::remove(p);
  return p.string();
}

Grid small_grid(const std::string& optimizers, const std::string& stop) {
  const std::string yaml =
      "name: t\nseeds: [0]\nstop: " + stop +
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
  CHECK(muon.status == CellStatus::Converged);
  CHECK(muon.iters_to_tol == muon.iterations);
  CHECK(muon.final_metric <= 1e-6);
  const IndexRow& slow = report.rows[1];
  CHECK(slow.status == CellStatus::MaxIters);
  CHECK(slow.iterations == 300);
  CHECK(slow.iters_to_tol == -1);
  const IndexRow& wild = report.rows[2];
  CHECK(wild.status == CellStatus::Diverged);
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

TEST_CASE("a plugin that crashes its worker process fails only its cell and the grid completes", "[runner]") {
  // With -j 2 cells run in worker processes: std::abort() in a plugin ends its worker, the
  // runner records the cell as failed with the signal and hands the other cells to a new
  // worker. Four crashing cells in a grid of ten, so workers are replaced several times.
  const Registry registry({MUONLAB_BUILD_PLUGIN_DIR, MUONLAB_TEST_PLUGIN_DIR});
  const std::string yaml =
      "name: t\nseeds: 2\nstop: {max_iters: 6, metric: loss}\nrecord: {spectra: every}\n"
      "problem: {name: matrix_factorization, params: {n: 12, rank: 2}}\n"
      "optimizer:\n"
      "  - {name: crashing, params: {crash: {values: [true, false]}, crash_at: {values: [0, 3]}}}\n"
      "  - {name: gd, params: {lr: 0.1}}\n";
  const Grid grid = parse_grid(yaml, "t.yaml", {}, registry);
  RunOptions options;
  options.output = temp_path("crashing");
  options.jobs = 2;
  const RunReport report = run_grid(grid, registry, options);
  REQUIRE(report.rows.size() == 10);
  int crashed = 0;
  for (const IndexRow& row : report.rows) {
    INFO(row.cell_id << " " << row.optimizer << " " << row.stop_reason);
    const bool crashes = row.optimizer == "crashing" && row.iterations == 0 && row.status == CellStatus::Failed;
    if (crashes) {
      ++crashed;
      CHECK_THAT(row.stop_reason, Catch::Contains("killed by signal 6"));
    } else {
      CHECK(row.status == CellStatus::MaxIters);
      CHECK(row.iterations == 6);
    }
  }
  CHECK(crashed == 4);
  CHECK(report.failed == 4);
  // The file agrees: crashed cells are failed with the reason, the others complete.
  RunInfo info;
  info.grid_yaml = grid.yaml_text;
  auto store = open_store(options.output, info, OpenMode::Resume);
  CHECK(store->completed_cells().size() == 6);
  CHECK(store->read_index().size() == 10);
}

TEST_CASE("record.spectra_of records only the chosen spectra", "[runner]") {
  const auto spectra_in_file = [](const std::string& spectra_of) {
    const std::string yaml = "name: t\nstop: {max_iters: 4}\nrecord: {spectra: every, spectra_of: " + spectra_of +
                             "}\n"
                             "problem: {name: matrix_factorization, params: {n: 12, rank: 2, symmetric: false}}\n"
                             "optimizer: {name: gd, params: {lr: 0.1}}\n";
    const Grid grid = parse_grid(yaml, "t.yaml", {}, testing::registry());
    const RunReport report = run(grid, "spectra_of");
    REQUIRE(report.rows.size() == 1);
    const std::string cell = "/cells/" + report.rows[0].cell_id + "/spectra";
    const hid_t file = H5Fopen(temp_file("spectra_of").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(file >= 0);
    std::string present;
    for (const char* name : {"X", "X_grad", "X_update", "Y", "Y_grad", "Y_update"}) {
      const std::string path = cell + "/" + name;
      if (H5Lexists(file, cell.c_str(), H5P_DEFAULT) > 0 && H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0)
        present += std::string(present.empty() ? "" : " ") + name;
    }
    H5Fclose(file);
    return present;
  };
  CHECK(spectra_in_file("[iterate, grad, update]") == "X X_grad X_update Y Y_grad Y_update");
  CHECK(spectra_in_file("[iterate]") == "X Y");
  CHECK(spectra_in_file("[grad, update]") == "X_grad X_update Y_grad Y_update");
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
  CHECK(report.rows[0].status == CellStatus::MaxIters);
  CHECK(report.rows[1].status == CellStatus::Failed);
  CHECK_THAT(report.rows[1].stop_reason, Catch::Contains("matrix_factorization") && Catch::Contains("k"));
  CHECK(report.failed == 1);
}

TEST_CASE("orth_quality records each step's orthogonalizer accuracy against the exact polar factor", "[runner]") {
  const std::string yaml =
      "name: t\nstop: {max_iters: 20}\nrecord: {orth_quality: true, spectra: off}\n"
      "problem: {name: matrix_factorization, params: {n: 30, rank: 4, kappa: 100}}\n"
      "optimizer: {name: muon, params: {lr: 0.15, orthogonalizer: {values: [svd, ns5]}}}\n";
  const Grid grid = parse_grid(yaml, "t.yaml", {}, testing::registry());
  RunOptions options;
  options.output = temp_path("orth-quality");
  const RunReport report = run_grid(grid, testing::registry(), options);
  REQUIRE(report.rows.size() == 2);

  // Drive the same optimizers directly and read the probes, which is what the runner records.
  for (const char* name : {"svd", "ns5"}) {
    INFO(name);
    auto problem = testing::make_problem("matrix_factorization", "{n: 30, rank: 4, kappa: 100}");
    const ComponentConfig config = resolve_component(
        PluginKind::Optimizer, "muon", std::string("{lr: 0.15, orthogonalizer: ") + name + "}", testing::registry());
    auto muon = testing::registry().create_optimizer(config, 0, true);
    REQUIRE(muon->orthogonalizers().size() == 1);
    OrthogonalizerProbe* probe = muon->orthogonalizers()[0]->probe();
    REQUIRE(probe != nullptr);
    std::vector<Matrix> x = problem->allocate(), g = problem->allocate();
    problem->initialize(x);
    muon->initialize(problem->blocks());
    std::vector<double> metrics(problem->metrics().size());
    for (int t = 0; t < 5; ++t) {
      problem->evaluate(x, g, metrics.data());
      muon->step(t, x, g);  // g is not modified by the step
      const OrthQuality q = probe->take();
      REQUIRE(q.calls == 1);
      if (std::string(name) == "svd") {
        CHECK(q.rel_error < 1e-12);
        CHECK(q.residual < 1e-12);
        CHECK(q.alignment == Approx(1.0).epsilon(1e-12));
      } else {
        // Keller's quintic acts on each singular value x = s_i/(||G||_F + 1e-7) through
        // p(x) = a x + b x^3 + c x^5 applied five times (docs/algorithms.md 1.4): the probe's
        // extreme output singular values must be the scalar model's.
        const Vector sv = Eigen::JacobiSVD<Matrix>(g[0]).singularValues();
        double lo = INFINITY, hi = 0;
        for (Eigen::Index i = 0; i < sv.size(); ++i) {
          double x = sv(i) / (g[0].norm() + 1e-7);
          for (int k = 0; k < 5; ++k) x = 3.4445 * x - 4.7750 * x * x * x + 2.0315 * x * x * x * x * x;
          lo = std::min(lo, x);
          hi = std::max(hi, x);
        }
        CHECK(q.sigma_min == Approx(lo).epsilon(1e-9));
        CHECK(q.sigma_max == Approx(hi).epsilon(1e-9));
        CHECK(q.rel_error > 1e-3);
        CHECK(q.gemms == 15);
      }
    }
  }
}

TEST_CASE("resume redoes a finished cell whose index row never reached the file", "[runner]") {
  // A run killed between a cell's final status and its /index row: the row is the record
  // that the cell is complete, so --resume runs that cell again and keeps the other.
  const Grid grid = small_grid("  - {name: gd, params: {lr: {values: [0.1, 0.2]}}}\n", "{max_iters: 20}");
  RunOptions options;
  options.output = temp_path("resume-index");
  const RunReport first = run_grid(grid, testing::registry(), options);
  REQUIRE(first.rows.size() == 2);
  {
    RunInfo info;
    info.grid_yaml = grid.yaml_text;
    auto store = open_store(options.output, info, OpenMode::Resume, 2.0, index_layout(grid.cells).columns);
    REQUIRE(store->completed_cells().size() == 2);
    store->write_index({first.rows[0]});
  }
  options.mode = OpenMode::Resume;
  const RunReport resumed = run_grid(grid, testing::registry(), options);
  CHECK(resumed.skipped == 1);
  REQUIRE(resumed.rows.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(resumed.rows[i].cell_id == first.rows[i].cell_id);  // grid order restored
    CHECK(resumed.rows[i].final_loss == first.rows[i].final_loss);
  }
  RunInfo info;
  info.grid_yaml = grid.yaml_text;
  CHECK(open_store(options.output, info, OpenMode::Resume)->read_index().size() == 2);
}

TEST_CASE("theory gets each step's Optimizer::step_size(), or no step sizes when there are none", "[runner]") {
  // step_size_echo predicts the step sizes it is handed. muon's geometric schedule computes
  // eta_t = lr * decay^t; crashing (crash: false) has no step size.
  const Registry registry({MUONLAB_BUILD_PLUGIN_DIR, MUONLAB_TEST_PLUGIN_DIR});
  const std::string yaml =
      "name: t\nstop: {max_iters: 6, metric: loss}\nrecord: {spectra: off}\n"
      "problem: {name: step_size_echo}\n"
      "optimizer:\n"
      "  - {name: muon, params: {lr: 0.3, schedule: geometric, decay: 0.9}}\n"
      "  - {name: crashing, params: {crash: false}}\n";
  const Grid grid = parse_grid(yaml, "t.yaml", {}, registry);
  RunOptions options;
  options.output = temp_path("step_sizes");
  const RunReport report = run_grid(grid, registry, options);
  REQUIRE(report.rows.size() == 2);
  const hid_t file = H5Fopen(temp_file("step_sizes").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(file >= 0);
  for (const IndexRow& row : report.rows) {
    CAPTURE(row.optimizer);
    CHECK(row.status == CellStatus::MaxIters);
    CHECK(row.iterations == 6);
    const std::string theory = "/cells/" + row.cell_id + "/theory";
    if (row.optimizer == "crashing") {
      CHECK(H5Lexists(file, theory.c_str(), H5P_DEFAULT) == 0);
      continue;
    }
    const std::string path = theory + "/step_sizes";
    REQUIRE(H5Lexists(file, theory.c_str(), H5P_DEFAULT) > 0);
    REQUIRE(H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0);
    const hid_t dataset = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
    std::vector<double> values(6, -1.0);
    const hid_t space = H5Dget_space(dataset);
    CHECK(H5Sget_simple_extent_npoints(space) == 6);  // one eta_t per step taken
    H5Sclose(space);
    REQUIRE(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
    H5Dclose(dataset);
    for (int t = 0; t < 6; ++t) {
      CAPTURE(t);
      CHECK(values[static_cast<std::size_t>(t)] == 0.3 * std::pow(0.9, static_cast<double>(t)));  // bit for bit
    }
  }
  H5Fclose(file);
}

TEST_CASE("a problem declaring a zero or negative block shape fails its cell with the plugin's name", "[runner]") {
  const Registry registry({MUONLAB_BUILD_PLUGIN_DIR, MUONLAB_TEST_PLUGIN_DIR});
  for (const char* shape : {"{rows: -3, cols: 2}", "{rows: 4, cols: 0}"}) {
    INFO(shape);
    const std::string yaml = std::string("name: t\nstop: {max_iters: 3, metric: loss}\nrecord: {spectra: off}\n") +
                             "problem: {name: bad_shape, params: " + shape +
                             "}\noptimizer: {name: gd, params: {lr: 0.1}}\n";
    const Grid grid = parse_grid(yaml, "t.yaml", {}, registry);
    RunOptions options;
    options.output = temp_path("bad-shape");
    options.mode = OpenMode::Overwrite;
    CHECK_THROWS_WITH(preflight(grid, registry), Catch::Contains("bad_shape") && Catch::Contains("positive shape"));
    const RunReport report = run_grid(grid, registry, options);
    REQUIRE(report.rows.size() == 1);
    CHECK(report.rows[0].status == CellStatus::Failed);
    CHECK_THAT(report.rows[0].stop_reason, Catch::Contains("bad_shape") && Catch::Contains("positive shape"));
  }
}

TEST_CASE("a problem whose initialize() is not deterministic fails its cell instead of mispredicting", "[runner]") {
  // The core regenerates the initial iterate for predict(); restless_init writes a new
  // point on every call, which the start-of-run checksum catches.
  const Registry registry({MUONLAB_BUILD_PLUGIN_DIR, MUONLAB_TEST_PLUGIN_DIR});
  const std::string yaml =
      "name: t\nstop: {max_iters: 3, metric: loss}\nrecord: {spectra: off}\n"
      "problem: {name: restless_init}\noptimizer: {name: gd, params: {lr: 0.1}}\n";
  const Grid grid = parse_grid(yaml, "t.yaml", {}, registry);
  RunOptions options;
  options.output = temp_path("restless");
  const RunReport report = run_grid(grid, registry, options);
  REQUIRE(report.rows.size() == 1);
  CHECK(report.rows[0].status == CellStatus::Failed);
  CHECK_THAT(report.rows[0].stop_reason,
             Catch::Contains("restless_init") && Catch::Contains("different initial iterate"));
}
