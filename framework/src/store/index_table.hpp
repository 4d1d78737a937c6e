// /index: one compound row per cell. The fixed fields come first (cell_id, problem, ...,
// wall_seconds), then one member per swept parameter of the grid (IndexLayout). Strings
// are variable-length UTF-8, which h5py and pandas read without help.
#pragma once

#include <hdf5.h>

#include <vector>

#include "model/index_columns.hpp"
#include "model/index_row.hpp"
#include "store/h5.hpp"

namespace muonlab {

class IndexTable {
 public:
  explicit IndexTable(std::vector<IndexColumn> columns);

  // Creates an empty /index of this layout (replacing one of another layout).
  void create(hid_t file) const;
  // Whether the file's /index has exactly this table's members (an index written before
  // its grid had these columns has not).
  bool matches(hid_t file) const;

  // Reads every row's fixed fields (whatever extra members the file has); params stay empty.
  std::vector<IndexRow> read(hid_t file) const;
  // Appends rows / replaces the whole table. Rows carry one IndexValue per column.
  void append(hid_t file, const std::vector<IndexRow>& rows) const;
  void rewrite(hid_t file, const std::vector<IndexRow>& rows) const;

 private:
  h5::Handle type(bool with_params) const;
  std::vector<unsigned char> encode(const std::vector<IndexRow>& rows) const;
  std::size_t stride() const;

  std::vector<IndexColumn> columns_;
};

}  // namespace muonlab
