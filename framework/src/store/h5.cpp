#include "store/h5.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

namespace muonlab::h5 {

namespace {

constexpr unsigned kDeflateLevel = 4;  // zlib level: most of the gain at a fraction of level 9's cost
// Smaller chunks are stored raw: deflate saves a few bytes on them, while setting up zlib
// for each one (it allocates and clears a 256 KiB state) was a third of the cost of writing
// a short cell.
constexpr hsize_t kCompressChunkElements = 512;

herr_t collect_error_description(unsigned /*n*/, const H5E_error2_t* error, void* client_data) {
  auto* lines = static_cast<std::vector<std::string>*>(client_data);
  if (error->desc != nullptr && error->desc[0] != '\0') lines->emplace_back(error->desc);
  return 0;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : path) {
    if (c == '/') {
      if (!current.empty()) parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(current);
  return parts;
}

}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = -1;
  }
  return *this;
}

void Handle::reset() noexcept {
  if (id_ >= 0 && closer_ != nullptr) closer_(id_);
  id_ = -1;
}

std::string error_detail() {
  // Walking downward lists the API call first and the innermost cause (often with the
  // operating system's errno text) last; both together explain the failure.
  std::vector<std::string> lines;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error_description, &lines);
  H5Eclear2(H5E_DEFAULT);
  if (lines.empty()) return "";
  if (lines.size() == 1 || lines.front() == lines.back()) return lines.front();
  return lines.front() + " (" + lines.back() + ")";
}

void check(herr_t status, const std::string& what) {
  if (status >= 0) return;
  const std::string detail = error_detail();
  throw std::runtime_error("HDF5: " + what + (detail.empty() ? "" : ": " + detail));
}

Handle checked(hid_t id, Handle::Closer closer, const std::string& what) {
  check(id < 0 ? -1 : 0, what);
  return Handle(id, closer);
}

void silence_automatic_error_printing() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle property_list(hid_t property_class, const std::string& what) {
  return checked(H5Pcreate(property_class), H5Pclose, "cannot create property list for " + what);
}

Handle transfer_properties(std::size_t bytes) {
  Handle dxpl = property_list(H5P_DATASET_XFER, "data transfer");
  constexpr std::size_t kMinimum = 4096, kMaximum = std::size_t{1} << 20;
  check(H5Pset_buffer(dxpl.get(), std::clamp(bytes, kMinimum, kMaximum), nullptr, nullptr),
        "cannot set the type-conversion buffer size");
  return dxpl;
}

Handle simple_space(int rank, const hsize_t* dims, const hsize_t* max_dims, const std::string& what) {
  return checked(H5Screate_simple(rank, dims, max_dims), H5Sclose, "cannot create dataspace for " + what);
}

Handle scalar_space(const std::string& what) {
  return checked(H5Screate(H5S_SCALAR), H5Sclose, "cannot create scalar dataspace for " + what);
}

Handle utf8_string_type() {
  Handle type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "cannot copy the C string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), "cannot make a variable-length string type");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "cannot set UTF-8 on the string type");
  return type;
}

Handle open_group(hid_t location, const std::string& path) {
  return checked(H5Gopen2(location, path.c_str(), H5P_DEFAULT), H5Gclose, "cannot open group " + path);
}

Handle open_dataset(hid_t location, const std::string& path) {
  return checked(H5Dopen2(location, path.c_str(), H5P_DEFAULT), H5Dclose, "cannot open dataset " + path);
}

Handle dataset_space(hid_t dataset, const std::string& path) {
  return checked(H5Dget_space(dataset), H5Sclose, "cannot get the dataspace of " + path);
}

bool link_exists(hid_t location, const std::string& path) {
  std::string prefix = (!path.empty() && path.front() == '/') ? "/" : "";
  for (const std::string& part : split_path(path)) {
    prefix += (prefix.empty() || prefix == "/") ? part : "/" + part;
    const htri_t exists = H5Lexists(location, prefix.c_str(), H5P_DEFAULT);
    check(exists < 0 ? -1 : 0, "cannot check whether " + prefix + " exists");
    if (exists == 0) return false;
  }
  return true;
}

void remove_link_if_present(hid_t location, const std::string& path) {
  if (!link_exists(location, path)) return;
  check(H5Ldelete(location, path.c_str(), H5P_DEFAULT), "cannot delete " + path);
}

static Handle intermediate_group_creation() {
  Handle lcpl = property_list(H5P_LINK_CREATE, "link creation");
  check(H5Pset_create_intermediate_group(lcpl.get(), 1), "cannot enable intermediate group creation");
  return lcpl;
}

// Created on first use and never closed: HDF5 releases them when the library shuts down
// (a static destructor could run after that). A cell creates ~30 datasets and ~60
// attributes, so making these once instead of per object is measurable.
hid_t shared_utf8_string_type() {
  static const hid_t type = utf8_string_type().release();
  return type;
}

hid_t shared_scalar_space() {
  static const hid_t space = scalar_space("attributes").release();
  return space;
}

hid_t shared_intermediate_group_creation() {
  static const hid_t lcpl = intermediate_group_creation().release();
  return lcpl;
}

namespace {

// Replaces attribute `name` with an empty scalar one of `type`.
Handle create_scalar_attr(hid_t object, const std::string& name, hid_t type) {
  const htri_t exists = H5Aexists(object, name.c_str());
  check(exists < 0 ? -1 : 0, "cannot check attribute " + name);
  if (exists > 0) check(H5Adelete(object, name.c_str()), "cannot replace attribute " + name);
  return checked(H5Acreate2(object, name.c_str(), type, shared_scalar_space(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                 "cannot create attribute " + name);
}

// Opens attribute `name` if present.
std::optional<Handle> open_attr(hid_t object, const std::string& name) {
  const htri_t exists = H5Aexists(object, name.c_str());
  check(exists < 0 ? -1 : 0, "cannot check attribute " + name);
  if (exists == 0) return std::nullopt;
  return checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose, "cannot open attribute " + name);
}

std::string read_variable_string(hid_t attr, hid_t stored_type, const std::string& name) {
  Handle memory_type = utf8_string_type();
  // Match the stored character set so no conversion between encodings is requested.
  check(H5Tset_cset(memory_type.get(), H5Tget_cset(stored_type)), "cannot set character set for " + name);
  char* text = nullptr;
  check(H5Aread(attr, memory_type.get(), &text), "cannot read attribute " + name);
  std::string value = text != nullptr ? text : "";
  Handle space = scalar_space("attribute " + name);
  check(H5Dvlen_reclaim(memory_type.get(), space.get(), H5P_DEFAULT, &text),
        "cannot release the string read from attribute " + name);
  return value;
}

std::string read_fixed_string(hid_t attr, hid_t stored_type, const std::string& name) {
  const size_t size = H5Tget_size(stored_type);
  check(size == 0 ? -1 : 0, "cannot get the size of attribute " + name);
  std::vector<char> buffer(size + 1, '\0');
  check(H5Aread(attr, stored_type, buffer.data()), "cannot read attribute " + name);
  std::string value(buffer.data());                                // stops at the first NUL (null-terminated or padded)
  while (!value.empty() && value.back() == ' ') value.pop_back();  // space-padded strings
  return value;
}

}  // namespace

namespace {

// An existing scalar variable-length string attribute is rewritten in place: deleting and
// recreating it (as for any other type) costs several metadata operations per call.
std::optional<Handle> open_scalar_variable_string_attr(hid_t object, const std::string& name) {
  std::optional<Handle> attr = open_attr(object, name);
  if (!attr) return std::nullopt;
  Handle stored_type = checked(H5Aget_type(attr->get()), H5Tclose, "cannot get the type of attribute " + name);
  Handle space = checked(H5Aget_space(attr->get()), H5Sclose, "cannot get the dataspace of attribute " + name);
  const bool reusable = H5Tget_class(stored_type.get()) == H5T_STRING && H5Tis_variable_str(stored_type.get()) > 0 &&
                        H5Tget_cset(stored_type.get()) == H5T_CSET_UTF8 &&
                        H5Sget_simple_extent_type(space.get()) == H5S_SCALAR;
  if (!reusable) return std::nullopt;
  return attr;
}

}  // namespace

void write_string_attr(hid_t object, const std::string& name, const std::string& value) {
  const hid_t type = shared_utf8_string_type();
  std::optional<Handle> existing = open_scalar_variable_string_attr(object, name);
  Handle attr = existing ? std::move(*existing) : create_scalar_attr(object, name, type);
  const char* text = value.c_str();
  check(H5Awrite(attr.get(), type, &text), "cannot write attribute " + name);
}

void add_string_attr(hid_t object, const std::string& name, const std::string& value) {
  const hid_t type = shared_utf8_string_type();
  Handle attr = checked(H5Acreate2(object, name.c_str(), type, shared_scalar_space(), H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose, "cannot create attribute " + name);
  const char* text = value.c_str();
  check(H5Awrite(attr.get(), type, &text), "cannot write attribute " + name);
}

void annotate(hid_t dataset, const std::string& unit, const std::string& doc) {
  add_string_attr(dataset, "unit", unit);
  add_string_attr(dataset, "doc", doc);
}

void write_int64_attr(hid_t object, const std::string& name, std::int64_t value) {
  Handle attr = create_scalar_attr(object, name, H5T_STD_I64LE);
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), "cannot write attribute " + name);
}

void write_uint64_attr(hid_t object, const std::string& name, std::uint64_t value) {
  Handle attr = create_scalar_attr(object, name, H5T_STD_U64LE);
  check(H5Awrite(attr.get(), H5T_NATIVE_UINT64, &value), "cannot write attribute " + name);
}

std::optional<std::string> read_string_attr(hid_t object, const std::string& name) {
  std::optional<Handle> attr = open_attr(object, name);
  if (!attr) return std::nullopt;
  Handle stored_type = checked(H5Aget_type(attr->get()), H5Tclose, "cannot get the type of attribute " + name);
  if (H5Tget_class(stored_type.get()) != H5T_STRING)
    throw std::runtime_error("HDF5: attribute " + name + " is not a string");
  const htri_t variable = H5Tis_variable_str(stored_type.get());
  check(variable < 0 ? -1 : 0, "cannot inspect the type of attribute " + name);
  return variable > 0 ? read_variable_string(attr->get(), stored_type.get(), name)
                      : read_fixed_string(attr->get(), stored_type.get(), name);
}

std::optional<std::int64_t> read_int64_attr(hid_t object, const std::string& name) {
  std::optional<Handle> attr = open_attr(object, name);
  if (!attr) return std::nullopt;
  Handle stored_type = checked(H5Aget_type(attr->get()), H5Tclose, "cannot get the type of attribute " + name);
  if (H5Tget_class(stored_type.get()) != H5T_INTEGER)
    throw std::runtime_error("HDF5: attribute " + name + " is not an integer");
  Handle space = checked(H5Aget_space(attr->get()), H5Sclose, "cannot get the dataspace of attribute " + name);
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    throw std::runtime_error("HDF5: attribute " + name + " is not a single integer");
  std::int64_t value = 0;
  check(H5Aread(attr->get(), H5T_NATIVE_INT64, &value), "cannot read attribute " + name);
  return value;
}

Handle create_growable_dataset(hid_t location, const std::string& path, hid_t file_type, int rank,
                               const hsize_t* trailing_dims, const hsize_t* chunk_dims, bool compress,
                               hsize_t initial_rows) {
  if (rank < 1 || rank > 2) throw std::logic_error("growable datasets are 1-D or 2-D: " + path);
  hsize_t dims[2] = {initial_rows, rank == 2 ? trailing_dims[0] : 0};
  hsize_t max_dims[2] = {H5S_UNLIMITED, dims[1]};
  Handle space = simple_space(rank, dims, max_dims, path);
  Handle dcpl = property_list(H5P_DATASET_CREATE, path);
  check(H5Pset_chunk(dcpl.get(), rank, chunk_dims), "cannot set the chunk shape of " + path);
  const hsize_t chunk_elements = chunk_dims[0] * (rank == 2 ? chunk_dims[1] : 1);
  if (compress && chunk_elements >= kCompressChunkElements) {
    // Shuffle groups the bytes of neighbouring doubles, which makes deflate far more effective.
    check(H5Pset_shuffle(dcpl.get()), "cannot enable the shuffle filter on " + path);
    check(H5Pset_deflate(dcpl.get(), kDeflateLevel), "cannot enable deflate on " + path);
  }
  return checked(H5Dcreate2(location, path.c_str(), file_type, space.get(), shared_intermediate_group_creation(),
                            dcpl.get(), H5P_DEFAULT),
                 H5Dclose, "cannot create dataset " + path);
}

void write_all_rows(hid_t dataset, const std::string& path, hid_t memory_type, hsize_t elements, const void* data) {
  if (elements == 0) return;
  Handle dxpl = transfer_properties(H5Tget_size(memory_type) * elements);
  check(H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, dxpl.get(), data), "cannot write " + path);
}

void append_rows(hid_t dataset, const std::string& path, hid_t memory_type, hsize_t current_rows, hsize_t rows,
                 const hsize_t* trailing_dims, int rank, const void* data) {
  if (rows == 0) return;
  if (rank < 1 || rank > 2) throw std::logic_error("growable datasets are 1-D or 2-D: " + path);
  const hsize_t width = rank == 2 ? trailing_dims[0] : 1;
  const hsize_t new_dims[2] = {current_rows + rows, width};
  check(H5Dset_extent(dataset, new_dims), "cannot extend " + path);
  Handle file_space = dataset_space(dataset, path);
  const hsize_t start[2] = {current_rows, 0};
  const hsize_t count[2] = {rows, width};
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
        "cannot select rows of " + path);
  Handle memory_space = simple_space(rank, count, nullptr, path);
  Handle dxpl = transfer_properties(H5Tget_size(memory_type) * rows * width);
  check(H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), dxpl.get(), data),
        "cannot write rows of " + path);
}

}  // namespace muonlab::h5
