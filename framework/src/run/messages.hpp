// A cell's calls on its Store and CellWriter as a byte stream, so that cells can run in
// worker processes while one process (the parent) owns the result file.
//
// In a worker, run_cell() writes to a MessageStore: every call (begin, declare, row,
// series, array, steps, finish) becomes a message in a MessageSink, which reaches the pipe
// at least every `flush_seconds` and after each cell. The parent splits the stream with
// MessageParser and replays it into the real Store with CellReplay; the worker's last word
// on a cell is a Done message carrying its /index row.
//
// Framing: u32 payload length, u8 kind, payload. Numbers are in the host's byte order
// (both ends are the same binary on the same machine).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "store/store.hpp"

namespace muonlab {

enum class MessageKind : std::uint8_t { Begin = 1, Declare, Row, Series, Array, Steps, Finish, Done };

// Worker side: messages are encoded in place into one growing buffer (no allocation per
// message once it has grown) and written to `fd` in large pieces.
class MessageSink {
 public:
  MessageSink(int fd, double flush_seconds);
  ~MessageSink();
  MessageSink(const MessageSink&) = delete;
  MessageSink& operator=(const MessageSink&) = delete;

  // Appends fields to the message being built.
  class Encoder {
   public:
    explicit Encoder(std::string& out) : out_(out) {}
    template <typename T>
    void number(T value) {
      static_assert(std::is_arithmetic_v<T>, "numbers only");
      out_.append(reinterpret_cast<const char*>(&value), sizeof value);
    }
    void text(const std::string& value) {
      number<std::uint64_t>(value.size());
      out_.append(value);
    }
    void doubles(const double* values, std::size_t count) {
      number<std::uint64_t>(count);
      out_.append(reinterpret_cast<const char*>(values), count * sizeof(double));
    }

   private:
    std::string& out_;
  };

  // Appends one message whose payload `encode(Encoder&)` writes; flushes when due.
  template <typename Encode>
  void send(MessageKind kind, Encode encode) {
    const std::size_t start = open_message(kind);
    Encoder encoder(buffer_);
    encode(encoder);
    close_message(start);
  }
  // Writes everything buffered; throws std::runtime_error when the parent is gone.
  void flush();

 private:
  std::size_t open_message(MessageKind kind);
  void close_message(std::size_t start);

  int fd_;
  std::chrono::duration<double> flush_interval_;
  std::chrono::steady_clock::time_point last_flush_;
  std::string buffer_;
};

// A Store that sends what a cell writes to a MessageSink. Only begin_cell() is meaningful:
// the index belongs to the parent, so the other calls throw std::logic_error.
class MessageStore final : public Store {
 public:
  explicit MessageStore(MessageSink& sink) : sink_(sink) {}
  std::set<std::string> completed_cells() const override;
  std::vector<IndexRow> read_index() const override;
  std::unique_ptr<CellWriter> begin_cell(const CellHeader& header) override;
  void append_index(const IndexRow& row) override;
  void write_index(const std::vector<IndexRow>& rows) override;
  bool index_matches_layout() const override;
  // The cell's row: the last message of a cell.
  void send_done(const IndexRow& row);

 private:
  MessageSink& sink_;
};

struct Message {
  MessageKind kind;
  std::string payload;
};

// Parent side: cuts a byte stream into messages.
class MessageParser {
 public:
  void feed(const char* data, std::size_t size) { buffer_.append(data, size); }
  // The next complete message, if one has arrived. Throws std::runtime_error on a stream
  // that is not made of messages (a worker that wrote something else to the pipe).
  bool next(Message& message);
  bool empty() const { return offset_ == buffer_.size(); }

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
};

// Parent side: applies one worker's messages to the result file, one cell at a time. A
// call that fails here (a bad dataset name, a full disk) fails that cell with the message,
// as it would have in-process; the rest of the cell's messages are then skipped.
class CellReplay {
 public:
  explicit CellReplay(Store& store) : store_(store) {}
  // Applies `message`; returns the cell's row when it is the cell's Done message.
  std::optional<IndexRow> apply(const Message& message);
  // The worker died during the cell: records `error` as the cell's failure and returns the
  // cell's outcome as far as the file holds it (the last step received, seconds since it began).
  struct Abandoned {
    std::int64_t iterations = 0;
    double seconds = 0.0;
  };
  Abandoned abandon(const std::string& error);

 private:
  template <typename Call>
  void on_writer(Call call);

  Store& store_;
  std::unique_ptr<CellWriter> writer_;
  std::string error_;  // the first failure of the current cell, "" if none
  std::int64_t last_step_ = 0;
  std::chrono::steady_clock::time_point begun_{};
};

}  // namespace muonlab
