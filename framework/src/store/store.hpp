// The HDF5 result file (docs/design.md section 5). One Store per output file; one CellWriter
// per running cell. Every HDF5 call goes through one process-wide mutex (the serial HDF5
// library is not thread-safe), so a Store may be shared by threads. The runner itself
// writes from one thread: with -j N the cells run in worker processes and their writes
// arrive as messages (cell_messages.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "model/index_row.hpp"
#include "model/vocabulary.hpp"
#include "muonlab/types.hpp"

namespace muonlab {

// Root attributes written when the file is created (and checked on --resume).
struct RunInfo {
  std::string muonlab_version;
  std::string created;    // ISO 8601
  std::string grid_yaml;  // full text of the grid file
  std::string grid_name;
  std::string overrides;        // "--set" overrides, one per line
  std::string git_commit;       // of the source tree muonlab was built from, at build time
  std::int64_t git_dirty = -1;  // 1: tracked files differed from git_commit; 0: clean; -1: unknown
  std::string host;
  std::string blas;
  std::string compiler;     // id and version, e.g. "GNU 12.2.0"
  std::string build_type;   // e.g. "Release"
  std::string stop_json;    // the resolved stop rule
  std::string record_json;  // the resolved record rule
};

// Identity of a plugin used by a cell, stored as cell attributes.
struct PluginStamp {
  PluginKind role = PluginKind::Problem;
  std::string name;
  std::string version;
  std::string library;  // path
  std::string sha256;   // of the library file
};

struct CellHeader {
  std::string cell_id;
  std::string config_json;  // resolved configuration (canonical JSON)
  std::int64_t seed = 0;
  std::uint64_t problem_seed = 0;  // the seeds the cell's plugins and sample stream got
  std::uint64_t optimizer_seed = 0;
  std::uint64_t sample_seed = 0;
  std::vector<PluginStamp> plugins;
};

// A column of the trajectory table: step (integer) and time_s come first, then loss,
// metrics and optimizer diagnostics.
struct ColumnSpec {
  std::string name;
  std::string unit;
  std::string doc;
};

class CellWriter {
 public:
  virtual ~CellWriter() = default;
  // Creates trajectory/<name> for each column (1-D, chunked, unlimited, deflate, with
  // "unit" and "doc" attributes) plus trajectory/step (int64) and trajectory/time_s.
  virtual void declare_trajectory(const std::vector<ColumnSpec>& columns) = 0;
  // Buffers one row (values in declared order); rows reach the file at least every
  // `flush_seconds` and when the cell finishes.
  virtual void append_trajectory(std::int64_t step, double time_s, const double* values) = 0;
  // Appends one row to <group>/<name>/values [T x k] and <group>/<name>/step [T];
  // group is "spectra" or "observables". k is fixed by the first row (shorter rows are
  // NaN-padded).
  virtual void append_series(const std::string& group, const std::string& name, std::int64_t step,
                             const Eigen::Ref<const Vector>& values, const std::string& unit,
                             const std::string& doc) = 0;
  // Writes a whole matrix dataset at <path> relative to the cell group (e.g. "init/X",
  // "final/X", "problem/sigma", "theory/d"); compressed when large; attrs unit/doc.
  virtual void write_array(const std::string& path, const Eigen::Ref<const Matrix>& value, const std::string& unit,
                           const std::string& doc) = 0;
  // Writes the step axis of a theory/observable group etc. as int64.
  virtual void write_steps(const std::string& path, const std::vector<std::int64_t>& steps) = 0;
  // Flushes buffered rows, writes status/stop_reason/error attributes (status last) and
  // flushes the file.
  virtual void finish(CellStatus status, const std::string& stop_reason, const std::string& error) = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Cells whose status is final and not "failed"/"running" (what --resume skips).
  virtual std::set<std::string> completed_cells() const = 0;
  // Index rows already in the file (kept on --resume).
  virtual std::vector<IndexRow> read_index() const = 0;
  // Creates /cells/<id> (replacing an unfinished one), writes config/plugin attributes and
  // status="running", flushes.
  virtual std::unique_ptr<CellWriter> begin_cell(const CellHeader& header) = 0;
  // Adds one row at the end of /index and flushes: the record that a cell is complete.
  // O(1) per cell, so a grid of thousands of cells does not rewrite a growing table.
  virtual void append_index(const IndexRow& row) = 0;
  // Rewrites /index with these rows (compound dataset) and flushes; the runner calls it
  // once at the end to put the rows in grid order.
  virtual void write_index(const std::vector<IndexRow>& rows) = 0;
  // False when /index lacks this run's parameter columns (a file written before its grid
  // swept them, or by an older muonlab): the runner then rewrites it.
  virtual bool index_matches_layout() const = 0;
};

enum class OpenMode {
  Create,     // OUT must not exist (InputError naming --resume / --overwrite / -o otherwise)
  Resume,     // create if missing; else open, refusing a file made from another grid text
  Overwrite,  // replace an existing file
};

// Opens the result file. Unwritable path or a file that is not a muonlab result (or is
// damaged): InputError with the path and the fix. Never modifies a file it refuses.
// index_columns: the swept-parameter columns of /index (index_layout of the grid).
std::unique_ptr<Store> open_store(const std::string& path, const RunInfo& info, OpenMode mode,
                                  double flush_seconds = 2.0, const std::vector<IndexColumn>& index_columns = {});

// The process-wide lock every HDF5 call takes.
std::mutex& hdf5_mutex();

}  // namespace muonlab
