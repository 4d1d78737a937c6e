// The HDF5 result file (docs/design.md section 5) on the HDF5 C API.
//
// Durability: the file is flushed (H5Fflush, global scope) after a cell begins, after it
// finishes, after /index is rewritten and whenever buffered rows are written on the timer,
// so a killed run leaves a file that opens with every finished cell intact.
#include "store/store.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "util/errors.hpp"
#include "util/text.hpp"
#include "store/h5.hpp"
#include "store/index_table.hpp"
#include "store/tables.hpp"

namespace muonlab {

std::mutex& hdf5_mutex() {
  static std::mutex mutex;
  return mutex;
}

namespace {

namespace fs = std::filesystem;
using h5::Handle;
using Lock = std::lock_guard<std::mutex>;

constexpr const char* kFormat = "muonlab";
constexpr std::int64_t kFormatVersion = 1;
constexpr const char* kFixHint = "use --resume to complete it, --overwrite to replace it, or -o to write elsewhere";
constexpr const char* kReplaceHint = "use --overwrite to replace it or -o to write elsewhere";
constexpr unsigned kCompactCellAttributes = 64;
constexpr std::size_t kMetadataCacheBytes = std::size_t{1} << 18;
constexpr hsize_t kCompressAbove = 4096;        // elements; smaller arrays are stored contiguously
constexpr hsize_t kArrayChunkElements = 65536;  // 512 KiB of doubles per chunk

bool is_completed_status(const std::string& status) {
  const std::optional<CellStatus> parsed = parse_cell_status(status);
  return parsed && is_complete(*parsed);
}

void flush_file(hid_t file) { h5::check(H5Fflush(file, H5F_SCOPE_GLOBAL), "cannot flush the result file"); }

// ---------------------------------------------------------------------------------------
// Datasets written whole (final iterates, problem arrays, theory series).

struct ArrayShape {
  int rank;
  hsize_t dims[2];
};

// Vectors (1 x k or k x 1, such as singular values) are stored 1-D [k], the shape numpy
// users expect for a vector; every other matrix is 2-D [rows, cols].
ArrayShape array_shape(const Eigen::Ref<const Matrix>& value) {
  const auto rows = static_cast<hsize_t>(value.rows());
  const auto cols = static_cast<hsize_t>(value.cols());
  if (rows == 1 || cols == 1) return {1, {rows * cols, 0}};
  return {2, {rows, cols}};
}

// Dataset creation properties: contiguous when small, chunked + shuffle + deflate when large.
Handle array_creation_properties(const ArrayShape& shape, const std::string& path) {
  Handle dcpl = h5::property_list(H5P_DATASET_CREATE, path);
  const hsize_t elements = shape.rank == 1 ? shape.dims[0] : shape.dims[0] * shape.dims[1];
  if (elements <= kCompressAbove) return dcpl;
  hsize_t chunk[2];
  if (shape.rank == 1) {
    chunk[0] = std::min(shape.dims[0], kArrayChunkElements);
  } else {
    chunk[1] = std::min(shape.dims[1], kArrayChunkElements);
    chunk[0] = std::clamp<hsize_t>(kArrayChunkElements / chunk[1], 1, shape.dims[0]);
  }
  h5::check(H5Pset_chunk(dcpl.get(), shape.rank, chunk), "cannot set the chunk shape of " + path);
  h5::check(H5Pset_shuffle(dcpl.get()), "cannot enable the shuffle filter on " + path);
  h5::check(H5Pset_deflate(dcpl.get(), 4), "cannot enable deflate on " + path);
  return dcpl;
}

// Creates the dataset at `path`, with intermediate groups; `replace`: a dataset there is
// deleted first.
Handle create_whole_dataset(hid_t file, const std::string& path, hid_t file_type, const ArrayShape& shape,
                            bool replace) {
  if (replace) h5::remove_link_if_present(file, path);
  Handle space = h5::simple_space(shape.rank, shape.dims, nullptr, path);
  Handle dcpl = array_creation_properties(shape, path);
  return h5::checked(H5Dcreate2(file, path.c_str(), file_type, space.get(), h5::shared_intermediate_group_creation(),
                                dcpl.get(), H5P_DEFAULT),
                     H5Dclose, "cannot create dataset " + path);
}

void write_whole(hid_t dataset, const std::string& path, hid_t memory_type, std::size_t elements, const void* data) {
  if (elements == 0) return;  // an empty dataset has nothing to transfer
  h5::check(H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "cannot write " + path);
}

// Writes a column-major matrix into a 2-D row-major dataset through a row-major buffer of
// at most kArrayChunkElements values, a block of rows at a time: a final 4096 x 128
// iterate no longer needs a whole row-major copy (4 MiB) at the end of a cell, when the
// cell's memory is at its peak.
void write_matrix_rows(hid_t dataset, const std::string& path, const Eigen::Ref<const Matrix>& value) {
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index rows = value.rows(), cols = value.cols();
  if (rows == 0 || cols == 0) return;
  const Eigen::Index block_rows =
      std::clamp<Eigen::Index>(static_cast<Eigen::Index>(kArrayChunkElements) / cols, 1, rows);
  RowMajor buffer(block_rows, cols);
  Handle file_space = h5::dataset_space(dataset, path);
  for (Eigen::Index first = 0; first < rows; first += block_rows) {
    const Eigen::Index count = std::min(block_rows, rows - first);
    buffer.topRows(count) = value.middleRows(first, count);
    const hsize_t start[2] = {static_cast<hsize_t>(first), 0};
    const hsize_t extent[2] = {static_cast<hsize_t>(count), static_cast<hsize_t>(cols)};
    h5::check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, extent, nullptr),
              "cannot select rows of " + path);
    Handle memory_space = h5::simple_space(2, extent, nullptr, path);
    h5::check(H5Dwrite(dataset, H5T_NATIVE_DOUBLE, memory_space.get(), file_space.get(), H5P_DEFAULT, buffer.data()),
              "cannot write " + path);
  }
}

void validate_relative_path(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.back() == '/')
    throw std::invalid_argument("dataset path \"" + path + "\" must be relative to the cell and name a dataset");
}

// ---------------------------------------------------------------------------------------

class Hdf5CellWriter final : public CellWriter {
 public:
  Hdf5CellWriter(hid_t file, std::string cell_path, double flush_seconds)
      : file_(file),
        cell_path_(std::move(cell_path)),
        flush_interval_(flush_seconds > 0.0 ? flush_seconds : 0.0),
        last_write_(Clock::now()) {}

  // A writer dropped without finish() (the cell threw) still saves what it buffered; its
  // status stays "running", so --resume redoes the cell.
  ~Hdf5CellWriter() override {
    if (finished_) return;
    try {
      Lock lock(hdf5_mutex());
      write_buffers(true);
      flush_file(file_);
    } catch (...) {
      // Nothing useful can be done in a destructor; the cell is already marked unfinished.
    }
  }

  void declare_trajectory(const std::vector<ColumnSpec>& columns) override {
    require_unfinished("declare_trajectory");
    trajectory_.create(cell_path_ + "/trajectory", columns);
  }

  void append_trajectory(std::int64_t step, double time_s, const double* values) override {
    require_unfinished("append_trajectory");
    if (!trajectory_.created()) throw std::logic_error("append_trajectory before declare_trajectory in " + cell_path_);
    trajectory_.add(step, time_s, values);
    if (trajectory_.full()) {
      Lock lock(hdf5_mutex());
      trajectory_.write(file_, false);
    }
    write_if_due();
  }

  void append_series(const std::string& group, const std::string& name, std::int64_t step,
                     const Eigen::Ref<const Vector>& values, const std::string& unit, const std::string& doc) override {
    require_unfinished("append_series");
    SeriesBuffer& series = find_or_create_series(group, name, values.size(), unit, doc);
    series.add(step, values);
    if (series.full()) {
      Lock lock(hdf5_mutex());
      series.write(file_, false);
    }
    write_if_due();
  }

  void write_array(const std::string& path, const Eigen::Ref<const Matrix>& value, const std::string& unit,
                   const std::string& doc) override {
    require_unfinished("write_array");
    validate_relative_path(path);
    // HDF5 and numpy are row-major: f[path][i, j] == value(i, j). Vectors are 1-D.
    const std::string full_path = cell_path_ + "/" + path;
    const ArrayShape shape = array_shape(value);
    Lock lock(hdf5_mutex());
    Handle dataset = create_whole_dataset(file_, full_path, H5T_IEEE_F64LE, shape, written_before(full_path));
    if (shape.rank == 1) {
      const Vector contiguous = value.reshaped();
      write_whole(dataset.get(), full_path, H5T_NATIVE_DOUBLE, static_cast<std::size_t>(contiguous.size()),
                  contiguous.data());
    } else {
      write_matrix_rows(dataset.get(), full_path, value);
    }
    h5::annotate(dataset.get(), unit, doc);
  }

  void write_steps(const std::string& path, const std::vector<std::int64_t>& steps) override {
    require_unfinished("write_steps");
    validate_relative_path(path);
    const std::string full_path = cell_path_ + "/" + path;
    const ArrayShape shape{1, {static_cast<hsize_t>(steps.size()), 0}};
    Lock lock(hdf5_mutex());
    Handle dataset = create_whole_dataset(file_, full_path, H5T_STD_I64LE, shape, written_before(full_path));
    write_whole(dataset.get(), full_path, H5T_NATIVE_INT64, steps.size(), steps.data());
    h5::annotate(dataset.get(), "1", "optimizer step of each entry");
  }

  void finish(CellStatus status, const std::string& stop_reason, const std::string& error) override {
    require_unfinished("finish");
    if (status == CellStatus::Running) throw std::invalid_argument("finish: a finished cell cannot be \"running\"");
    Lock lock(hdf5_mutex());
    write_buffers(true);
    Handle cell = h5::open_group(file_, cell_path_);
    h5::write_string_attr(cell.get(), "stop_reason", stop_reason);
    h5::write_string_attr(cell.get(), "error", error);
    h5::write_string_attr(cell.get(), "status", to_string(status));  // last: marks the cell complete
    flush_file(file_);
    finished_ = true;
  }

 private:
  using Clock = std::chrono::steady_clock;

  // Whole datasets this writer created: writing one again replaces it. Nothing else can be
  // there, since begin_cell() starts from an empty group.
  bool written_before(const std::string& path) { return !whole_datasets_.insert(path).second; }

  void require_unfinished(const char* call) const {
    if (finished_) throw std::logic_error(std::string(call) + " after finish() on " + cell_path_);
  }

  SeriesBuffer& find_or_create_series(const std::string& group, const std::string& name, Eigen::Index width,
                                      const std::string& unit, const std::string& doc) {
    for (SeriesBuffer& series : series_)
      if (series.is(group, name)) return series;
    series_.emplace_back(cell_path_, group, name, width, unit, doc);
    return series_.back();
  }

  // The timer flush: everything buffered reaches the file and the file is flushed.
  void write_if_due() {
    const Clock::time_point now = Clock::now();
    if (now - last_write_ < flush_interval_) return;
    Lock lock(hdf5_mutex());
    write_buffers(false);
    flush_file(file_);
    last_write_ = now;
  }

  // Caller holds hdf5_mutex(). `last`: the cell ends here (see store_tables.hpp).
  void write_buffers(bool last) {
    if (trajectory_.created()) trajectory_.write(file_, last);
    for (SeriesBuffer& series : series_) series.write(file_, last);
  }

  hid_t file_;  // owned by the Store, which outlives its writers
  std::string cell_path_;
  std::chrono::duration<double> flush_interval_;
  Clock::time_point last_write_;
  TrajectoryBuffer trajectory_;
  std::vector<SeriesBuffer> series_;
  std::set<std::string> whole_datasets_;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------

void validate_cell_id(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos)
    throw std::invalid_argument("cell id \"" + id + "\" cannot name an HDF5 group");
}

void write_plugin_stamp(hid_t cell, const PluginStamp& plugin) {
  const std::string role = to_string(plugin.role);
  h5::add_string_attr(cell, role + "_name", plugin.name);
  h5::add_string_attr(cell, role + "_version", plugin.version);
  h5::add_string_attr(cell, role + "_library", plugin.library);
  h5::add_string_attr(cell, role + "_sha256", plugin.sha256);
}

herr_t collect_link_name(hid_t /*group*/, const char* name, const H5L_info_t* /*info*/, void* names) {
  static_cast<std::vector<std::string>*>(names)->emplace_back(name);
  return 0;
}

// The status attribute of /cells/<name>, or "" when it is not a group or is unreadable
// (a cell cut short by a crash: it will simply be run again).
std::string cell_status(hid_t cells, const std::string& name) {
  try {
    Handle object = h5::checked(H5Oopen(cells, name.c_str(), H5P_DEFAULT), H5Oclose, "cannot open /cells/" + name);
    if (H5Iget_type(object.get()) != H5I_GROUP) return "";
    return h5::read_string_attr(object.get(), "status").value_or("");
  } catch (const std::runtime_error&) {
    return "";
  }
}

// A cell carries ~20 attributes. Past 8, HDF5 would move them to dense storage (a fractal
// heap and two B-trees per cell): slower to create, and HDF5 1.10's object copy (h5py's
// Group.copy, h5copy) crashes on dense variable-length string attributes. Attributes too
// large for the object header (over 64 KiB) still go to dense storage automatically.
Handle compact_attributes_group() {
  Handle gcpl = h5::property_list(H5P_GROUP_CREATE, "cell group creation");
  h5::check(H5Pset_attr_phase_change(gcpl.get(), kCompactCellAttributes, kCompactCellAttributes - 4),
            "cannot keep cell attributes compact");
  return gcpl;
}

class Hdf5Store final : public Store {
 public:
  Hdf5Store(Handle file, double flush_seconds, IndexTable index)
      : file_(std::move(file)), flush_seconds_(flush_seconds), index_(std::move(index)) {}

  ~Hdf5Store() override {
    Lock lock(hdf5_mutex());
    file_.reset();
  }

  std::set<std::string> completed_cells() const override {
    Lock lock(hdf5_mutex());
    std::set<std::string> completed;
    if (!h5::link_exists(file_.get(), "/cells")) return completed;
    Handle cells = h5::open_group(file_.get(), "/cells");
    std::vector<std::string> names;
    h5::check(H5Literate(cells.get(), H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, collect_link_name, &names),
              "cannot list /cells");
    for (const std::string& name : names)
      if (is_completed_status(cell_status(cells.get(), name))) completed.insert(name);
    return completed;
  }

  std::vector<IndexRow> read_index() const override {
    Lock lock(hdf5_mutex());
    return index_.read(file_.get());
  }

  bool index_matches_layout() const override {
    Lock lock(hdf5_mutex());
    return index_.matches(file_.get());
  }

  std::unique_ptr<CellWriter> begin_cell(const CellHeader& header) override {
    validate_cell_id(header.cell_id);
    const std::string cell_path = "/cells/" + header.cell_id;
    Lock lock(hdf5_mutex());
    h5::remove_link_if_present(file_.get(), cell_path);  // an unfinished cell being redone
    Handle gcpl = compact_attributes_group();
    Handle cell = h5::checked(
        H5Gcreate2(file_.get(), cell_path.c_str(), h5::shared_intermediate_group_creation(), gcpl.get(), H5P_DEFAULT),
        H5Gclose, "cannot create group " + cell_path);
    h5::add_string_attr(cell.get(), "status", to_string(CellStatus::Running));
    h5::add_string_attr(cell.get(), "stop_reason", "");
    h5::add_string_attr(cell.get(), "error", "");
    h5::add_string_attr(cell.get(), "config", header.config_json);
    h5::write_int64_attr(cell.get(), "seed", header.seed);
    h5::write_uint64_attr(cell.get(), "problem_seed", header.problem_seed);
    h5::write_uint64_attr(cell.get(), "optimizer_seed", header.optimizer_seed);
    h5::write_uint64_attr(cell.get(), "sample_seed", header.sample_seed);
    for (const PluginStamp& plugin : header.plugins) write_plugin_stamp(cell.get(), plugin);
    flush_file(file_.get());
    return std::make_unique<Hdf5CellWriter>(file_.get(), cell_path, flush_seconds_);
  }

  void append_index(const IndexRow& row) override {
    Lock lock(hdf5_mutex());
    index_.append(file_.get(), {row});
    flush_file(file_.get());
  }

  void write_index(const std::vector<IndexRow>& rows) override {
    Lock lock(hdf5_mutex());
    index_.rewrite(file_.get(), rows);
    flush_file(file_.get());
  }

 private:
  Handle file_;
  double flush_seconds_;
  IndexTable index_;
};

// ---------------------------------------------------------------------------------------
// Opening. Every refusal is an InputError that names the path and the fix, and happens
// before the file is opened for writing.

// "a=1\nb=2\n" (one override per line, as stored) -> "a=1, b=2", or "none".
std::string override_list(const std::string& stored) {
  std::string out;
  for (char c : stored) out += c == '\n' ? std::string(", ") : std::string(1, c);
  while (!out.empty() && (out.back() == ' ' || out.back() == ',')) out.pop_back();
  return out.empty() ? "none" : out;
}

// Every H5Fflush walks the whole metadata cache (HDF5 1.10 builds its list of dirty entries
// from scratch), and the cache grows to 32 MiB as a grid writes thousands of small objects:
// on a 400-cell grid that walk was a fifth of the run. A muonlab writer never goes back to
// a finished cell, so a small cache loses nothing.
void limit_metadata_cache(hid_t fapl, const std::string& path) {
  H5AC_cache_config_t config;
  config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  h5::check(H5Pget_mdc_config(fapl, &config), "cannot read the metadata cache settings for " + path);
  config.set_initial_size = true;
  config.initial_size = kMetadataCacheBytes;
  config.min_size = kMetadataCacheBytes / 4;
  config.max_size = kMetadataCacheBytes;
  h5::check(H5Pset_mdc_config(fapl, &config), "cannot limit the metadata cache for " + path);
}

Handle file_access_properties(const std::string& path) {
  Handle fapl = h5::property_list(H5P_FILE_ACCESS, path);
  // 1.8-compatible object formats: readable by every current h5py, MATLAB and HDFView.
  h5::check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18),
            "cannot set library version bounds for " + path);
  limit_metadata_cache(fapl.get(), path);
  return fapl;
}

void write_root_attributes(hid_t file, const RunInfo& info) {
  h5::write_string_attr(file, "format", kFormat);
  h5::write_int64_attr(file, "format_version", kFormatVersion);
  h5::write_string_attr(file, "muonlab_version", info.muonlab_version);
  h5::write_string_attr(file, "created", info.created);
  h5::write_string_attr(file, "grid_yaml", info.grid_yaml);
  h5::write_string_attr(file, "grid_name", info.grid_name);
  h5::write_string_attr(file, "overrides", info.overrides);
  h5::write_string_attr(file, "git_commit", info.git_commit);
  h5::write_int64_attr(file, "git_dirty", info.git_dirty);
  h5::write_string_attr(file, "host", info.host);
  h5::write_string_attr(file, "blas", info.blas);
  h5::write_string_attr(file, "compiler", info.compiler);
  h5::write_string_attr(file, "build_type", info.build_type);
  h5::write_string_attr(file, "stop", info.stop_json);
  h5::write_string_attr(file, "record", info.record_json);
}

void create_layout(hid_t file, const IndexTable& index) {
  if (!h5::link_exists(file, "/cells")) {
    Handle cells = h5::checked(H5Gcreate2(file, "/cells", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                               "cannot create group /cells");
  }
  if (!h5::link_exists(file, "/index")) index.create(file);
}

// Creates a new result file (`flags`: H5F_ACC_EXCL or H5F_ACC_TRUNC) with its root
// attributes and empty /cells and /index. A file left half-initialized is removed.
Handle create_result_file(const std::string& path, const RunInfo& info, const IndexTable& index, unsigned flags) {
  Handle fapl = file_access_properties(path);
  const hid_t id = H5Fcreate(path.c_str(), flags, H5P_DEFAULT, fapl.get());
  if (id < 0)
    throw InputError("cannot create the result file " + path + ": " + h5::error_detail() +
                     "; check that its directory is writable, or use -o to write elsewhere");
  Handle file(id, H5Fclose);
  try {
    write_root_attributes(file.get(), info);
    create_layout(file.get(), index);
    flush_file(file.get());
  } catch (const std::runtime_error& e) {
    file.reset();
    std::error_code ignored;
    fs::remove(path, ignored);
    throw std::runtime_error("cannot initialize the result file " + path + ": " + e.what());
  }
  return file;
}

InputError refuse(const std::string& path, const std::string& reason, const char* hint) {
  return InputError(path + " " + reason + "; " + hint);
}

// Checks, read-only, that `path` is a muonlab result made from the same grid text.
void verify_resumable(const std::string& path, const RunInfo& info) {
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0) throw refuse(path, "is not an HDF5 file (not a muonlab result, or damaged)", kReplaceHint);
  Handle fapl = file_access_properties(path);
  const hid_t id = is_hdf5 > 0 ? H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()) : -1;
  if (id < 0)
    throw refuse(
        path,
        "cannot be opened (it may be damaged, unreadable, or being written by another process): " + h5::error_detail(),
        kReplaceHint);
  Handle file(id, H5Fclose);
  try {
    if (h5::read_string_attr(file.get(), "format").value_or("") != kFormat)
      throw refuse(path, "is not a muonlab result file (its root attribute format is not \"muonlab\")", kReplaceHint);
    const std::int64_t version = h5::read_int64_attr(file.get(), "format_version").value_or(-1);
    if (version != kFormatVersion)
      throw refuse(path,
                   "has muonlab file format version " + std::to_string(version) + ", this muonlab writes " +
                       std::to_string(kFormatVersion) + " and cannot resume it",
                   kReplaceHint);
    // Comment lines do not change a grid (cells are what its values say), so a grid file whose
    // comments were edited still resumes its results.
    if (without_comment_lines(h5::read_string_attr(file.get(), "grid_yaml").value_or("")) !=
        without_comment_lines(info.grid_yaml))
      throw InputError(path +
                       " was produced from a different grid file text (root attribute grid_yaml "
                       "differs); resume it with the grid file (unchanged) that produced it, use --overwrite "
                       "to replace it, or -o to write elsewhere");
    const std::string overrides = h5::read_string_attr(file.get(), "overrides").value_or("");
    if (overrides != info.overrides)
      throw InputError(
          path + " was produced with other --set overrides (root attribute overrides: " + override_list(overrides) +
          "); resume it with the same --set options, use --overwrite to replace it, or -o to "
          "write elsewhere");
  } catch (const InputError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw refuse(path, std::string("cannot be read as a muonlab result (it may be damaged): ") + e.what(),
                 kReplaceHint);
  }
}

Handle open_for_resume(const std::string& path, const RunInfo& info, const IndexTable& index) {
  verify_resumable(path, info);
  Handle fapl = file_access_properties(path);
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get());
  if (id < 0)
    throw InputError("cannot open " + path + " for writing: " + h5::error_detail() +
                     "; check its permissions, or use -o to write elsewhere");
  Handle file(id, H5Fclose);
  create_layout(file.get(), index);
  return file;
}

void ensure_parent_directory(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code error;
  fs::create_directories(parent, error);
  if (error || !fs::is_directory(parent))
    throw InputError("cannot create the directory " + parent.string() + " for the result file " + path + ": " +
                     (error ? error.message() : "a file of that name is in the way") + "; use -o to write elsewhere");
}

}  // namespace

std::unique_ptr<Store> open_store(const std::string& path, const RunInfo& info, OpenMode mode, double flush_seconds,
                                  const std::vector<IndexColumn>& index_columns) {
  const IndexTable index(index_columns);
  if (path.empty()) throw InputError("no result file given; name one with -o");
  std::error_code error;
  if (fs::is_directory(path, error)) throw InputError(path + " is a directory; name a file with -o");
  ensure_parent_directory(path);
  const bool exists = fs::exists(fs::symlink_status(path, error));

  Lock lock(hdf5_mutex());
  h5::silence_automatic_error_printing();
  Handle file;
  switch (mode) {
    case OpenMode::Create:
      if (exists) throw refuse(path, "already exists", kFixHint);
      file = create_result_file(path, info, index, H5F_ACC_EXCL);
      break;
    case OpenMode::Resume:
      file = exists ? open_for_resume(path, info, index) : create_result_file(path, info, index, H5F_ACC_EXCL);
      break;
    case OpenMode::Overwrite: file = create_result_file(path, info, index, H5F_ACC_TRUNC); break;
  }
  flush_file(file.get());
  return std::make_unique<Hdf5Store>(std::move(file), flush_seconds, index);
}

}  // namespace muonlab
