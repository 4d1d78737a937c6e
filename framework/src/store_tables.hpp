// Row buffers behind a cell's growable datasets: the trajectory table and the per-step
// series (spectra, observables). Rows are copied into preallocated memory and reach the
// file in blocks, so recording a step makes no HDF5 call and allocates nothing.
//
// Creating and writing need hdf5_mutex(); adding rows does not (each buffer belongs to
// one cell writer, used by one thread).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "muonlab/types.hpp"
#include "store.hpp"

namespace muonlab {

// Rows per trajectory block: both the buffer length and the chunk length on disk.
constexpr hsize_t kTrajectoryBlockRows = 1024;

// trajectory/: step, time_s and one dataset per declared column, always of equal length.
class TrajectoryBuffer {
 public:
  // Creates the datasets below `group_path` (throws std::invalid_argument on bad names).
  void create(hid_t file, const std::string& group_path, const std::vector<ColumnSpec>& columns);
  bool created() const { return !dataset_paths_.empty(); }
  std::size_t column_count() const { return column_count_; }

  void add(std::int64_t step, double time_s, const double* values) {
    steps_[rows_] = step;
    times_[rows_] = time_s;
    for (std::size_t c = 0; c < column_count_; ++c) values_[c * kTrajectoryBlockRows + rows_] = values[c];
    ++rows_;
  }
  bool full() const { return rows_ == kTrajectoryBlockRows; }

  // Appends the buffered rows to every dataset and empties the buffer.
  void write(hid_t file);

 private:
  std::vector<std::string> dataset_paths_;  // step, time_s, then the declared columns
  std::size_t column_count_ = 0;
  std::vector<std::int64_t> steps_;
  std::vector<double> times_;
  std::vector<double> values_;  // one block of kTrajectoryBlockRows per column
  hsize_t rows_ = 0;
  hsize_t written_ = 0;
};

// <group>/<name>/values [T x k] and <group>/<name>/step [T]; k is fixed by the first row.
class SeriesBuffer {
 public:
  // Creates both datasets (values carry the unit/doc attributes).
  SeriesBuffer(hid_t file, const std::string& cell_path, const std::string& group, const std::string& name,
               Eigen::Index width, const std::string& unit, const std::string& doc);

  bool is(const std::string& group, const std::string& name) const { return group == group_ && name == name_; }

  // Copies one row; shorter rows are padded with NaN, longer ones throw.
  void add(std::int64_t step, const Eigen::Ref<const Vector>& values);
  bool full() const { return rows_ == capacity_; }

  // Appends the buffered rows to both datasets and empties the buffer.
  void write(hid_t file);

 private:
  std::string group_;
  std::string name_;
  std::string path_;  // <cell>/<group>/<name>
  hsize_t width_;
  hsize_t capacity_;  // rows per block: the chunk length on disk
  std::vector<std::int64_t> steps_;
  std::vector<double> values_;  // row-major, capacity_ x width_
  hsize_t rows_ = 0;
  hsize_t written_ = 0;
};

}  // namespace muonlab
