// The step loop allocates nothing: problem evaluate + optimizer step, after a warm-up step,
// counted by replacing the allocation functions of this test executable.
//
// Two levels are counted, because C++ containers use ::operator new while Eigen's matrices
// (in the core and in every plugin) go through std::malloc: ::operator new is replaced here,
// and so are malloc, calloc, realloc and the aligned variants. The replacements forward to
// glibc's own entry points (__libc_malloc ...), so memory is still released by the ordinary
// free()/operator delete. Symbols defined in the executable take precedence over libc's
// for every shared library, including plugins loaded later with dlopen, so allocations inside
// plugins and inside OpenBLAS/LAPACK are seen too. Memory obtained with mmap directly (the
// OpenBLAS buffer pool, allocated once at start-up) is not an allocation in this sense.
//
// AddressSanitizer builds replace malloc themselves; there the tests are skipped.
#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "run/messages.hpp"
#include "grid/grid.hpp"
#include "host/registry.hpp"
#include "test_support.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define MUONLAB_COUNTING_ALLOCATOR 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MUONLAB_COUNTING_ALLOCATOR 0
#endif
#endif
#ifndef MUONLAB_COUNTING_ALLOCATOR
#define MUONLAB_COUNTING_ALLOCATOR 1
#endif

namespace {

// Global (not thread_local) so that allocations on OpenBLAS worker threads count as well.
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
std::atomic<std::size_t> g_largest{0};

[[maybe_unused]] void note_allocation(std::size_t size) {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  std::size_t seen = g_largest.load(std::memory_order_relaxed);
  while (size > seen && !g_largest.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
  }
}

// Counts every allocation made while it lives (on any thread).
class CountAllocations {
 public:
  CountAllocations() {
    g_allocations = 0;
    g_largest = 0;
    g_counting = true;
  }
  ~CountAllocations() { g_counting = false; }
  CountAllocations(const CountAllocations&) = delete;
  CountAllocations& operator=(const CountAllocations&) = delete;
  void stop() { g_counting = false; }
  long count() const { return g_allocations.load(); }
  std::size_t largest() const { return g_largest.load(); }
};

}  // namespace

#if MUONLAB_COUNTING_ALLOCATOR
extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* pointer, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);

void* malloc(std::size_t size) noexcept {
  note_allocation(size);
  return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) noexcept {
  note_allocation(count * size);
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, std::size_t size) noexcept {
  note_allocation(size);
  return __libc_realloc(pointer, size);
}
void* memalign(std::size_t alignment, std::size_t size) noexcept {
  note_allocation(size);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  note_allocation(size);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  note_allocation(size);
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}  // extern "C"

// libstdc++'s array and nothrow forms call these two; delete stays the default (free()).
void* operator new(std::size_t size) {
  note_allocation(size);
  if (void* p = __libc_malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t alignment) {
  note_allocation(size);
  if (void* p = __libc_memalign(static_cast<std::size_t>(alignment), size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
#endif

namespace muonlab {
namespace {

const std::string kProblemFormat = "{symmetric: false, n: 96, m: 64, rank: 4, k: 4, target: ";

// A cell's problem and optimizer, created as cell_runner.cpp creates them.
struct Cell {
  std::unique_ptr<ProblemHandle> problem;
  std::unique_ptr<OptimizerHandle> optimizer;
  std::vector<Matrix> params, grads;
  std::vector<double> metrics;
  std::int64_t iteration = 0;

  Cell(const std::string& target, const std::string& optimizer_name, const std::string& optimizer_params)
      : Cell("matrix_factorization", kProblemFormat + target + "}", optimizer_name, optimizer_params) {}

  Cell(const std::string& problem_name, const std::string& problem_params, const std::string& optimizer_name,
       const std::string& optimizer_params) {
    const Registry& registry = testing::registry();
    problem =
        registry.create_problem(resolve_component(PluginKind::Problem, problem_name, problem_params, registry), 3);
    optimizer = registry.create_optimizer(
        resolve_component(PluginKind::Optimizer, optimizer_name, optimizer_params, registry), 4);
    params = problem->allocate();
    grads = problem->allocate();
    problem->initialize(params);
    optimizer->initialize(problem->blocks());
    metrics.assign(problem->metrics().size(), 0.0);
  }

  void step() {
    problem->evaluate(params, grads, metrics.data(), EvalContext{iteration, static_cast<std::uint64_t>(iteration)});
    optimizer->step(iteration, params, grads);
    ++iteration;
  }
};

// Allocations during `steps` steps after one warm-up step (which may size workspaces).
[[maybe_unused]] long allocations_in_steps(const std::string& target, const std::string& optimizer,
                                           const std::string& params, int steps) {
  Cell cell(target, optimizer, params);
  cell.step();
  CountAllocations counter;
  for (int i = 0; i < steps; ++i) cell.step();
  counter.stop();
  return counter.count();
}

}  // namespace

#if MUONLAB_COUNTING_ALLOCATOR

TEST_CASE("allocation: the counter sees malloc inside Eigen and operator new", "[allocation]") {
  // Oracle for the tests below: a counter that sees nothing would pass them trivially.
  CountAllocations counter;
  Matrix a(50, 40);
  auto boxed = std::make_unique<int>(1);
  counter.stop();
  CHECK(counter.count() == 2);
  CHECK(counter.largest() == 50 * 40 * sizeof(double));
  CHECK(a.size() + *boxed > 0);
}

TEST_CASE("allocation: evaluate + step allocates nothing after a warm-up step", "[allocation]") {
  const std::string target = GENERATE(std::string("dense"), std::string("factored"));
  struct Method {
    const char* optimizer;
    const char* params;
  };
  // muon+svd is included: LAPACK dgesdd gets its workspace from the caller (ThinSvd keeps
  // it), so it allocates nothing through malloc either.
  const Method method =
      GENERATE(Method{"gd", "{lr: 0.01}"}, Method{"adam", "{lr: 0.001}"},
               Method{"muon", "{lr: 0.01, orthogonalizer: ns5}"}, Method{"muon", "{lr: 0.01, orthogonalizer: svd}"});
  INFO(target << " " << method.optimizer << " " << method.params);
  CHECK(allocations_in_steps(target, method.optimizer, method.params, 5) == 0);
}

TEST_CASE("allocation: matrix_least_squares evaluates without allocating after a warm-up step", "[allocation]") {
  const std::string problem = GENERATE(as<std::string>{}, "{n: 24, m: 32}", "{n: 24, m: 32, two_sided: true}",
                                       "{n: 24, m: 32, target: generic, noise: additive}",
                                       "{n: 24, m: 32, noise: sampled, batch: 16, label_noise: 0.1}");
  const std::string optimizer = GENERATE(as<std::string>{}, "gd", "muon");
  INFO(problem << " " << optimizer);
  Cell cell("matrix_least_squares", problem, optimizer, optimizer == "gd" ? "{lr: 0.5}" : "{orthogonalizer: svd}");
  cell.step();
  CountAllocations counter;
  for (int i = 0; i < 5; ++i) cell.step();
  counter.stop();
  CHECK(counter.count() == 0);
}

TEST_CASE("allocation: the factored target never allocates an n x m matrix", "[allocation]") {
  // n = 96, m = 64: an n x m double matrix is 49152 bytes; the factored path's largest
  // buffers are n x k (3072 bytes). The dense target is the oracle that the counter sees the
  // plugin's n x m buffers (M and the residual) when they exist.
  const std::size_t dense_bytes = 96 * 64 * sizeof(double);
  const auto largest_allocation = [](const std::string& target) {
    const Registry& registry = testing::registry();
    const ComponentConfig config =
        resolve_component(PluginKind::Problem, "matrix_factorization", kProblemFormat + target + "}", registry);
    CountAllocations counter;
    auto problem = registry.create_problem(config, 3);
    std::vector<Matrix> params = problem->allocate();
    std::vector<Matrix> grads = problem->allocate();
    problem->initialize(params);
    std::vector<double> metrics(problem->metrics().size());
    for (int t = 0; t < 3; ++t) problem->evaluate(params, grads, metrics.data());
    counter.stop();
    return counter.largest();
  };
  CHECK(largest_allocation("factored") < dense_bytes);
  CHECK(largest_allocation("dense") >= dense_bytes);
}

TEST_CASE("allocation: a worker process sends trajectory rows and spectra without allocating", "[allocation]") {
  // The -j N path: a recorded row becomes a message in the sink's buffer, which keeps its
  // capacity between flushes. /dev/null takes the flushed bytes.
  const int sink_fd = ::open("/dev/null", O_WRONLY);
  REQUIRE(sink_fd >= 0);
  {
    MessageSink sink(sink_fd, /*flush_seconds=*/1e9);
    MessageStore store(sink);
    CellHeader header;
    header.cell_id = "c";
    auto writer = store.begin_cell(header);
    writer->declare_trajectory({{"loss", "1", "loss"}, {"rel_error", "1", "relative error"}});
    const std::string group = "spectra", name = "X", unit = "1", doc = "singular values";
    const Vector spectrum = Vector::LinSpaced(8, 1.0, 8.0);
    const double values[2] = {0.5, 0.25};
    const auto record = [&](int rows) {
      for (int t = 0; t < rows; ++t) {
        writer->append_trajectory(t, 0.001 * t, values);
        writer->append_series(group, name, t, spectrum, unit, doc);
      }
    };
    record(2000);  // several flushes: the buffer has reached its working size
    CountAllocations counter;
    record(2000);
    counter.stop();
    CHECK(counter.count() == 0);
  }
  ::close(sink_fd);
}

#else

TEST_CASE("allocation: skipped under AddressSanitizer (it replaces malloc itself)", "[allocation]") {
  WARN("allocation counting is disabled in sanitizer builds");
}

#endif

}  // namespace muonlab
