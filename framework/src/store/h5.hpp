// Small, checked helpers over the HDF5 C API for the result store (store.cpp).
//
// Every function here assumes the caller holds hdf5_mutex(). Failures throw
// std::runtime_error naming the HDF5 object and the library's own explanation, so a bad
// call never goes unnoticed and never prints HDF5's error stack to the terminal.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>

namespace muonlab::h5 {

// Owns one HDF5 identifier and closes it with the matching H5*close function.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() noexcept;
  // Gives up ownership: the identifier is no longer closed by this handle.
  hid_t release() noexcept {
    const hid_t id = id_;
    id_ = -1;
    return id;
  }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// The most useful lines of the current HDF5 error stack ("" when empty).
std::string error_detail();

// Throws std::runtime_error("<what>: <HDF5 detail>") when status/id is negative.
void check(herr_t status, const std::string& what);
Handle checked(hid_t id, Handle::Closer closer, const std::string& what);

// Turns off HDF5's automatic printing of error stacks: failures become exceptions.
void silence_automatic_error_printing();

// Typed constructors of owned handles (each checks its result).
Handle property_list(hid_t property_class, const std::string& what);
Handle simple_space(int rank, const hsize_t* dims, const hsize_t* max_dims, const std::string& what);
Handle scalar_space(const std::string& what);
Handle utf8_string_type();  // variable-length, NUL-terminated, UTF-8
Handle open_group(hid_t location, const std::string& path);
Handle open_dataset(hid_t location, const std::string& path);
Handle dataset_space(hid_t dataset, const std::string& path);

// True when every component of the relative or absolute `path` exists below `location`
// (H5Lexists alone fails when an intermediate group is missing).
bool link_exists(hid_t location, const std::string& path);

// Removes the link at `path` when present.
void remove_link_if_present(hid_t location, const std::string& path);

// One per process, for the many objects every cell writes; never close these.
hid_t shared_utf8_string_type();  // utf8_string_type()
hid_t shared_scalar_space();
// Link creation properties that make H5Gcreate/H5Dcreate create missing intermediate groups.
hid_t shared_intermediate_group_creation();

// Transfer properties for H5Dwrite: a type-conversion buffer sized to the data (at most
// 1 MiB, HDF5's default) instead of a zero-filled 1 MiB block on every converting write,
// which made each one-row append of /index cost a megabyte of page faults.
Handle transfer_properties(std::size_t bytes);

// Attributes on any object. Writing replaces an existing attribute of that name.
void write_string_attr(hid_t object, const std::string& name, const std::string& value);
// For an object created just now (no attribute of that name yet): skips the existence
// checks write_string_attr makes, which are a tenth of the cost of writing a small cell.
void add_string_attr(hid_t object, const std::string& name, const std::string& value);
// The "unit" and "doc" attributes every dataset carries, on a new dataset.
void annotate(hid_t dataset, const std::string& unit, const std::string& doc);
void write_int64_attr(hid_t object, const std::string& name, std::int64_t value);
void write_uint64_attr(hid_t object, const std::string& name, std::uint64_t value);
// std::nullopt when the attribute is absent; throws when it exists with another type class.
std::optional<std::string> read_string_attr(hid_t object, const std::string& name);
std::optional<std::int64_t> read_int64_attr(hid_t object, const std::string& name);

// Creates a chunked dataset whose first dimension is unlimited and starts at
// `initial_rows` rows; trailing dimensions (rank - 1 of them) are fixed. Compressed with
// shuffle + deflate when `compress` is true and a chunk holds at least 512 elements (4 KiB
// of doubles).
Handle create_growable_dataset(hid_t location, const std::string& path, hid_t file_type, int rank,
                               const hsize_t* trailing_dims, const hsize_t* chunk_dims, bool compress,
                               hsize_t initial_rows = 0);

// Writes the whole extent of a dataset (created with it), `data` row-major in memory_type.
void write_all_rows(hid_t dataset, const std::string& path, hid_t memory_type, hsize_t elements, const void* data);

// Appends `rows` rows (each of `row_elements` values, row-major) to a growable dataset that
// currently holds `current_rows`, extending it first.
void append_rows(hid_t dataset, const std::string& path, hid_t memory_type, hsize_t current_rows, hsize_t rows,
                 const hsize_t* trailing_dims, int rank, const void* data);

}  // namespace muonlab::h5
