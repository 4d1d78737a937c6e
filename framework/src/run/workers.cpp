#include "run/workers.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

#include "run/messages.hpp"
#include "run/blas.hpp"
#include "run/cell.hpp"

namespace muonlab {

namespace {

constexpr std::size_t kReadBytes = std::size_t{1} << 16;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Reads exactly `size` bytes; false at a clean end of stream before the first byte.
bool read_exact(int fd, void* data, std::size_t size) {
  auto* out = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, out + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("cannot read from the parent process: ") + std::strerror(errno));
    if (n == 0) {
      if (done == 0) return false;
      throw std::runtime_error("the parent process closed the command pipe mid-message");
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* in = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, in + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// The muonlab process is the grid's only writer: on small cells the grid moves at its pace.
// Workers run at a lower priority so that, with as many workers as cores, the writer is not
// left waiting for a core while a worker computes a cell the writer cannot take yet. Failure
// (a restricted process) only costs speed.
void lower_priority() {
  constexpr int kWorkerNiceness = 10;
  (void)::setpriority(PRIO_PROCESS, 0, kWorkerNiceness);
}

// The body of a worker process: runs the cells it is sent (indices into `cells`) until the
// parent closes the command pipe. Never returns.
[[noreturn]] void worker_main(int commands, int results, const std::vector<const CellConfig*>& cells, const Grid& grid,
                              const Registry& registry, const WorkerOptions& options) {
  int code = 0;
  lower_priority();
  try {
    // The OpenBLAS thread count (options.blas_threads) was set before the fork and is
    // inherited. Setting it again here would start OpenBLAS's thread pool afresh, and each
    // new pool thread busy-waits for ~0.1 s of CPU before it sleeps.
    MessageSink sink(results, options.flush_seconds);
    MessageStore store(sink);
    std::uint64_t index = 0;
    while (read_exact(commands, &index, sizeof index)) {
      if (index >= cells.size()) throw std::runtime_error("the parent process sent an unknown cell");
      const IndexRow row = run_cell(*cells[index], grid, registry, store);
      store.send_done(row);
      sink.flush();
    }
  } catch (const std::exception& e) {
    std::cerr << "muonlab worker " << ::getpid() << ": " << e.what() << "\n";
    code = 1;
  } catch (...) {
    code = 1;
  }
  std::cout.flush();
  std::fflush(nullptr);
  // No destructors and no atexit handlers: the result file open in this copy of the
  // parent's memory belongs to the parent, and closing it here would write to it.
  std::_Exit(code);
}

std::string describe_death(int status) {
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    const char* name = ::strsignal(signal_number);
    const std::string hint =
        signal_number == SIGKILL ? " (SIGKILL from the system usually means it ran out of memory)" : "";
    return "the worker process running this cell was killed by signal " + std::to_string(signal_number) + " (" +
           (name != nullptr ? name : "unknown") + ")" + hint + "; the other cells were not affected";
  }
  if (WIFEXITED(status))
    return "the worker process running this cell exited with status " + std::to_string(WEXITSTATUS(status)) +
           " before finishing it";
  return "the worker process running this cell ended before finishing it";
}

// While workers run, a write to a worker that has died must fail with EPIPE, not kill us.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() { previous_ = ::signal(SIGPIPE, SIG_IGN); }
  ~IgnoreSigpipe() { ::signal(SIGPIPE, previous_); }
  IgnoreSigpipe(const IgnoreSigpipe&) = delete;
  IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

 private:
  void (*previous_)(int) = SIG_DFL;
};

struct Worker {
  pid_t pid = -1;
  int commands = -1;  // we write cell indices
  int results = -1;   // we read messages
  MessageParser parser;
  std::optional<CellReplay> replay;
  // Cells sent and not yet done, the running one first. A worker holds one cell in reserve
  // so that it starts the next cell while we are still writing the last one.
  std::deque<std::size_t> cells;
};

constexpr std::size_t kCellsPerWorker = 2;

class WorkerPool {
 public:
  WorkerPool(const std::vector<const CellConfig*>& cells, const Grid& grid, const Registry& registry, Store& store,
             const WorkerOptions& options, const std::function<void(const IndexRow&)>& on_row)
      : cells_(cells),
        grid_(grid),
        registry_(registry),
        store_(store),
        options_(options),
        on_row_(on_row),
        workers_(static_cast<std::size_t>(std::max(1, options.workers))) {
    for (std::size_t i = 0; i < cells.size(); ++i) queue_.push_back(i);
  }

  ~WorkerPool() {
    for (Worker& w : workers_) stop(w);
  }

  void run() {
    for (Worker& w : workers_) {
      if (queue_.empty()) break;
      spawn(w);
      top_up(w);
    }
    while (any_running()) poll_once();
  }

 private:
  bool any_running() const {
    for (const Worker& w : workers_)
      if (w.results >= 0) return true;
    return false;
  }

  void spawn(Worker& w) {
    int commands[2], results[2];
    if (::pipe(commands) != 0) throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
    if (::pipe(results) != 0) {
      ::close(commands[0]);
      ::close(commands[1]);
      throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    std::cout.flush();  // or the child would print our buffered output again
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (int fd : {commands[0], commands[1], results[0], results[1]}) ::close(fd);
      throw std::runtime_error(std::string("cannot start a worker process: ") + std::strerror(errno));
    }
    if (pid == 0) {
      for (Worker& other : workers_) {  // the other workers' pipes must see their ends close
        close_fd(other.commands);
        close_fd(other.results);
      }
      ::close(commands[1]);
      ::close(results[0]);
      worker_main(commands[0], results[1], cells_, grid_, registry_, options_);
    }
    ::close(commands[0]);
    ::close(results[1]);
    w.pid = pid;
    w.commands = commands[1];
    w.results = results[0];
    w.parser = MessageParser();
    w.replay.emplace(store_);
    w.cells.clear();
  }

  // Sends cells until the worker holds kCellsPerWorker; closes the command pipe (the worker
  // then exits after its last cell) once no cell is left.
  void top_up(Worker& w) {
    while (w.commands >= 0 && w.cells.size() < kCellsPerWorker) {
      if (queue_.empty()) {
        close_fd(w.commands);
        return;
      }
      const std::uint64_t message = queue_.front();
      if (!write_all(w.commands, &message, sizeof message)) {  // it died: its end of stream follows
        close_fd(w.commands);
        return;
      }
      w.cells.push_back(queue_.front());
      queue_.pop_front();
    }
  }

  void poll_once() {
    std::vector<pollfd> fds;
    std::vector<Worker*> owners;
    for (Worker& w : workers_) {
      if (w.results < 0) continue;
      fds.push_back(pollfd{w.results, POLLIN, 0});
      owners.push_back(&w);
    }
    const int ready = ::poll(fds.data(), fds.size(), -1);
    if (ready < 0) {
      if (errno == EINTR) return;
      throw std::runtime_error(std::string("cannot wait for the worker processes: ") + std::strerror(errno));
    }
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents != 0) receive(*owners[i]);
  }

  void receive(Worker& w) {
    char buffer[kReadBytes];
    const ssize_t n = ::read(w.results, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      reap(w, "");
      return;
    }
    try {
      w.parser.feed(buffer, static_cast<std::size_t>(n));
      Message message;
      while (w.parser.next(message)) {
        const std::optional<IndexRow> row = w.replay->apply(message);
        if (!row) continue;
        if (!w.cells.empty()) w.cells.pop_front();
        on_row_(*row);
        top_up(w);
      }
    } catch (const std::exception& e) {  // garbage on the pipe: this worker is not trusted further
      ::kill(w.pid, SIGKILL);
      reap(w, e.what());
    }
  }

  // The worker's stream ended (it exited, crashed, or was killed for `reason`).
  void reap(Worker& w, const std::string& reason) {
    close_fd(w.results);
    close_fd(w.commands);
    int status = 0;
    while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    w.pid = -1;
    if (!w.cells.empty()) {
      const std::string message = reason.empty() ? describe_death(status) : reason;
      const CellReplay::Abandoned abandoned = w.replay->abandon(message);
      const std::size_t running = w.cells.front();
      w.cells.pop_front();
      queue_.insert(queue_.begin(), w.cells.begin(), w.cells.end());  // never started: run them elsewhere
      w.cells.clear();
      CellOutcome outcome;
      outcome.fail(message);
      outcome.iterations = abandoned.iterations;
      on_row_(make_index_row(*cells_[running], outcome, abandoned.seconds));
    }
    if (!queue_.empty()) {
      spawn(w);
      top_up(w);
    }
  }

  void stop(Worker& w) {
    if (w.pid <= 0) return;
    close_fd(w.commands);
    close_fd(w.results);
    ::kill(w.pid, SIGKILL);
    int status = 0;
    while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    w.pid = -1;
  }

  const std::vector<const CellConfig*>& cells_;
  const Grid& grid_;
  const Registry& registry_;
  Store& store_;
  const WorkerOptions& options_;
  const std::function<void(const IndexRow&)>& on_row_;
  std::vector<Worker> workers_;
  std::deque<std::size_t> queue_;  // cells not yet sent to a worker
};

}  // namespace

void run_cells_in_workers(const std::vector<const CellConfig*>& cells, const Grid& grid, const Registry& registry,
                          Store& store, const WorkerOptions& options,
                          const std::function<void(const IndexRow&)>& on_row) {
  if (cells.empty()) return;
  IgnoreSigpipe ignore_sigpipe;
  WorkerPool pool(cells, grid, registry, store, options, on_row);
  pool.run();
}

}  // namespace muonlab
