// The HDF5 result store: every test writes through Store/CellWriter and reads back with the
// plain HDF5 C API (or h5py), so the file layout itself is what is checked.
#include <catch2/catch.hpp>

#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "run/messages.hpp"
#include "util/errors.hpp"
#include "store/store.hpp"

namespace {

using namespace muonlab;
namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("muonlab-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

RunInfo sample_info(const std::string& grid_yaml = "name: demo\nseeds: [1, 2]\n") {
  RunInfo info;
  info.muonlab_version = "0.1.0";
  info.created = "2025-01-02T03:04:05Z";
  info.grid_yaml = grid_yaml;
  info.grid_name = "demo";
  info.overrides = "stop.max_iters=10\n";
  info.git_commit = "abc123";
  info.host = "testhost";
  info.blas = "OpenBLAS";
  info.compiler = "g++ 12";
  return info;
}

CellHeader sample_header(const std::string& id) {
  CellHeader header;
  header.cell_id = id;
  header.config_json = R"({"problem":{"name":"mf"},"seed":1})";
  header.seed = 7;
  header.plugins = {{PluginKind::Problem, "mf", "1.0", "/lib/libmf.so", "deadbeef"},
                    {PluginKind::Optimizer, "muon", "2.1", "/lib/libmuon.so", "cafef00d"}};
  return header;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The message of the InputError `action` throws ("" if it throws none).
std::string input_error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// ---- independent reading side: the HDF5 C API, nothing from the store ----

struct Owned {
  hid_t id;
  herr_t (*closer)(hid_t);
  Owned(hid_t i, herr_t (*c)(hid_t)) : id(i), closer(c) { REQUIRE(id >= 0); }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { closer(id); }
  operator hid_t() const { return id; }
};

Owned open_file(const std::string& path) { return Owned(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose); }

bool exists(hid_t file, const std::string& path) {
  // Check component by component: H5Lexists fails on a missing intermediate group.
  std::string prefix;
  std::stringstream parts(path);
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty()) continue;
    prefix += "/" + part;
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

std::string string_attr(hid_t file, const std::string& object, const std::string& name) {
  Owned attr(H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  Owned stored(H5Aget_type(attr), H5Tclose);
  REQUIRE(H5Tis_variable_str(stored) > 0);
  CHECK(H5Tget_cset(stored) == H5T_CSET_UTF8);
  Owned type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  char* text = nullptr;
  REQUIRE(H5Aread(attr, type, &text) >= 0);
  std::string value = text;
  Owned space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, &text);
  return value;
}

std::int64_t int_attr(hid_t file, const std::string& object, const std::string& name) {
  Owned attr(H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  Owned stored(H5Aget_type(attr), H5Tclose);
  REQUIRE(H5Tget_class(stored) == H5T_INTEGER);
  std::int64_t value = 0;
  REQUIRE(H5Aread(attr, H5T_NATIVE_INT64, &value) >= 0);
  return value;
}

std::vector<hsize_t> dims_of(hid_t file, const std::string& path) {
  Owned dataset(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
  Owned space(H5Dget_space(dataset), H5Sclose);
  std::vector<hsize_t> dims(static_cast<std::size_t>(H5Sget_simple_extent_ndims(space)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

template <typename T>
std::vector<T> read_all(hid_t file, const std::string& path, hid_t memory_type) {
  Owned dataset(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
  Owned space(H5Dget_space(dataset), H5Sclose);
  std::vector<T> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
  if (!values.empty()) REQUIRE(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
  return values;
}

std::vector<double> doubles(hid_t file, const std::string& path) {
  return read_all<double>(file, path, H5T_NATIVE_DOUBLE);
}
std::vector<std::int64_t> int64s(hid_t file, const std::string& path) {
  return read_all<std::int64_t>(file, path, H5T_NATIVE_INT64);
}

bool filter_present(hid_t dcpl, H5Z_filter_t filter) {
  unsigned flags = 0;
  std::size_t parameter_count = 0;  // in: room for parameters (none wanted)
  unsigned config = 0;
  return H5Pget_filter_by_id2(dcpl, filter, &flags, &parameter_count, nullptr, 0, nullptr, &config) >= 0;
}

enum class Compression { Expected, NotExpected };

// Chunked with an unlimited first dimension, as the contract says; shuffle + deflate when
// a chunk holds 512 values or more (smaller chunks are stored raw).
void check_growable(hid_t file, const std::string& path, Compression compression) {
  INFO(path);
  Owned dataset(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
  Owned dcpl(H5Dget_create_plist(dataset), H5Pclose);
  CHECK(H5Pget_layout(dcpl) == H5D_CHUNKED);
  const bool compressed = compression == Compression::Expected;
  CHECK(filter_present(dcpl, H5Z_FILTER_DEFLATE) == compressed);
  CHECK(filter_present(dcpl, H5Z_FILTER_SHUFFLE) == compressed);
  Owned space(H5Dget_space(dataset), H5Sclose);
  hsize_t dims[2] = {0, 0};
  hsize_t max_dims[2] = {0, 0};
  H5Sget_simple_extent_dims(space, dims, max_dims);
  CHECK(max_dims[0] == H5S_UNLIMITED);
}

void check_growable_compressed(hid_t file, const std::string& path) {
  check_growable(file, path, Compression::Expected);
}

// Entries of the 2-D dataset at `path` (read row-major, as numpy does) that differ from
// `expected`; -1 when the sizes differ.
long row_major_mismatches(hid_t file, const std::string& path, const Matrix& expected) {
  const std::vector<double> stored = doubles(file, path);
  if (stored.size() != static_cast<std::size_t>(expected.size())) return -1;
  long mismatches = 0;
  for (Eigen::Index i = 0; i < expected.rows(); ++i)
    for (Eigen::Index j = 0; j < expected.cols(); ++j)
      mismatches += stored[static_cast<std::size_t>(i * expected.cols() + j)] != expected(i, j);
  return mismatches;
}

// Values recorded at row i of a test trajectory (arbitrary, non-repeating doubles).
double column_value(int column, int row) { return std::sin(0.01 * row + column) * std::pow(10.0, column); }

// A run killed abruptly (no destructors, no H5Fclose): one finished cell, one cut off
// mid-trajectory with a block written and more rows still buffered.
[[noreturn]] void run_until_killed(const std::string& path, int rows) {
  auto store = open_store(path, sample_info(), OpenMode::Create, /*flush_seconds=*/1e9);
  auto done = store->begin_cell(sample_header("done"));
  done->declare_trajectory({{"loss", "1", "loss"}});
  for (int row = 0; row < rows; ++row) {
    const double loss = column_value(0, row);
    done->append_trajectory(row, 0.0, &loss);
  }
  done->finish(CellStatus::Converged, "tol", "");
  store->write_index({{"done", "mf", "muon", "svd", 1, CellStatus::Converged, "tol", rows, 0.1, 0.2, 7, 1.0, {}}});
  auto cut = store->begin_cell(sample_header("cut"));
  cut->declare_trajectory({{"loss", "1", "loss"}});
  for (int row = 0; row < 1500; ++row) {
    const double loss = 1.0;
    cut->append_trajectory(row, 0.0, &loss);
  }
  std::_Exit(0);
}

}  // namespace

TEST_CASE("store writes the root attributes and an empty layout", "[store]") {
  TempDir dir;
  const std::string path = dir.file("sub/dir/run.h5");  // parent directories are created
  const RunInfo info = sample_info();
  open_store(path, info, OpenMode::Create).reset();

  Owned file = open_file(path);
  CHECK(string_attr(file, "/", "format") == "muonlab");
  CHECK(int_attr(file, "/", "format_version") == 1);
  CHECK(string_attr(file, "/", "muonlab_version") == info.muonlab_version);
  CHECK(string_attr(file, "/", "created") == info.created);
  CHECK(string_attr(file, "/", "grid_yaml") == info.grid_yaml);
  CHECK(string_attr(file, "/", "grid_name") == info.grid_name);
  CHECK(string_attr(file, "/", "overrides") == info.overrides);
  CHECK(string_attr(file, "/", "git_commit") == info.git_commit);
  CHECK(string_attr(file, "/", "host") == info.host);
  CHECK(string_attr(file, "/", "blas") == info.blas);
  CHECK(string_attr(file, "/", "compiler") == info.compiler);
  CHECK(exists(file, "/cells"));
  CHECK(dims_of(file, "/index") == std::vector<hsize_t>{0});
}

TEST_CASE("store index round-trips through the compound table", "[store]") {
  TempDir dir;
  const std::string path = dir.file("index.h5");
  std::vector<IndexRow> rows(3);
  rows[0] = {"c0", "mf", "muon", "newton_schulz", 1, CellStatus::Converged, "tol", 120, 1e-12, 3e-7, 95, 1.5, {}};
  rows[1] = {"c1", "mf", "gd", "", 2, CellStatus::MaxIters, "max_iters", 1000, 0.25, 0.5, -1, 2.25, {}};
  rows[2] = {"c2", "icl", "adam", "", 3, CellStatus::Failed, "exception", 0, std::nan(""), -0.0, -1, 0.0, {}};
  {
    auto store = open_store(path, sample_info(), OpenMode::Create);
    store->write_index({rows[0]});  // rewritten whole below: the final table has 3 rows
    store->write_index(rows);
    const std::vector<IndexRow> back = store->read_index();
    REQUIRE(back.size() == 3);
    CHECK(back[1].orthogonalizer.empty());
    CHECK(back[2].iters_to_tol == -1);
    CHECK(std::isnan(back[2].final_loss));
  }

  Owned file = open_file(path);
  Owned dataset(H5Dopen2(file, "/index", H5P_DEFAULT), H5Dclose);
  Owned stored(H5Dget_type(dataset), H5Tclose);
  const std::vector<std::string> fields = {"cell_id",    "problem",      "optimizer",    "orthogonalizer",
                                           "seed",       "status",       "stop_reason",  "iterations",
                                           "final_loss", "final_metric", "iters_to_tol", "wall_seconds"};
  REQUIRE(H5Tget_nmembers(stored) == static_cast<int>(fields.size()));
  for (unsigned i = 0; i < fields.size(); ++i) {
    char* name = H5Tget_member_name(stored, i);
    CHECK(std::string(name) == fields[i]);
    H5free_memory(name);
  }

  // Read a few fields by name into a struct of our own layout (HDF5 matches by name).
  struct Probe {
    double final_loss;
    char* cell_id;
    std::int64_t iters_to_tol;
    char* orthogonalizer;
    std::int64_t seed;
  };
  Owned text(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(text, H5T_VARIABLE);
  H5Tset_cset(text, H5T_CSET_UTF8);
  Owned probe_type(H5Tcreate(H5T_COMPOUND, sizeof(Probe)), H5Tclose);
  H5Tinsert(probe_type, "final_loss", HOFFSET(Probe, final_loss), H5T_NATIVE_DOUBLE);
  H5Tinsert(probe_type, "cell_id", HOFFSET(Probe, cell_id), text);
  H5Tinsert(probe_type, "iters_to_tol", HOFFSET(Probe, iters_to_tol), H5T_NATIVE_INT64);
  H5Tinsert(probe_type, "orthogonalizer", HOFFSET(Probe, orthogonalizer), text);
  H5Tinsert(probe_type, "seed", HOFFSET(Probe, seed), H5T_NATIVE_INT64);
  Owned space(H5Dget_space(dataset), H5Sclose);
  REQUIRE(H5Sget_simple_extent_npoints(space) == 3);
  Probe probe[3] = {};
  REQUIRE(H5Dread(dataset, probe_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, probe) >= 0);
  for (int i = 0; i < 3; ++i) {
    CHECK(std::string(probe[i].cell_id) == rows[i].cell_id);
    CHECK(std::string(probe[i].orthogonalizer) == rows[i].orthogonalizer);
    CHECK(probe[i].iters_to_tol == rows[i].iters_to_tol);
    CHECK(probe[i].seed == rows[i].seed);
  }
  CHECK(probe[0].final_loss == 1e-12);
  CHECK(probe[1].final_loss == 0.25);
  CHECK(std::isnan(probe[2].final_loss));
  H5Dvlen_reclaim(probe_type, space, H5P_DEFAULT, probe);
}

TEST_CASE("store trajectory: equal-length, exact, unit-annotated, chunked and compressed", "[store]") {
  TempDir dir;
  const std::string path = dir.file("trajectory.h5");
  const std::vector<ColumnSpec> columns = {
      {"loss", "1", "training loss"}, {"rel_error", "1", "relative error"}, {"grad_norm", "1", "gradient norm"}};
  constexpr int kRows = 3000;  // two full 1024-row blocks plus a partial one
  auto store = open_store(path, sample_info(), OpenMode::Create, /*flush_seconds=*/1e9);
  auto writer = store->begin_cell(sample_header("cell"));
  writer->declare_trajectory(columns);
  auto append = [&](int row) {
    const double values[3] = {column_value(0, row), column_value(1, row), column_value(2, row)};
    writer->append_trajectory(3 * row, 0.001 * row, values);
  };
  for (int row = 0; row < 1500; ++row) append(row);
  {
    // One block reached the file, and every dataset got it (the timer never fires here).
    Owned file = open_file(path);
    for (const char* name : {"step", "time_s", "loss", "rel_error", "grad_norm"})
      CHECK(dims_of(file, std::string("/cells/cell/trajectory/") + name) == std::vector<hsize_t>{1024});
  }
  for (int row = 1500; row < kRows; ++row) append(row);
  writer->finish(CellStatus::MaxIters, "max_iters", "");
  writer.reset();
  store.reset();

  Owned file = open_file(path);
  const std::string group = "/cells/cell/trajectory/";
  const auto steps = int64s(file, group + "step");
  const auto times = doubles(file, group + "time_s");
  REQUIRE(steps.size() == kRows);
  REQUIRE(times.size() == kRows);
  for (int row = 0; row < kRows; ++row) {
    CHECK(steps[row] == 3 * row);
    CHECK(times[row] == 0.001 * row);  // stored bit-exact: same IEEE format, no conversion
  }
  for (int c = 0; c < 3; ++c) {
    const auto values = doubles(file, group + columns[c].name);
    REQUIRE(values.size() == kRows);
    int mismatches = 0;
    for (int row = 0; row < kRows; ++row) mismatches += values[row] != column_value(c, row);
    CHECK(mismatches == 0);
    CHECK(string_attr(file, group + columns[c].name, "unit") == columns[c].unit);
    CHECK(string_attr(file, group + columns[c].name, "doc") == columns[c].doc);
    check_growable_compressed(file, group + columns[c].name);
  }
  CHECK(string_attr(file, group + "time_s", "unit") == "s");
  CHECK(!string_attr(file, group + "step", "doc").empty());
  check_growable_compressed(file, group + "step");
  check_growable_compressed(file, group + "time_s");
}

TEST_CASE("store datasets of a short cell are chunked to their length, still growable", "[store]") {
  // A cell written whole at finish gets chunks as long as its data instead of a mostly
  // empty 1024-row block; a cell that streamed keeps block-sized chunks. Chunks this
  // short (31 rows, 124 values) are stored without compression.
  TempDir dir;
  const std::string path = dir.file("short.h5");
  auto store = open_store(path, sample_info(), OpenMode::Create, /*flush_seconds=*/1e9);
  auto writer = store->begin_cell(sample_header("short"));
  writer->declare_trajectory({{"loss", "1", "training loss"}});
  for (int row = 0; row < 31; ++row) {
    const double loss = column_value(0, row);
    writer->append_trajectory(row, 0.0, &loss);
    writer->append_series("spectra", "X", row, Vector::Constant(4, row), "1", "singular values");
  }
  writer->finish(CellStatus::MaxIters, "max_iters", "");
  writer.reset();
  store.reset();

  Owned file = open_file(path);
  for (const char* dataset : {"trajectory/loss", "trajectory/step", "spectra/X/values", "spectra/X/step"}) {
    const std::string full = std::string("/cells/short/") + dataset;
    INFO(full);
    check_growable(file, full, Compression::NotExpected);
    Owned handle(H5Dopen2(file, full.c_str(), H5P_DEFAULT), H5Dclose);
    Owned dcpl(H5Dget_create_plist(handle), H5Pclose);
    hsize_t chunk[2] = {0, 0};
    REQUIRE(H5Pget_chunk(dcpl, 2, chunk) >= 1);
    CHECK(chunk[0] == 31);
    CHECK(dims_of(file, full)[0] == 31);
  }
  const auto loss = doubles(file, "/cells/short/trajectory/loss");
  REQUIRE(loss.size() == 31);
  CHECK(loss[30] == column_value(0, 30));
}

TEST_CASE("store trajectory rows reach the file on the flush timer", "[store]") {
  TempDir dir;
  const std::string path = dir.file("timer.h5");
  // flush_seconds = 0: every appended row is due immediately.
  auto store = open_store(path, sample_info(), OpenMode::Create, /*flush_seconds=*/0.0);
  auto writer = store->begin_cell(sample_header("cell"));
  writer->declare_trajectory({{"loss", "1", "loss"}});
  for (int row = 0; row < 5; ++row) {
    const double loss = 1.0 / (row + 1);
    writer->append_trajectory(row, 0.0, &loss);
  }
  Owned file = open_file(path);
  CHECK(dims_of(file, "/cells/cell/trajectory/step") == std::vector<hsize_t>{5});
  CHECK(doubles(file, "/cells/cell/trajectory/loss") == std::vector<double>{1.0, 0.5, 1.0 / 3, 0.25, 0.2});
  CHECK(string_attr(file, "/cells/cell", "status") == "running");
}

TEST_CASE("store series: fixed width, NaN padding, longer rows rejected, many blocks", "[store]") {
  TempDir dir;
  const std::string path = dir.file("series.h5");
  auto store = open_store(path, sample_info(), OpenMode::Create, 1e9);
  auto writer = store->begin_cell(sample_header("cell"));
  writer->append_series("spectra", "X", 0, Vector::LinSpaced(3, 1.0, 3.0), "1", "singular values of X");
  Vector shorter(2);
  shorter << 4.0, 5.0;
  writer->append_series("spectra", "X", 10, shorter, "1", "singular values of X");
  writer->append_series("spectra", "X", 20, Vector::LinSpaced(3, 6.0, 8.0), "1", "singular values of X");
  CHECK_THROWS_AS(writer->append_series("spectra", "X", 30, Vector::Ones(4), "1", ""), std::invalid_argument);
  constexpr int kRows = 2500;  // crosses several buffer blocks
  for (int row = 0; row < kRows; ++row) {
    Vector pair(2);
    pair << row, -0.5 * row;
    writer->append_series("observables", "m", row, pair, "1", "two observables");
  }
  writer->finish(CellStatus::Converged, "tol", "");
  writer.reset();
  store.reset();

  Owned file = open_file(path);
  CHECK(dims_of(file, "/cells/cell/spectra/X/values") == std::vector<hsize_t>{3, 3});
  const auto x = doubles(file, "/cells/cell/spectra/X/values");
  const std::vector<double> expected = {1, 2, 3, 4, 5, 0 /*NaN*/, 6, 7, 8};
  for (int i = 0; i < 9; ++i) {
    if (i == 5) {
      CHECK(std::isnan(x[i]));
    } else {
      CHECK(x[i] == expected[i]);
    }
  }
  CHECK(int64s(file, "/cells/cell/spectra/X/step") == std::vector<std::int64_t>{0, 10, 20});
  CHECK(string_attr(file, "/cells/cell/spectra/X/values", "unit") == "1");
  CHECK(string_attr(file, "/cells/cell/spectra/X/values", "doc") == "singular values of X");
  check_growable(file, "/cells/cell/spectra/X/values", Compression::NotExpected);  // 3 x 3, written once

  CHECK(dims_of(file, "/cells/cell/observables/m/values") == std::vector<hsize_t>{kRows, 2});
  check_growable_compressed(file, "/cells/cell/observables/m/values");  // streamed in 1024 x 2 chunks
  const auto m = doubles(file, "/cells/cell/observables/m/values");
  const auto m_steps = int64s(file, "/cells/cell/observables/m/step");
  REQUIRE(m_steps.size() == kRows);
  int mismatches = 0;
  for (int row = 0; row < kRows; ++row)
    mismatches += m[2 * row] != row || m[2 * row + 1] != -0.5 * row || m_steps[row] != row;
  CHECK(mismatches == 0);
}

TEST_CASE("store write_array is row-major, vectors are 1-D, large arrays are compressed", "[store]") {
  TempDir dir;
  const std::string path = dir.file("arrays.h5");
  Matrix small(3, 2);
  small << 1, 2, 3, 4, 5, 6;
  Matrix large(100, 70);  // 7000 elements: above the compression threshold
  for (int i = 0; i < large.rows(); ++i)
    for (int j = 0; j < large.cols(); ++j) large(i, j) = i * 1000.0 + j;
  // 2000 x 70: written in row blocks of 936 rows (65536 values), the last one partial;
  // passed as a block of a wider matrix, so its columns are not adjacent in memory.
  Matrix wider(2000, 75);
  for (int i = 0; i < wider.rows(); ++i)
    for (int j = 0; j < wider.cols(); ++j) wider(i, j) = std::sin(i + 0.01 * j);
  Matrix column(4, 1);
  column << 9, 8, 7, 6;
  {
    auto store = open_store(path, sample_info(), OpenMode::Create);
    auto writer = store->begin_cell(sample_header("cell"));
    writer->write_array("final/X", small, "1", "final iterate");
    writer->write_array("final/Big", large, "1", "a large matrix");
    writer->write_array("final/Tall", wider.leftCols(70), "1", "several row blocks");
    writer->write_array("final/Again", large, "1", "first version");
    writer->write_array("final/Again", small, "1", "written twice: the second replaces the first");
    writer->write_array("problem/sigma", column, "1", "target singular values");
    writer->write_array("problem/row", column.transpose(), "1", "the same as a row");
    writer->write_array("problem/empty", Matrix(0, 3), "1", "no rows");
    writer->write_steps("theory/step", {0, 1, 2, 4, 8});
    writer->finish(CellStatus::Converged, "tol", "");
  }

  Owned file = open_file(path);
  CHECK(dims_of(file, "/cells/cell/final/X") == std::vector<hsize_t>{3, 2});
  CHECK(doubles(file, "/cells/cell/final/X") == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(string_attr(file, "/cells/cell/final/X", "doc") == "final iterate");
  CHECK(string_attr(file, "/cells/cell/final/X", "unit") == "1");

  CHECK(dims_of(file, "/cells/cell/final/Big") == std::vector<hsize_t>{100, 70});
  CHECK(row_major_mismatches(file, "/cells/cell/final/Big", large) == 0);
  CHECK(dims_of(file, "/cells/cell/final/Again") == std::vector<hsize_t>{3, 2});
  CHECK(doubles(file, "/cells/cell/final/Again") == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(string_attr(file, "/cells/cell/final/Again", "doc") == "written twice: the second replaces the first");
  CHECK(dims_of(file, "/cells/cell/final/Tall") == std::vector<hsize_t>{2000, 70});
  CHECK(row_major_mismatches(file, "/cells/cell/final/Tall", wider.leftCols(70)) == 0);
  {
    Owned dataset(H5Dopen2(file, "/cells/cell/final/Big", H5P_DEFAULT), H5Dclose);
    Owned dcpl(H5Dget_create_plist(dataset), H5Pclose);
    CHECK(H5Pget_layout(dcpl) == H5D_CHUNKED);
    CHECK(filter_present(dcpl, H5Z_FILTER_DEFLATE));
    CHECK(filter_present(dcpl, H5Z_FILTER_SHUFFLE));
  }

  CHECK(dims_of(file, "/cells/cell/problem/sigma") == std::vector<hsize_t>{4});
  CHECK(doubles(file, "/cells/cell/problem/sigma") == std::vector<double>{9, 8, 7, 6});
  CHECK(dims_of(file, "/cells/cell/problem/row") == std::vector<hsize_t>{4});
  CHECK(dims_of(file, "/cells/cell/problem/empty") == std::vector<hsize_t>{0, 3});
  CHECK(int64s(file, "/cells/cell/theory/step") == std::vector<std::int64_t>{0, 1, 2, 4, 8});
}

TEST_CASE("store cell status is running until finish writes the final one", "[store]") {
  TempDir dir;
  const std::string path = dir.file("status.h5");
  auto store = open_store(path, sample_info(), OpenMode::Create);
  auto writer = store->begin_cell(sample_header("cell"));
  {
    Owned file = open_file(path);
    CHECK(string_attr(file, "/cells/cell", "status") == "running");
    CHECK(string_attr(file, "/cells/cell", "config") == sample_header("cell").config_json);
    CHECK(int_attr(file, "/cells/cell", "seed") == 7);
    CHECK(string_attr(file, "/cells/cell", "problem_name") == "mf");
    CHECK(string_attr(file, "/cells/cell", "problem_version") == "1.0");
    CHECK(string_attr(file, "/cells/cell", "optimizer_library") == "/lib/libmuon.so");
    CHECK(string_attr(file, "/cells/cell", "optimizer_sha256") == "cafef00d");
  }
  CHECK(store->completed_cells().empty());
  CHECK_THROWS_AS(writer->finish(CellStatus::Running, "", ""), std::invalid_argument);  // not a final status
  writer->finish(CellStatus::Diverged, "loss_nonfinite", "loss became NaN at step 12");
  {
    Owned file = open_file(path);
    CHECK(string_attr(file, "/cells/cell", "status") == "diverged");
    CHECK(string_attr(file, "/cells/cell", "stop_reason") == "loss_nonfinite");
    CHECK(string_attr(file, "/cells/cell", "error") == "loss became NaN at step 12");
  }
  CHECK(store->completed_cells() == std::set<std::string>{"cell"});
  CHECK_THROWS_AS(writer->finish(CellStatus::Converged, "", ""), std::logic_error);
}

TEST_CASE("store Create and Overwrite modes", "[store]") {
  TempDir dir;
  const std::string path = dir.file("existing.h5");
  {
    auto store = open_store(path, sample_info(), OpenMode::Create);
    store->begin_cell(sample_header("old"))->finish(CellStatus::Converged, "tol", "");
  }
  const std::string before = file_bytes(path);

  const std::string message = input_error_message([&] { open_store(path, sample_info(), OpenMode::Create); });
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("use --resume to complete it, --overwrite to replace it, or -o to write elsewhere") !=
        std::string::npos);
  CHECK(file_bytes(path) == before);

  open_store(path, sample_info("name: other\n"), OpenMode::Overwrite).reset();
  Owned file = open_file(path);
  CHECK(string_attr(file, "/", "grid_yaml") == "name: other\n");
  CHECK(!exists(file, "/cells/old"));
}

TEST_CASE("store resumes a file whose grid text differs only in comment lines", "[store]") {
  // Cells are what a grid's values say; its comments (full lines starting with '#') may be
  // edited without orphaning its results. The stored text stays the original.
  TempDir dir;
  const std::string path = dir.file("run.h5");
  open_store(path, sample_info("# first words\nname: demo\nseeds: [1, 2]\n"), OpenMode::Create).reset();
  CHECK_NOTHROW(open_store(path, sample_info("name: demo\n  # later words\nseeds: [1, 2]\n"), OpenMode::Resume));
  Owned file = open_file(path);
  CHECK(string_attr(file, "/", "grid_yaml") == "# first words\nname: demo\nseeds: [1, 2]\n");
}

TEST_CASE("store refuses files it cannot resume and leaves them untouched", "[store]") {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  open_store(path, sample_info(), OpenMode::Create).reset();
  const std::string before = file_bytes(path);

  const std::string other_grid =
      input_error_message([&] { open_store(path, sample_info("name: changed\n"), OpenMode::Resume); });
  CHECK(other_grid.find(path) != std::string::npos);
  CHECK(other_grid.find("grid") != std::string::npos);
  CHECK(file_bytes(path) == before);
  // A value changed next to an edited comment is still another grid.
  CHECK_THROWS_AS(open_store(path, sample_info("# a note\nname: demo\nseeds: [1, 3]\n"), OpenMode::Resume), InputError);
  CHECK(file_bytes(path) == before);

  // An HDF5 file that is not a muonlab result.
  const std::string foreign = dir.file("foreign.h5");
  { Owned file(H5Fcreate(foreign.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose); }
  const std::string foreign_before = file_bytes(foreign);
  const std::string not_muonlab = input_error_message([&] { open_store(foreign, sample_info(), OpenMode::Resume); });
  CHECK(not_muonlab.find(foreign) != std::string::npos);
  CHECK(not_muonlab.find("not a muonlab result") != std::string::npos);
  CHECK(file_bytes(foreign) == foreign_before);

  // Not HDF5 at all (or damaged beyond recognition).
  const std::string text = dir.file("notes.h5");
  std::ofstream(text) << "just some text\n";
  const std::string not_hdf5 = input_error_message([&] { open_store(text, sample_info(), OpenMode::Resume); });
  CHECK(not_hdf5.find(text) != std::string::npos);
  CHECK(not_hdf5.find("damaged") != std::string::npos);
  CHECK(file_bytes(text) == "just some text\n");

  // A directory that cannot be created: a regular file stands where it should be.
  std::ofstream(dir.file("blocker")) << "x";
  const std::string unwritable = dir.file("blocker/out.h5");
  const std::string no_dir = input_error_message([&] { open_store(unwritable, sample_info(), OpenMode::Create); });
  CHECK(no_dir.find(unwritable) != std::string::npos);
}

TEST_CASE("store Resume keeps finished cells and redoes unfinished ones", "[store]") {
  TempDir dir;
  const std::string path = dir.file("resume.h5");
  const std::vector<IndexRow> rows = {
      {"done", "mf", "muon", "svd", 1, CellStatus::Converged, "tol", 3, 0.1, 0.2, 2, 0.5, {}},
      {"cut", "mf", "gd", "", 1, CellStatus::Running, "", 0, 0.0, 0.0, -1, 0.0, {}},
      {"bad", "mf", "adam", "", 1, CellStatus::Failed, "exception", 0, 0.0, 0.0, -1, 0.0, {}}};
  {
    auto store = open_store(path, sample_info(), OpenMode::Create, 1e9);
    auto done = store->begin_cell(sample_header("done"));
    done->declare_trajectory({{"loss", "1", "loss"}});
    for (int row = 0; row < 3; ++row) {
      const double loss = 1.0 - 0.25 * row;
      done->append_trajectory(row, 0.0, &loss);
    }
    done->finish(CellStatus::Converged, "tol", "");
    auto cut = store->begin_cell(sample_header("cut"));
    cut->declare_trajectory({{"loss", "1", "loss"}});
    for (int row = 0; row < 10; ++row) {
      const double loss = 2.0;
      cut->append_trajectory(row, 0.0, &loss);
    }
    cut.reset();  // dropped without finish(): buffered rows are saved, status stays "running"
    store->begin_cell(sample_header("bad"))->finish(CellStatus::Failed, "exception", "boom");
    store->write_index(rows);
  }
  {
    Owned file = open_file(path);
    CHECK(string_attr(file, "/cells/cut", "status") == "running");
    CHECK(dims_of(file, "/cells/cut/trajectory/loss") == std::vector<hsize_t>{10});
  }

  auto store = open_store(path, sample_info(), OpenMode::Resume);
  CHECK(store->completed_cells() == std::set<std::string>{"done"});
  const auto index = store->read_index();
  REQUIRE(index.size() == 3);
  CHECK(index[0].cell_id == "done");
  CHECK(index[0].iters_to_tol == 2);
  CHECK(index[2].stop_reason == "exception");

  auto redo = store->begin_cell(sample_header("cut"));
  redo->finish(CellStatus::MaxIters, "max_iters", "");
  redo.reset();
  CHECK(store->completed_cells() == std::set<std::string>{"done", "cut"});
  store.reset();

  Owned file = open_file(path);
  CHECK(!exists(file, "/cells/cut/trajectory"));  // the old partial cell was replaced
  CHECK(doubles(file, "/cells/done/trajectory/loss") == std::vector<double>{1.0, 0.75, 0.5});
  CHECK(string_attr(file, "/cells/bad", "error") == "boom");

  // Resume of a missing file starts a new one.
  const std::string fresh = dir.file("fresh.h5");
  open_store(fresh, sample_info(), OpenMode::Resume).reset();
  Owned fresh_file = open_file(fresh);
  CHECK(string_attr(fresh_file, "/", "format") == "muonlab");
}

TEST_CASE("store file of a killed run opens with its finished cells intact", "[store]") {
  TempDir dir;
  const std::string path = dir.file("killed.h5");
  constexpr int kRows = 2000;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Exceptions must not escape into Catch2 in the child, which would run other tests.
    try {
      run_until_killed(path, kRows);
    } catch (...) {
      std::_Exit(1);
    }
  }
  int wait_status = 0;
  REQUIRE(::waitpid(child, &wait_status, 0) == child);
  REQUIRE(WIFEXITED(wait_status));
  REQUIRE(WEXITSTATUS(wait_status) == 0);

  {
    Owned file = open_file(path);
    CHECK(string_attr(file, "/cells/done", "status") == "converged");
    const auto loss = doubles(file, "/cells/done/trajectory/loss");
    REQUIRE(loss.size() == kRows);
    int mismatches = 0;
    for (int row = 0; row < kRows; ++row) mismatches += loss[row] != column_value(0, row);
    CHECK(mismatches == 0);
    CHECK(dims_of(file, "/index") == std::vector<hsize_t>{1});
    CHECK(string_attr(file, "/cells/cut", "status") == "running");
  }
  auto store = open_store(path, sample_info(), OpenMode::Resume);
  CHECK(store->completed_cells() == std::set<std::string>{"done"});
  CHECK(store->read_index().at(0).iters_to_tol == 7);
}

TEST_CASE("store cells written from two threads at once are both intact", "[store]") {
  TempDir dir;
  const std::string path = dir.file("threads.h5");
  constexpr int kRows = 2000;
  // flush_seconds = 0 writes on every row, so the two threads' HDF5 calls interleave.
  auto store = open_store(path, sample_info(), OpenMode::Create, /*flush_seconds=*/0.0);
  auto run_cell = [&](const std::string& id, double scale) {
    auto writer = store->begin_cell(sample_header(id));
    writer->declare_trajectory({{"loss", "1", "loss"}, {"metric", "1", "metric"}});
    for (int row = 0; row < kRows; ++row) {
      const double values[2] = {scale * row, -scale * row};
      writer->append_trajectory(row, 0.0, values);
      if (row % 100 == 0) writer->append_series("spectra", "X", row, Vector::Constant(3, scale * row), "1", "s");
    }
    writer->write_array("final/X", Matrix::Constant(2, 2, scale), "1", "final");
    writer->finish(CellStatus::Converged, "tol", "");
  };
  std::thread first(run_cell, "a", 1.0);
  std::thread second(run_cell, "b", 2.0);
  first.join();
  second.join();
  CHECK(store->completed_cells() == std::set<std::string>{"a", "b"});
  store.reset();

  Owned file = open_file(path);
  for (const auto& [id, scale] : {std::pair<std::string, double>{"a", 1.0}, {"b", 2.0}}) {
    INFO(id);
    const std::string cell = "/cells/" + id;
    const auto loss = doubles(file, cell + "/trajectory/loss");
    const auto metric = doubles(file, cell + "/trajectory/metric");
    const auto steps = int64s(file, cell + "/trajectory/step");
    REQUIRE(loss.size() == kRows);
    REQUIRE(metric.size() == kRows);
    REQUIRE(steps.size() == kRows);
    int mismatches = 0;
    for (int row = 0; row < kRows; ++row)
      mismatches += loss[row] != scale * row || metric[row] != -scale * row || steps[row] != row;
    CHECK(mismatches == 0);
    CHECK(dims_of(file, cell + "/spectra/X/values") == std::vector<hsize_t>{kRows / 100, 3});
    CHECK(doubles(file, cell + "/final/X") == std::vector<double>(4, scale));
  }
}

TEST_CASE("store index is readable by h5py and pandas", "[store]") {
  // The interpreter on PATH may lack h5py while the system one has it: try both.
  std::string python;
  for (const char* candidate : {"python3", "/usr/bin/python3"}) {
    const std::string probe = std::string(candidate) + " -c 'import h5py' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) {
      python = candidate;
      break;
    }
  }
  if (python.empty()) {
    WARN("no python3 with h5py: skipping the h5py check");
    return;
  }
  TempDir dir;
  const std::string path = dir.file("pandas.h5");
  {
    auto store = open_store(path, sample_info(), OpenMode::Create);
    store->write_index({{"c0", "mf", "muon", "svd", 4, CellStatus::Converged, "tol", 12, 0.5, 0.25, 9, 1.0, {}},
                        {"c1", "mf", "gd", "", 5, CellStatus::MaxIters, "max_iters", 100, 2.0, 1.0, -1, 3.0, {}}});
  }
  const std::string script = dir.file("read_index.py");
  std::ofstream(script) << "import sys, h5py\n"
                           "f = h5py.File(sys.argv[1], 'r')\n"
                           "rows = f['index'][:]\n"
                           "text = lambda v: v.decode() if isinstance(v, bytes) else v\n"
                           "print('fields', ','.join(rows.dtype.names))\n"
                           "for r in rows:\n"
                           "    print('row', text(r['cell_id']), text(r['orthogonalizer']) or '-', int(r['seed']),\n"
                           "          int(r['iters_to_tol']), repr(float(r['final_loss'])))\n"
                           "try:\n"
                           "    import pandas\n"
                           "    frame = pandas.DataFrame(rows)\n"
                           "    print('pandas', frame.shape[0], frame.shape[1], list(frame['iterations']))\n"
                           "except ImportError:\n"
                           "    print('pandas unavailable')\n";
  const std::string command = python + " " + script + " " + path + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  CHECK(::pclose(pipe) == 0);
  const std::string h5py_lines =
      "fields cell_id,problem,optimizer,orthogonalizer,seed,status,stop_reason,iterations,"
      "final_loss,final_metric,iters_to_tol,wall_seconds\n"
      "row c0 svd 4 9 0.5\n"
      "row c1 - 5 -1 2.0\n";
  if (output == h5py_lines + "pandas unavailable\n") {
    WARN("pandas is not installed: only h5py was checked");
  } else {
    CHECK(output == h5py_lines + "pandas 2 12 [12, 100]\n");
  }
}

// ---- the worker-process path: a cell's calls as messages, replayed into the file ----

namespace {

// One cell exercising every CellWriter call; returns its index row.
IndexRow write_sample_cell(Store& store, const std::string& id, const std::string& column = "loss") {
  auto writer = store.begin_cell(sample_header(id));
  Matrix init(3, 2);
  init << 1, -2, 3.5, 4, -5, 6e-300;
  writer->write_array("init/X", init, "1", "initial iterate");
  writer->declare_trajectory({{column, "1", "training loss"}});
  for (int row = 0; row < 40; ++row) {
    const double loss = column_value(0, row);
    writer->append_trajectory(row, 0.001 * row, &loss);
    writer->append_series("spectra", "X", row, Vector::LinSpaced(3, row, row + 2.5), "1", "singular values");
  }
  writer->write_steps("theory/step", {0, 5, 10});
  writer->finish(CellStatus::Converged, "tol", "");
  return {id, "mf", "muon", "svd", 7, CellStatus::Converged, "tol", 40, 0.25, 1e-7, 33, 0.5, {}};
}

// The bytes a worker would send for write_sample_cell(...) and its Done message.
std::string sample_cell_messages(const std::string& id, const std::string& column = "loss") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  {
    MessageSink sink(fds[1], /*flush_seconds=*/1e9);
    MessageStore store(sink);
    store.send_done(write_sample_cell(store, id, column));
    sink.flush();
  }
  ::close(fds[1]);
  std::string bytes;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) bytes.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  return bytes;
}

// Replays `bytes` into `store`, fed 7 bytes at a time so messages arrive in pieces.
std::optional<IndexRow> replay(Store& store, const std::string& bytes) {
  MessageParser parser;
  CellReplay cell(store);
  std::optional<IndexRow> done;
  Message message;
  for (std::size_t at = 0; at < bytes.size(); at += 7) {
    parser.feed(bytes.data() + at, std::min<std::size_t>(7, bytes.size() - at));
    while (parser.next(message))
      if (auto row = cell.apply(message)) done = row;
  }
  CHECK(parser.empty());
  return done;
}

}  // namespace

TEST_CASE("store cell replayed from a worker's messages equals the cell written directly", "[store]") {
  TempDir dir;
  const std::string path = dir.file("replayed.h5");
  const std::string bytes = sample_cell_messages("replayed");  // a 40-row cell fits one pipe buffer
  REQUIRE(bytes.size() < 65536);
  {
    auto store = open_store(path, sample_info(), OpenMode::Create);
    write_sample_cell(*store, "direct");
    const std::optional<IndexRow> row = replay(*store, bytes);
    REQUIRE(row.has_value());
    CHECK(row->cell_id == "replayed");
    CHECK(row->status == CellStatus::Converged);
    CHECK(row->iters_to_tol == 33);
    CHECK(row->final_metric == 1e-7);
  }
  Owned file = open_file(path);
  for (const char* dataset : {"trajectory/loss", "trajectory/time_s", "spectra/X/values", "init/X"}) {
    INFO(dataset);
    CHECK(doubles(file, std::string("/cells/replayed/") + dataset) ==
          doubles(file, std::string("/cells/direct/") + dataset));
  }
  for (const char* dataset : {"trajectory/step", "spectra/X/step", "theory/step"}) {
    INFO(dataset);
    CHECK(int64s(file, std::string("/cells/replayed/") + dataset) ==
          int64s(file, std::string("/cells/direct/") + dataset));
  }
  CHECK(dims_of(file, "/cells/replayed/init/X") == std::vector<hsize_t>{3, 2});
  CHECK(doubles(file, "/cells/replayed/init/X")[5] == 6e-300);  // row-major, bit-exact
  CHECK(string_attr(file, "/cells/replayed", "status") == "converged");
  CHECK(string_attr(file, "/cells/replayed", "optimizer_sha256") == "cafef00d");
  CHECK(string_attr(file, "/cells/replayed/spectra/X/values", "doc") == "singular values");
}

TEST_CASE("store replay fails a cell whose writing fails, with the reason, and keeps the file usable", "[store]") {
  TempDir dir;
  const std::string path = dir.file("bad.h5");
  const std::string bytes = sample_cell_messages("bad", "a/b");  // not a dataset name
  {
    auto store = open_store(path, sample_info(), OpenMode::Create);
    const std::optional<IndexRow> row = replay(*store, bytes);
    REQUIRE(row.has_value());
    CHECK(row->status == CellStatus::Failed);
    CHECK_THAT(row->stop_reason, Catch::Contains("a/b") && Catch::Contains("not a valid HDF5 dataset name"));
    write_sample_cell(*store, "after");  // the next cell is unaffected
  }
  Owned file = open_file(path);
  CHECK(string_attr(file, "/cells/bad", "status") == "failed");
  CHECK_THAT(string_attr(file, "/cells/bad", "error"), Catch::Contains("a/b"));
  CHECK(string_attr(file, "/cells/after", "status") == "converged");
}

TEST_CASE("store message parser refuses a stream that is not messages", "[store]") {
  MessageParser parser;
  const char garbage[] = {5, 0, 0, 0, 99, 'x', 'y', 'z', 'w', 'v'};  // kind 99 does not exist
  parser.feed(garbage, sizeof garbage);
  Message message;
  CHECK_THROWS_WITH(parser.next(message), Catch::Contains("unknown message kind 99"));
  MessageParser truncated;
  const char partial[] = {5, 0, 0, 0, 3, 'x'};  // a Row message cut short: wait for more
  truncated.feed(partial, sizeof partial);
  CHECK_FALSE(truncated.next(message));

  // A count larger than the message can hold is refused before anything is allocated.
  TempDir dir;
  auto store = open_store(dir.file("unused.h5"), sample_info(), OpenMode::Create);
  CellReplay replay(*store);
  const std::uint64_t absurd = std::uint64_t{1} << 60;
  Message declare{MessageKind::Declare, std::string(reinterpret_cast<const char*>(&absurd), sizeof absurd)};
  CHECK_THROWS_WITH(replay.apply(declare), Catch::Contains("malformed"));
  Message steps{MessageKind::Steps, std::string(8, '\0') + std::string(reinterpret_cast<const char*>(&absurd), 8)};
  CHECK_THROWS_WITH(replay.apply(steps), Catch::Contains("malformed"));
}
