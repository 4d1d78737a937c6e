// Interfaces of plugin objects as the core sees them.
//
// Every method is noexcept and speaks only in plain data: a fallible call returns 0 on
// success, or nonzero with a message in the ErrorBuffer. Plugin authors never implement
// these directly: they derive from muonlab::Problem / Optimizer / Orthogonalizer
// (muonlab/plugin.hpp) and MUONLAB_PLUGIN generates the adapter, which catches every
// exception inside the plugin library.
#pragma once

#include <cstdint>
#include <limits>

#include "muonlab/abi.hpp"
#include "muonlab/types.hpp"

namespace muonlab {

struct NameInfo {
  const char* name;
  const char* unit;
  const char* doc;
};

struct BlockInfo {
  const char* name;
  std::int64_t rows;
  std::int64_t cols;
  const char* doc;
};

// Receives named arrays from the plugin (instance data, observables, theory series).
// The data pointer is only valid during the call; the receiver copies.
struct ArraySink {
  void* context;
  void (*emit)(void* context, const char* name, const double* data, std::int64_t rows, std::int64_t cols,
               const char* unit, const char* doc);
};

// What an optimizer may know about the step beyond the gradient: the gradient at other
// points with the current step's sample (e.g. the previous iterate, for MARS-type
// corrections; every call is counted by the core) and the loss at the step's point.
struct GradientOracleAbi {
  void* context;
  int (*gradient)(void* context, const MatrixView* points, MatrixView* grads, std::uint32_t count, ErrorBuffer* error);
  double loss = std::numeric_limits<double>::quiet_NaN();  // ABI 1.1: loss where grads were taken
};

// What the core knows about a finished run, so that a problem can predict it.
struct TheoryRequestAbi {
  const char* optimizer;             // optimizer plugin name, e.g. "muon"
  const ParamSet* optimizer_params;  // its resolved parameters
  const double* step_sizes;          // eta_t used at t = 0..num_step_sizes-1 (OptimizerAbi::step_size)
  std::int64_t num_step_sizes;
  const std::int64_t* steps;  // steps at which to predict (the spectra step axis)
  std::int64_t num_steps;
  const MatrixView* initial;  // the initial iterate, one view per block
  std::uint32_t num_blocks;
};

class ProblemAbi {
 public:
  virtual std::uint32_t num_blocks() const noexcept = 0;
  virtual BlockInfo block(std::uint32_t index) const noexcept = 0;
  virtual std::uint32_t num_metrics() const noexcept = 0;
  virtual NameInfo metric(std::uint32_t index) const noexcept = 0;
  virtual std::uint32_t num_observables() const noexcept = 0;
  virtual NameInfo observable(std::uint32_t index) const noexcept = 0;
  virtual int initialize(MatrixView* params, std::uint32_t count, ErrorBuffer* error) noexcept = 0;
  virtual int evaluate(const MatrixView* params, MatrixView* grads, std::uint32_t count, const EvalContext* context,
                       double* loss, double* metrics, ErrorBuffer* error) noexcept = 0;
  virtual int instance(ArraySink* sink, ErrorBuffer* error) noexcept = 0;
  virtual int observe(const MatrixView* params, std::uint32_t count, ArraySink* sink, ErrorBuffer* error) noexcept = 0;
  virtual int predict(const TheoryRequestAbi* request, ArraySink* sink, ErrorBuffer* error) noexcept = 0;

 protected:
  ~ProblemAbi() = default;  // destroyed only through the library's destroy alias
};

class OptimizerAbi {
 public:
  virtual int initialize(const BlockInfo* blocks, std::uint32_t count, ErrorBuffer* error) noexcept = 0;
  virtual int step(std::int64_t iteration, MatrixView* params, const MatrixView* grads, std::uint32_t count,
                   const GradientOracleAbi* oracle, ErrorBuffer* error) noexcept = 0;
  virtual std::uint32_t num_diagnostics() const noexcept = 0;
  virtual NameInfo diagnostic(std::uint32_t index) const noexcept = 0;
  virtual int read_diagnostics(double* values, ErrorBuffer* error) noexcept = 0;
  // ABI 2.0: eta_t of the last step, NaN when the method has no step size.
  virtual double step_size() const noexcept = 0;

 protected:
  ~OptimizerAbi() = default;
};

class OrthogonalizerAbi {
 public:
  virtual int apply(const MatrixView* gradient, MatrixView* output, ErrorBuffer* error) noexcept = 0;
  virtual OrthogonalizerCost last_cost() const noexcept = 0;

 protected:
  ~OrthogonalizerAbi() = default;
};

}  // namespace muonlab
