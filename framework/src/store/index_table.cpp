#include "store/index_table.hpp"

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

namespace muonlab {
namespace {

using h5::Handle;

constexpr hsize_t kIndexChunkRows = 256;

// The fixed part of a row in memory: native 8-byte values and pointers, so the struct has
// no padding and one type serves as memory and file type.
struct IndexRecord {
  char* cell_id;
  char* problem;
  char* optimizer;
  char* orthogonalizer;
  std::int64_t seed;
  char* status;
  char* stop_reason;
  std::int64_t iterations;
  double final_loss;
  double final_metric;
  std::int64_t iters_to_tol;
  double wall_seconds;
};
constexpr std::size_t kSlot = 8;  // each parameter: a double or a char*
static_assert(sizeof(double) == kSlot && sizeof(char*) == kSlot, "index slots are 8 bytes");

void insert_member(hid_t compound, const char* name, std::size_t offset, hid_t type) {
  h5::check(H5Tinsert(compound, name, offset, type), std::string("cannot add field ") + name + " to the index type");
}

char* text(const std::string& s) { return const_cast<char*>(s.c_str()); }  // HDF5 only reads through it

IndexRow from_record(const IndexRecord& record) {
  auto read = [](const char* s) { return std::string(s != nullptr ? s : ""); };
  IndexRow row;
  row.cell_id = read(record.cell_id);
  row.problem = read(record.problem);
  row.optimizer = read(record.optimizer);
  row.orthogonalizer = read(record.orthogonalizer);
  row.seed = record.seed;
  row.status = parse_cell_status(read(record.status)).value_or(CellStatus::Running);
  row.stop_reason = read(record.stop_reason);
  row.iterations = record.iterations;
  row.final_loss = record.final_loss;
  row.final_metric = record.final_metric;
  row.iters_to_tol = record.iters_to_tol;
  row.wall_seconds = record.wall_seconds;
  return row;
}

// Frees the strings HDF5 allocated while reading variable-length data, also on exceptions.
class VlenReclaimer {
 public:
  VlenReclaimer(hid_t type, hid_t space, void* buffer) : type_(type), space_(space), buffer_(buffer) {}
  VlenReclaimer(const VlenReclaimer&) = delete;
  VlenReclaimer& operator=(const VlenReclaimer&) = delete;
  ~VlenReclaimer() { H5Dvlen_reclaim(type_, space_, H5P_DEFAULT, buffer_); }

 private:
  hid_t type_;
  hid_t space_;
  void* buffer_;
};

std::vector<std::string> member_names(hid_t type) {
  const int count = H5Tget_nmembers(type);
  h5::check(count < 0 ? -1 : 0, "cannot inspect the type of /index");
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    char* name = H5Tget_member_name(type, static_cast<unsigned>(i));
    names.emplace_back(name != nullptr ? name : "");
    H5free_memory(name);
  }
  return names;
}

hsize_t row_count(hid_t index) {
  Handle space = h5::dataset_space(index, "/index");
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  h5::check(count < 0 ? -1 : 0, "cannot count the rows of /index");
  return static_cast<hsize_t>(count);
}

}  // namespace

IndexTable::IndexTable(std::vector<IndexColumn> columns) : columns_(std::move(columns)) {}

std::size_t IndexTable::stride() const { return sizeof(IndexRecord) + kSlot * columns_.size(); }

Handle IndexTable::type(bool with_params) const {
  const std::size_t size = with_params ? stride() : sizeof(IndexRecord);
  Handle type = h5::checked(H5Tcreate(H5T_COMPOUND, size), H5Tclose, "cannot create the index type");
  Handle string = h5::utf8_string_type();
  const hid_t t = type.get(), s = string.get();
  insert_member(t, "cell_id", offsetof(IndexRecord, cell_id), s);
  insert_member(t, "problem", offsetof(IndexRecord, problem), s);
  insert_member(t, "optimizer", offsetof(IndexRecord, optimizer), s);
  insert_member(t, "orthogonalizer", offsetof(IndexRecord, orthogonalizer), s);
  insert_member(t, "seed", offsetof(IndexRecord, seed), H5T_NATIVE_INT64);
  insert_member(t, "status", offsetof(IndexRecord, status), s);
  insert_member(t, "stop_reason", offsetof(IndexRecord, stop_reason), s);
  insert_member(t, "iterations", offsetof(IndexRecord, iterations), H5T_NATIVE_INT64);
  insert_member(t, "final_loss", offsetof(IndexRecord, final_loss), H5T_NATIVE_DOUBLE);
  insert_member(t, "final_metric", offsetof(IndexRecord, final_metric), H5T_NATIVE_DOUBLE);
  insert_member(t, "iters_to_tol", offsetof(IndexRecord, iters_to_tol), H5T_NATIVE_INT64);
  insert_member(t, "wall_seconds", offsetof(IndexRecord, wall_seconds), H5T_NATIVE_DOUBLE);
  if (with_params) {
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      insert_member(t, columns_[i].name.c_str(), sizeof(IndexRecord) + kSlot * i,
                    columns_[i].text ? s : H5T_NATIVE_DOUBLE);
    }
  }
  return type;
}

std::vector<unsigned char> IndexTable::encode(const std::vector<IndexRow>& rows) const {
  std::vector<unsigned char> buffer(stride() * rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const IndexRow& row = rows[r];
    unsigned char* at = buffer.data() + stride() * r;
    const IndexRecord record{text(row.cell_id),        text(row.problem), text(row.optimizer),
                             text(row.orthogonalizer), row.seed,          const_cast<char*>(to_string(row.status)),
                             text(row.stop_reason),    row.iterations,    row.final_loss,
                             row.final_metric,         row.iters_to_tol,  row.wall_seconds};
    std::memcpy(at, &record, sizeof record);
    if (!row.params.empty() && row.params.size() != columns_.size())
      throw std::invalid_argument("index row " + row.cell_id + " has a different number of parameter columns");
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      unsigned char* slot = at + sizeof(IndexRecord) + kSlot * i;
      const IndexValue missing;
      const IndexValue& value = row.params.empty() ? missing : row.params[i];
      if (columns_[i].text) {
        char* pointer = text(value.text);  // points into rows, alive until the write returns
        std::memcpy(slot, &pointer, kSlot);
      } else {
        std::memcpy(slot, &value.number, kSlot);
      }
    }
  }
  return buffer;
}

void IndexTable::create(hid_t file) const {
  h5::remove_link_if_present(file, "/index");
  Handle type_handle = type(true);
  const hsize_t chunk[1] = {kIndexChunkRows};
  Handle index = h5::create_growable_dataset(file, "/index", type_handle.get(), 1, nullptr, chunk, false);
  h5::write_string_attr(index.get(), "doc",
                        "one row per cell; iters_to_tol is -1 when the tolerance was never reached; then one "
                        "column per swept parameter (problem.<name>, optimizer.<name>; NaN or \"\" where a "
                        "cell's plugin has none); details in /cells/<cell_id>");
}

bool IndexTable::matches(hid_t file) const {
  if (!h5::link_exists(file, "/index")) return false;
  Handle index = h5::open_dataset(file, "/index");
  Handle stored = h5::checked(H5Dget_type(index.get()), H5Tclose, "cannot get the type of /index");
  Handle wanted = type(true);
  return member_names(stored.get()) == member_names(wanted.get());
}

std::vector<IndexRow> IndexTable::read(hid_t file) const {
  if (!h5::link_exists(file, "/index")) return {};
  Handle index = h5::open_dataset(file, "/index");
  const hsize_t count = row_count(index.get());
  if (count == 0) return {};
  Handle space = h5::dataset_space(index.get(), "/index");
  Handle fixed = type(false);  // HDF5 converts by member name: extra members are skipped
  std::vector<IndexRecord> records(static_cast<std::size_t>(count), IndexRecord{});
  h5::check(H5Dread(index.get(), fixed.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, records.data()), "cannot read /index");
  VlenReclaimer reclaim(fixed.get(), space.get(), records.data());
  std::vector<IndexRow> rows;
  rows.reserve(records.size());
  for (const IndexRecord& record : records) rows.push_back(from_record(record));
  return rows;
}

void IndexTable::append(hid_t file, const std::vector<IndexRow>& rows) const {
  if (!h5::link_exists(file, "/index")) create(file);
  Handle index = h5::open_dataset(file, "/index");
  const hsize_t count = row_count(index.get());
  const std::vector<unsigned char> buffer = encode(rows);
  Handle memory = type(true);
  h5::append_rows(index.get(), "/index", memory.get(), count, rows.size(), nullptr, 1, buffer.data());
}

void IndexTable::rewrite(hid_t file, const std::vector<IndexRow>& rows) const {
  if (!matches(file)) create(file);
  Handle index = h5::open_dataset(file, "/index");
  // Resizing in place (instead of delete + create) reuses the chunks already in the file.
  const hsize_t count[1] = {rows.size()};
  h5::check(H5Dset_extent(index.get(), count), "cannot resize /index");
  if (rows.empty()) return;
  const std::vector<unsigned char> buffer = encode(rows);
  Handle memory = type(true);
  Handle memory_space = h5::simple_space(1, count, nullptr, "/index");
  Handle dxpl = h5::transfer_properties(buffer.size());
  h5::check(H5Dwrite(index.get(), memory.get(), memory_space.get(), H5S_ALL, dxpl.get(), buffer.data()),
            "cannot write /index");
}

}  // namespace muonlab
