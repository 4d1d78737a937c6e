// Row buffers behind a cell's growable datasets: the trajectory table and the per-step
// series (spectra, observables). Rows are copied into preallocated memory and reach the
// file in blocks, so recording a step makes no HDF5 call and allocates nothing.
//
// The datasets are created at the first write, not when declared: a cell whose rows all
// fit in one block gets chunks exactly as long as its data (a 30-row trajectory is not
// padded to a 1024-row chunk), which keeps small cells cheap to write and small on disk.
// Longer cells stream in kTrajectoryBlockRows-row chunks. Either way the datasets are
// chunked, extendable and compressed.
//
// Writing needs hdf5_mutex(); declaring and adding rows do not (each buffer belongs to
// one cell writer, used by one thread).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "muonlab/types.hpp"
#include "store/store.hpp"
#include "store/h5.hpp"

namespace muonlab {

// Rows per trajectory block: both the buffer length and the chunk length on disk.
constexpr hsize_t kTrajectoryBlockRows = 1024;

// trajectory/: step, time_s and one dataset per declared column, always of equal length.
class TrajectoryBuffer {
 public:
  // Declares the datasets below `group_path` (throws std::invalid_argument on bad names).
  void create(const std::string& group_path, const std::vector<ColumnSpec>& columns);
  bool created() const { return !dataset_paths_.empty(); }
  std::size_t column_count() const { return column_count_; }

  void add(std::int64_t step, double time_s, const double* values) {
    steps_[rows_] = step;
    times_[rows_] = time_s;
    for (std::size_t c = 0; c < column_count_; ++c) values_[c * kTrajectoryBlockRows + rows_] = values[c];
    ++rows_;
  }
  bool full() const { return rows_ == kTrajectoryBlockRows; }

  // Appends the buffered rows to every dataset and empties the buffer. `last` says no
  // row will follow, so a first write can size the chunks to the data.
  void write(hid_t file, bool last);

 private:
  std::vector<std::string> dataset_paths_;  // step, time_s, then the declared columns
  std::vector<ColumnSpec> specs_;           // unit and doc of every dataset, same order
  std::size_t column_count_ = 0;
  std::vector<std::int64_t> steps_;
  std::vector<double> times_;
  std::vector<double> values_;  // one block of kTrajectoryBlockRows per column
  hsize_t rows_ = 0;
  hsize_t written_ = 0;
  bool in_file_ = false;  // datasets created
};

// <group>/<name>/values [T x k] and <group>/<name>/step [T]; k is fixed by the first row.
class SeriesBuffer {
 public:
  // Declares both datasets (values carry the unit/doc attributes).
  SeriesBuffer(const std::string& cell_path, const std::string& group, const std::string& name, Eigen::Index width,
               const std::string& unit, const std::string& doc);

  bool is(const std::string& group, const std::string& name) const { return group == group_ && name == name_; }

  // Copies one row; shorter rows are padded with NaN, longer ones throw.
  void add(std::int64_t step, const Eigen::Ref<const Vector>& values);
  bool full() const { return rows_ == capacity_; }

  // Appends the buffered rows to both datasets and empties the buffer (`last`: as for
  // TrajectoryBuffer::write).
  void write(hid_t file, bool last);

 private:
  h5::Handle create_values(hid_t file, hsize_t chunk_rows, hsize_t rows) const;
  h5::Handle create_steps(hid_t file, hsize_t chunk_rows, hsize_t rows) const;

  std::string group_;
  std::string name_;
  std::string path_;  // <cell>/<group>/<name>
  std::string unit_;
  std::string doc_;
  hsize_t width_;
  hsize_t capacity_;  // rows per block: the chunk length on disk
  std::vector<std::int64_t> steps_;
  std::vector<double> values_;  // row-major, capacity_ x width_
  hsize_t rows_ = 0;
  hsize_t written_ = 0;
  bool in_file_ = false;  // datasets created
};

}  // namespace muonlab
