#include "run/messages.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace muonlab {

namespace {

constexpr std::size_t kFlushBytes = std::size_t{1} << 16;  // a pipe's buffer
constexpr std::size_t kHeaderBytes = sizeof(std::uint32_t) + sizeof(std::uint8_t);

// Reads the fields of one message in the order they were encoded.
class Decoder {
 public:
  explicit Decoder(const std::string& payload) : data_(payload) {}

  template <typename T>
  T number() {
    T value;
    std::memcpy(&value, take(sizeof value), sizeof value);
    return value;
  }
  std::string text() {
    const auto size = number<std::uint64_t>();
    return std::string(take(size), size);
  }
  // A count of items that take at least `bytes_each` bytes: refused when the rest of the
  // message cannot hold them, before anything is allocated for them.
  std::size_t count(std::size_t bytes_each) {
    const auto n = number<std::uint64_t>();
    if (n > (data_.size() - offset_) / bytes_each) malformed();
    return static_cast<std::size_t>(n);
  }
  std::vector<double> doubles() {
    const auto count = number<std::uint64_t>();
    if (count > (data_.size() - offset_) / sizeof(double)) malformed();
    std::vector<double> values(count);
    std::memcpy(values.data(), take(count * sizeof(double)), count * sizeof(double));
    return values;
  }

 private:
  [[noreturn]] static void malformed() {
    throw std::runtime_error("a worker process sent a malformed message (a field runs past the end)");
  }
  const char* take(std::size_t bytes) {
    if (bytes > data_.size() - offset_) malformed();
    const char* at = data_.data() + offset_;
    offset_ += bytes;
    return at;
  }

  const std::string& data_;
  std::size_t offset_ = 0;
};

using Encoder = MessageSink::Encoder;

// The two directions of a record's fields: writing them to a message, reading them back.
// Each record lists its fields once (fields() below), for both.
// Statuses travel as their enum value, checked on arrival.
std::uint8_t encode_status(CellStatus status) { return static_cast<std::uint8_t>(status); }
CellStatus decode_status(std::uint8_t code) {
  if (code > static_cast<std::uint8_t>(CellStatus::Failed))
    throw std::runtime_error("a worker process sent an unknown cell status " + std::to_string(code));
  return static_cast<CellStatus>(code);
}

struct FieldWriter {
  Encoder& out;
  void field(const std::string& value) { out.text(value); }
  void field(CellStatus value) { out.number(encode_status(value)); }
  void field(PluginKind value) { out.number(static_cast<std::uint8_t>(value)); }
  template <typename T>
  void field(const T& value) {
    out.number(value);
  }
  template <typename T, typename Each>
  void list(const std::vector<T>& items, std::size_t /*bytes_each*/, Each each) {
    out.number<std::uint64_t>(items.size());
    for (const T& item : items) each(item);
  }
};

struct FieldReader {
  Decoder& in;
  void field(std::string& value) { value = in.text(); }
  void field(CellStatus& value) { value = decode_status(in.number<std::uint8_t>()); }
  void field(PluginKind& value) {
    const auto code = in.number<std::uint8_t>();
    if (code > static_cast<std::uint8_t>(PluginKind::Orthogonalizer))
      throw std::runtime_error("a worker process sent an unknown plugin kind " + std::to_string(code));
    value = static_cast<PluginKind>(code);
  }
  template <typename T>
  void field(T& value) {
    value = in.number<T>();
  }
  // `bytes_each`: the least an item takes on the wire, to refuse an impossible count.
  template <typename T, typename Each>
  void list(std::vector<T>& items, std::size_t bytes_each, Each each) {
    items.resize(in.count(bytes_each));
    for (T& item : items) each(item);
  }
};

// R is CellHeader or IndexRow, const when writing.
template <class R, class Plain>
using If = std::enable_if_t<std::is_same_v<std::remove_const_t<R>, Plain>>;

template <class Io, class Header, class = If<Header, CellHeader>>
void fields(Io& io, Header& header) {
  io.field(header.cell_id);
  io.field(header.config_json);
  io.field(header.seed);
  io.field(header.problem_seed);
  io.field(header.optimizer_seed);
  io.field(header.sample_seed);
  io.list(header.plugins, 1 + 4 * sizeof(std::uint64_t), [&](auto& p) {
    io.field(p.role);
    io.field(p.name);
    io.field(p.version);
    io.field(p.library);
    io.field(p.sha256);
  });
}

template <class Io, class Row, class = If<Row, IndexRow>, class = void>
void fields(Io& io, Row& row) {
  io.field(row.cell_id);
  io.field(row.problem);
  io.field(row.optimizer);
  io.field(row.orthogonalizer);
  io.field(row.seed);
  io.field(row.status);
  io.field(row.stop_reason);
  io.field(row.iterations);
  io.field(row.final_loss);
  io.field(row.final_metric);
  io.field(row.iters_to_tol);
  io.field(row.wall_seconds);
}

template <class Record>
void encode(Encoder& out, const Record& record) {
  FieldWriter io{out};
  fields(io, record);
}

template <class Record>
Record decode(Decoder& in) {
  Record record;
  FieldReader io{in};
  fields(io, record);
  return record;
}

// Worker side of a cell: each call becomes a message.
class MessageCellWriter final : public CellWriter {
 public:
  explicit MessageCellWriter(MessageSink& sink) : sink_(sink) {}

  void declare_trajectory(const std::vector<ColumnSpec>& columns) override {
    columns_ = columns.size();
    declared_ = true;
    sink_.send(MessageKind::Declare, [&](Encoder& out) {
      out.number<std::uint64_t>(columns.size());
      for (const ColumnSpec& c : columns) {
        out.text(c.name);
        out.text(c.unit);
        out.text(c.doc);
      }
    });
  }

  void append_trajectory(std::int64_t step, double time_s, const double* values) override {
    if (!declared_) throw std::logic_error("append_trajectory before declare_trajectory");
    sink_.send(MessageKind::Row, [&](Encoder& out) {
      out.number(step);
      out.number(time_s);
      out.doubles(values, columns_);
    });
  }

  void append_series(const std::string& group, const std::string& name, std::int64_t step,
                     const Eigen::Ref<const Vector>& values, const std::string& unit, const std::string& doc) override {
    sink_.send(MessageKind::Series, [&](Encoder& out) {
      out.text(group);
      out.text(name);
      out.number(step);
      out.number<std::uint64_t>(static_cast<std::uint64_t>(values.size()));
      for (Eigen::Index i = 0; i < values.size(); ++i) out.number(values(i));
      out.text(unit);
      out.text(doc);
    });
  }

  void write_array(const std::string& path, const Eigen::Ref<const Matrix>& value, const std::string& unit,
                   const std::string& doc) override {
    sink_.send(MessageKind::Array, [&](Encoder& out) {
      out.text(path);
      out.number<std::int64_t>(value.rows());
      out.number<std::int64_t>(value.cols());
      for (Eigen::Index j = 0; j < value.cols(); ++j)
        out.doubles(value.col(j).data(), static_cast<std::size_t>(value.rows()));
      out.text(unit);
      out.text(doc);
    });
  }

  void write_steps(const std::string& path, const std::vector<std::int64_t>& steps) override {
    sink_.send(MessageKind::Steps, [&](Encoder& out) {
      out.text(path);
      out.number<std::uint64_t>(steps.size());
      for (std::int64_t s : steps) out.number(s);
    });
  }

  void finish(CellStatus status, const std::string& stop_reason, const std::string& error) override {
    sink_.send(MessageKind::Finish, [&](Encoder& out) {
      out.number(encode_status(status));
      out.text(stop_reason);
      out.text(error);
    });
  }

 private:
  MessageSink& sink_;
  std::size_t columns_ = 0;
  bool declared_ = false;
};

[[noreturn]] void index_is_the_parents(const char* call) {
  throw std::logic_error(std::string("MessageStore::") + call + ": the parent process owns the index");
}

}  // namespace

// ---------------------------------------------------------------------------------------

MessageSink::MessageSink(int fd, double flush_seconds)
    : fd_(fd), flush_interval_(flush_seconds), last_flush_(std::chrono::steady_clock::now()) {
  buffer_.reserve(2 * kFlushBytes);
}

MessageSink::~MessageSink() = default;

std::size_t MessageSink::open_message(MessageKind kind) {
  const std::size_t start = buffer_.size();
  buffer_.append(sizeof(std::uint32_t), '\0');  // the length, patched by close_message
  buffer_.push_back(static_cast<char>(kind));
  return start;
}

void MessageSink::close_message(std::size_t start) {
  const std::size_t payload = buffer_.size() - start - kHeaderBytes;
  if (payload > UINT32_MAX) throw std::runtime_error("a cell wrote a single record larger than 4 GiB");
  const auto length = static_cast<std::uint32_t>(payload);
  std::memcpy(&buffer_[start], &length, sizeof length);
  const auto now = std::chrono::steady_clock::now();
  if (buffer_.size() >= kFlushBytes || now - last_flush_ >= flush_interval_) flush();
}

void MessageSink::flush() {
  std::size_t written = 0;
  while (written < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw std::runtime_error(std::string("cannot send results to the parent process: ") + std::strerror(errno));
    written += static_cast<std::size_t>(n);
  }
  if (buffer_.capacity() > 4 * kFlushBytes) {
    std::string usual;  // a large array passed through: do not keep its size for the whole run
    usual.reserve(2 * kFlushBytes);
    buffer_.swap(usual);
  } else {
    buffer_.clear();  // keeps its capacity: no allocation per message
  }
  last_flush_ = std::chrono::steady_clock::now();
}

// ---------------------------------------------------------------------------------------

std::set<std::string> MessageStore::completed_cells() const { index_is_the_parents("completed_cells"); }
std::vector<IndexRow> MessageStore::read_index() const { index_is_the_parents("read_index"); }
void MessageStore::append_index(const IndexRow&) { index_is_the_parents("append_index"); }
void MessageStore::write_index(const std::vector<IndexRow>&) { index_is_the_parents("write_index"); }
bool MessageStore::index_matches_layout() const { index_is_the_parents("index_matches_layout"); }

std::unique_ptr<CellWriter> MessageStore::begin_cell(const CellHeader& header) {
  sink_.send(MessageKind::Begin, [&](Encoder& out) { encode(out, header); });
  return std::make_unique<MessageCellWriter>(sink_);
}

void MessageStore::send_done(const IndexRow& row) {
  sink_.send(MessageKind::Done, [&](Encoder& out) { encode(out, row); });
}

// ---------------------------------------------------------------------------------------

bool MessageParser::next(Message& message) {
  const std::size_t available = buffer_.size() - offset_;
  if (available < kHeaderBytes) return false;
  std::uint32_t length = 0;
  std::memcpy(&length, buffer_.data() + offset_, sizeof length);
  const auto kind = static_cast<std::uint8_t>(buffer_[offset_ + sizeof length]);
  if (kind < static_cast<std::uint8_t>(MessageKind::Begin) || kind > static_cast<std::uint8_t>(MessageKind::Done))
    throw std::runtime_error("a worker process sent an unknown message kind " + std::to_string(kind));
  if (available < kHeaderBytes + length) return false;
  message.kind = static_cast<MessageKind>(kind);
  message.payload.assign(buffer_, offset_ + kHeaderBytes, length);
  offset_ += kHeaderBytes + length;
  if (offset_ == buffer_.size()) {  // everything consumed: start over without moving bytes
    buffer_.clear();
    offset_ = 0;
  }
  return true;
}

// ---------------------------------------------------------------------------------------

template <typename Call>
void CellReplay::on_writer(Call call) {
  if (!writer_ || !error_.empty()) return;  // the cell already failed here
  try {
    call(*writer_);
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

std::optional<IndexRow> CellReplay::apply(const Message& message) {
  Decoder in(message.payload);
  switch (message.kind) {
    case MessageKind::Begin: {
      const CellHeader header = decode<CellHeader>(in);
      writer_.reset();
      error_.clear();
      last_step_ = 0;
      begun_ = std::chrono::steady_clock::now();
      try {
        writer_ = store_.begin_cell(header);
      } catch (const std::exception& e) {
        error_ = e.what();
      }
      return std::nullopt;
    }
    case MessageKind::Declare: {
      std::vector<ColumnSpec> columns(in.count(3 * sizeof(std::uint64_t)));
      for (ColumnSpec& c : columns) {
        c.name = in.text();
        c.unit = in.text();
        c.doc = in.text();
      }
      on_writer([&](CellWriter& w) { w.declare_trajectory(columns); });
      return std::nullopt;
    }
    case MessageKind::Row: {
      const auto step = in.number<std::int64_t>();
      const auto time_s = in.number<double>();
      last_step_ = step;
      const std::vector<double> values = in.doubles();
      on_writer([&](CellWriter& w) { w.append_trajectory(step, time_s, values.data()); });
      return std::nullopt;
    }
    case MessageKind::Series: {
      const std::string group = in.text();
      const std::string name = in.text();
      const auto step = in.number<std::int64_t>();
      const std::vector<double> raw = in.doubles();
      const std::string unit = in.text();
      const std::string doc = in.text();
      const Eigen::Map<const Vector> values(raw.data(), static_cast<Eigen::Index>(raw.size()));
      on_writer([&](CellWriter& w) { w.append_series(group, name, step, values, unit, doc); });
      return std::nullopt;
    }
    case MessageKind::Array: {
      const std::string path = in.text();
      const auto rows = in.number<std::int64_t>();
      const auto cols = in.number<std::int64_t>();
      if (rows < 0 || cols < 0 || (rows > 0 && cols > static_cast<std::int64_t>(message.payload.size() / 8) / rows))
        throw std::runtime_error("a worker process sent an array of an impossible shape");
      Matrix value(rows, cols);
      for (Eigen::Index j = 0; j < cols; ++j) {
        const std::vector<double> column = in.doubles();
        if (static_cast<Eigen::Index>(column.size()) != rows)
          throw std::runtime_error("a worker process sent an array column of the wrong length");
        value.col(j) = Eigen::Map<const Vector>(column.data(), rows);
      }
      const std::string unit = in.text();
      const std::string doc = in.text();
      on_writer([&](CellWriter& w) { w.write_array(path, value, unit, doc); });
      return std::nullopt;
    }
    case MessageKind::Steps: {
      const std::string path = in.text();
      std::vector<std::int64_t> steps(in.count(sizeof(std::int64_t)));
      for (std::int64_t& s : steps) s = in.number<std::int64_t>();
      on_writer([&](CellWriter& w) { w.write_steps(path, steps); });
      return std::nullopt;
    }
    case MessageKind::Finish: {
      const CellStatus status = decode_status(in.number<std::uint8_t>());
      const std::string stop_reason = in.text();
      const std::string error = in.text();
      if (writer_) {
        try {
          if (error_.empty()) {
            writer_->finish(status, stop_reason, error);
          } else {
            writer_->finish(CellStatus::Failed, to_string(StopReason::Error), error_);
          }
        } catch (const std::exception& e) {
          if (error_.empty()) error_ = e.what();
        }
      }
      writer_.reset();
      return std::nullopt;
    }
    case MessageKind::Done: {
      IndexRow row = decode<IndexRow>(in);
      if (!error_.empty()) {
        row.status = CellStatus::Failed;
        row.stop_reason = error_;
      }
      writer_.reset();
      error_.clear();
      return row;
    }
  }
  throw std::runtime_error("a worker process sent an unknown message");
}

CellReplay::Abandoned CellReplay::abandon(const std::string& error) {
  Abandoned cell;
  if (begun_ != std::chrono::steady_clock::time_point{}) {
    cell.iterations = last_step_;
    cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begun_).count();
  }
  begun_ = {};
  if (writer_) {
    try {
      writer_->finish(CellStatus::Failed, to_string(StopReason::Error), error);
    } catch (const std::exception&) {
      // The cell stays "running" in the file and is redone by --resume.
    }
  }
  writer_.reset();
  error_.clear();
  return cell;
}

}  // namespace muonlab
