// The C-shaped boundary between the muonlab core and a plugin library.
//
// Everything here is plain data or a function pointer: no std::string, no containers,
// no exceptions. A plugin library exports exactly three Boost.DLL aliases
// (muonlab_plugin_descriptor, muonlab_plugin_create, muonlab_plugin_destroy); the core reads
// the descriptor, checks the ABI version, and only then calls anything else.
#pragma once

#include <cstdint>
#include <limits>

namespace muonlab {

// Bump kAbiMajor on any change of a struct layout, a signature or a virtual table below.
// kAbiMinor grows for additive changes only (new trailing members or virtuals); the core
// refuses a plugin built for a newer minor, so a plugin may use everything its minor has.
//   1.1  GradientOracleAbi::loss (the loss at the step's point, for loss-aware optimizers)
//   2.0  OptimizerAbi::step_size (eta_t of the last step, which the core hands to predict()
//        instead of reading an "lr" diagnostic): a new virtual, so a new vtable
constexpr std::uint32_t kAbiMajor = 2;
constexpr std::uint32_t kAbiMinor = 0;

enum class ParamType : std::uint32_t {
  Real = 0,
  Integer = 1,
  Boolean = 2,
  String = 3,
  Choice = 4,          // one of ParamSpec::choices ("a|b|c")
  RealList = 5,        // explicit list of reals, e.g. a user-supplied step-size sequence
  Orthogonalizer = 6,  // the core instantiates the named orthogonalizer plugin and passes it
};

inline const char* param_type_name(ParamType type) {
  switch (type) {
    case ParamType::Real: return "real";
    case ParamType::Integer: return "integer";
    case ParamType::Boolean: return "boolean";
    case ParamType::String: return "string";
    case ParamType::Choice: return "choice";
    case ParamType::RealList: return "real list";
    case ParamType::Orthogonalizer: return "orthogonalizer";
  }
  return "unknown";
}

enum ParamFlags : std::uint32_t {
  kParamLowExclusive = 1u,   // value must be > low (instead of >=)
  kParamHighExclusive = 2u,  // value must be < high (instead of <=)
};

constexpr double kUnbounded = std::numeric_limits<double>::infinity();

// One declared parameter. Lives in the plugin's static storage.
struct ParamSpec {
  const char* name;
  ParamType type;
  const char* default_value;  // YAML text of the default; nullptr means required
  double low;                 // range for Real/Integer (-kUnbounded when open)
  double high;                // (+kUnbounded when open)
  std::uint32_t flags;        // ParamFlags
  const char* choices;        // "a|b|c" for Choice, else nullptr
  const char* doc;
};

struct PluginDescriptor {
  std::uint32_t abi_major;
  std::uint32_t abi_minor;
  const char* kind;  // "problem" | "optimizer" | "orthogonalizer"
  const char* name;
  const char* version;
  const char* summary;    // one line, shown by `muonlab list`
  const char* build_tag;  // compiler, C++ library, Boost, Eigen, scalar type, build type
  const ParamSpec* params;
  std::uint32_t num_params;
};

// A resolved parameter value, as handed to create(). Every declared parameter is present
// (defaults filled in) and has been validated against its ParamSpec by the core.
struct ParamValue {
  const char* name;
  ParamType type;
  double number;       // Real, Integer, Boolean (0/1)
  const char* text;    // String, Choice, Orthogonalizer (its name)
  const double* list;  // RealList
  std::uint32_t list_size;
  void* object;  // Orthogonalizer: an OrthogonalizerAbi* owned by the core
};

struct ParamSet {
  const ParamValue* values;
  std::uint32_t size;
};

struct CreateContext {
  std::uint64_t seed;  // deterministic per (grid seed, problem) or (grid seed, cell)
};

// What a single evaluation may depend on besides the iterate: stochastic problems draw this
// evaluation's noise or minibatch from `sample`, so the same sample can be evaluated again at
// another point (variance-reduced optimizers need that).
struct EvalContext {
  std::int64_t iteration;
  std::uint64_t sample;
};

// Error text written by the plugin side when a call fails; the core turns it into an
// exception on its own side.
struct ErrorBuffer {
  char message[1024];
};

// Column-major, contiguous, host- or plugin-owned storage of one matrix.
struct MatrixView {
  double* data;
  std::int64_t rows;
  std::int64_t cols;
};

using DescriptorFn = const PluginDescriptor*();
using CreateFn = void*(const ParamSet* params, const CreateContext* context, ErrorBuffer* error);
using DestroyFn = void(void* object);

}  // namespace muonlab

#define MUONLAB_DESCRIPTOR_ALIAS muonlab_plugin_descriptor
#define MUONLAB_CREATE_ALIAS muonlab_plugin_create
#define MUONLAB_DESTROY_ALIAS muonlab_plugin_destroy
