#include "store/tables.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>

#include "store/h5.hpp"

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

// A growable 1-D column of the trajectory with its unit and doc, `rows` long.
h5::Handle create_column(hid_t file, const std::string& path, hid_t file_type, hsize_t chunk_rows, hsize_t rows,
                         const ColumnSpec& spec) {
  const hsize_t chunk[1] = {chunk_rows};
  h5::Handle dataset = h5::create_growable_dataset(file, path, file_type, 1, nullptr, chunk, true, rows);
  h5::annotate(dataset.get(), spec.unit, spec.doc);
  return dataset;
}

// Writes `rows` buffered rows to a 1-D dataset (`width` 0) or a 2-D one of `width`
// columns. The first write creates the dataset (`create(rows)`, chunks sized by
// chunk_rows_for) already holding them, which spares the extend and the hyperslab; later
// writes append.
template <typename Create>
void write_rows(hid_t file, const std::string& path, bool exists, hsize_t written, hsize_t rows, hsize_t width,
                hid_t memory_type, const void* data, Create create) {
  if (!exists) {
    h5::Handle dataset = create(rows);
    h5::write_all_rows(dataset.get(), path, memory_type, rows * std::max<hsize_t>(width, 1), data);
    return;
  }
  h5::Handle dataset = h5::open_dataset(file, path);
  const hsize_t trailing[1] = {width};
  h5::append_rows(dataset.get(), path, memory_type, written, rows, trailing, width > 0 ? 2 : 1, data);
}

// Chunk length of a dataset created by a write: the data itself when nothing follows (at
// least one row, since HDF5 chunks cannot be empty), one full block otherwise.
hsize_t chunk_rows_for(hsize_t rows, hsize_t block_rows, bool last) {
  return last ? std::max<hsize_t>(rows, 1) : block_rows;
}

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
    const void* data = is_step  ? static_cast<const void*>(steps_.data())
                       : c == 1 ? static_cast<const void*>(times_.data())
                                : static_cast<const void*>(values_.data() + (c - 2) * kTrajectoryBlockRows);
    write_rows(file, path, in_file_, written_, rows_, 0, is_step ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, data,
               [&](hsize_t rows) {
                 return create_column(file, path, is_step ? H5T_STD_I64LE : H5T_IEEE_F64LE, chunk_rows, rows,
                                      specs_[c]);
               });
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

h5::Handle SeriesBuffer::create_values(hid_t file, hsize_t chunk_rows, hsize_t rows) const {
  const hsize_t trailing[1] = {width_};
  const hsize_t values_chunk[2] = {chunk_rows, width_};
  h5::Handle values =
      h5::create_growable_dataset(file, path_ + "/values", H5T_IEEE_F64LE, 2, trailing, values_chunk, true, rows);
  h5::annotate(values.get(), unit_, doc_);
  return values;
}

h5::Handle SeriesBuffer::create_steps(hid_t file, hsize_t chunk_rows, hsize_t rows) const {
  const hsize_t step_chunk[1] = {chunk_rows};
  h5::Handle steps =
      h5::create_growable_dataset(file, path_ + "/step", H5T_STD_I64LE, 1, nullptr, step_chunk, true, rows);
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
  write_rows(file, path_ + "/values", in_file_, written_, rows_, width_, H5T_NATIVE_DOUBLE, values_.data(),
             [&](hsize_t rows) { return create_values(file, chunk_rows, rows); });
  write_rows(file, path_ + "/step", in_file_, written_, rows_, 0, H5T_NATIVE_INT64, steps_.data(),
             [&](hsize_t rows) { return create_steps(file, chunk_rows, rows); });
  in_file_ = true;
  written_ += rows_;
  rows_ = 0;
}

}  // namespace muonlab
