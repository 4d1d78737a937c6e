#include "store_tables.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>

#include "store_h5.hpp"

namespace muonlab {

namespace {

// Elements per chunk of a series' values: 512 KiB of doubles, small enough for HDF5's
// default 1 MiB chunk cache, large enough for deflate to work well.
constexpr hsize_t kSeriesBlockElements = 65536;

void validate_column_names(const std::vector<ColumnSpec>& columns) {
  std::set<std::string> seen = {"step", "time_s"};
  for (const ColumnSpec& column : columns) {
    if (column.name.empty() || column.name.find('/') != std::string::npos || column.name == ".")
      throw std::invalid_argument("trajectory column name \"" + column.name +
                                  "\" is not a valid HDF5 dataset name (empty, \".\" or contains '/')");
    if (!seen.insert(column.name).second)
      throw std::invalid_argument("trajectory column \"" + column.name +
                                  "\" is declared twice (step and time_s are always present)");
  }
}

// A growable 1-D column of the trajectory with its unit and doc.
h5::Handle create_column(hid_t file, const std::string& path, hid_t file_type, hsize_t chunk_rows,
                         const ColumnSpec& spec) {
  const hsize_t chunk[1] = {chunk_rows};
  h5::Handle dataset = h5::create_growable_dataset(file, path, file_type, 1, nullptr, chunk, true);
  h5::annotate(dataset.get(), spec.unit, spec.doc);
  return dataset;
}

// The dataset a write goes to: created by the first write (with chunks of `chunk_rows`,
// see chunk_rows_for), opened by later ones.
template <typename Create>
h5::Handle dataset_for_write(hid_t file, const std::string& path, bool exists, Create create) {
  return exists ? h5::open_dataset(file, path) : create();
}

// Chunk length of a dataset created by a write: the data itself when nothing follows (at
// least one row, since HDF5 chunks cannot be empty), one full block otherwise.
hsize_t chunk_rows_for(hsize_t rows, hsize_t block_rows, bool last) { return last ? std::max<hsize_t>(rows, 1) : block_rows; }

}  // namespace

void TrajectoryBuffer::create(const std::string& group_path, const std::vector<ColumnSpec>& columns) {
  if (created()) throw std::logic_error("the trajectory of " + group_path + " is already declared");
  validate_column_names(columns);
  std::vector<std::string> paths = {group_path + "/step", group_path + "/time_s"};
  specs_ = {{"step", "1", "optimizer step (iteration count) of the row"},
            {"time_s", "s", "wall-clock seconds since the cell started"}};
  for (const ColumnSpec& column : columns) {
    paths.push_back(group_path + "/" + column.name);
    specs_.push_back(column);
  }
  column_count_ = columns.size();
  steps_.assign(kTrajectoryBlockRows, 0);
  times_.assign(kTrajectoryBlockRows, 0.0);
  values_.assign(kTrajectoryBlockRows * column_count_, 0.0);
  dataset_paths_ = std::move(paths);
}

void TrajectoryBuffer::write(hid_t file, bool last) {
  if (in_file_ && rows_ == 0) return;
  if (!in_file_ && rows_ == 0 && !last) return;
  const hsize_t chunk_rows = chunk_rows_for(rows_, kTrajectoryBlockRows, last);
  for (std::size_t c = 0; c < dataset_paths_.size(); ++c) {
    const bool is_step = c == 0;
    const std::string& path = dataset_paths_[c];
    h5::Handle dataset = dataset_for_write(file, path, in_file_, [&] {
      return create_column(file, path, is_step ? H5T_STD_I64LE : H5T_IEEE_F64LE, chunk_rows, specs_[c]);
    });
    const void* data = is_step ? static_cast<const void*>(steps_.data())
                       : c == 1 ? static_cast<const void*>(times_.data())
                                : static_cast<const void*>(values_.data() + (c - 2) * kTrajectoryBlockRows);
    h5::append_rows(dataset.get(), path, is_step ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, written_, rows_, nullptr,
                    1, data);
  }
  in_file_ = true;
  written_ += rows_;
  rows_ = 0;
}

SeriesBuffer::SeriesBuffer(const std::string& cell_path, const std::string& group, const std::string& name,
                           Eigen::Index width, const std::string& unit, const std::string& doc)
    : group_(group), name_(name), path_(cell_path + "/" + group + "/" + name), unit_(unit), doc_(doc) {
  if (group.empty() || name.empty())
    throw std::invalid_argument("series group and name must not be empty (got \"" + group + "/" + name + "\")");
  if (width <= 0) throw std::invalid_argument("the first row of series " + path_ + " is empty");
  width_ = static_cast<hsize_t>(width);
  capacity_ = std::clamp<hsize_t>(kSeriesBlockElements / width_, 1, kTrajectoryBlockRows);
  steps_.assign(capacity_, 0);
  values_.assign(capacity_ * width_, 0.0);
}

h5::Handle SeriesBuffer::create_values(hid_t file, hsize_t chunk_rows) const {
  const hsize_t trailing[1] = {width_};
  const hsize_t values_chunk[2] = {chunk_rows, width_};
  h5::Handle values = h5::create_growable_dataset(file, path_ + "/values", H5T_IEEE_F64LE, 2, trailing,
                                                  values_chunk, true);
  h5::annotate(values.get(), unit_, doc_);
  return values;
}

h5::Handle SeriesBuffer::create_steps(hid_t file, hsize_t chunk_rows) const {
  const hsize_t step_chunk[1] = {chunk_rows};
  h5::Handle steps = h5::create_growable_dataset(file, path_ + "/step", H5T_STD_I64LE, 1, nullptr, step_chunk, true);
  h5::annotate(steps.get(), "1", "optimizer step of each row of values");
  return steps;
}

void SeriesBuffer::add(std::int64_t step, const Eigen::Ref<const Vector>& values) {
  const hsize_t length = static_cast<hsize_t>(values.size());
  if (length > width_)
    throw std::invalid_argument("series " + path_ + " has " + std::to_string(width_) +
                                " columns (fixed by its first row) but got a row of " + std::to_string(length));
  double* row = values_.data() + rows_ * width_;
  for (hsize_t j = 0; j < length; ++j) row[j] = values(static_cast<Eigen::Index>(j));
  std::fill(row + length, row + width_, std::numeric_limits<double>::quiet_NaN());
  steps_[rows_] = step;
  ++rows_;
}

void SeriesBuffer::write(hid_t file, bool last) {
  if (in_file_ && rows_ == 0) return;
  if (!in_file_ && rows_ == 0 && !last) return;
  const hsize_t chunk_rows = chunk_rows_for(rows_, capacity_, last);
  const hsize_t trailing[1] = {width_};
  h5::Handle values = dataset_for_write(file, path_ + "/values", in_file_, [&] { return create_values(file, chunk_rows); });
  h5::append_rows(values.get(), path_ + "/values", H5T_NATIVE_DOUBLE, written_, rows_, trailing, 2, values_.data());
  h5::Handle steps = dataset_for_write(file, path_ + "/step", in_file_, [&] { return create_steps(file, chunk_rows); });
  h5::append_rows(steps.get(), path_ + "/step", H5T_NATIVE_INT64, written_, rows_, nullptr, 1, steps_.data());
  in_file_ = true;
  written_ += rows_;
  rows_ = 0;
}

}  // namespace muonlab
