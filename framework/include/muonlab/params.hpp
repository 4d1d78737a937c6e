// Plugin-side reading of resolved parameters. The core has already validated every value
// against the plugin's declared ParamSpec list, so a lookup failure is a programming error
// in the plugin (a name it did not declare) and throws.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "muonlab/boundary.hpp"

namespace muonlab {

// A handle on an orthogonalizer instance owned by the core (declared as a parameter of
// type ParamType::Orthogonalizer). Throws std::runtime_error when the call fails.
class OrthogonalizerRef {
 public:
  OrthogonalizerRef(OrthogonalizerAbi* target, std::string name) : target_(target), name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // output = approximate polar factor of gradient; shapes must match.
  void apply(const Eigen::Ref<const Matrix>& gradient, Eigen::Ref<Matrix> output) const {
    // Ref of a plain matrix is contiguous column-major; the cast is safe as MatrixView is
    // read-only for the input.
    MatrixView in{const_cast<double*>(gradient.data()), gradient.rows(), gradient.cols()};
    MatrixView out{output.data(), output.rows(), output.cols()};
    ErrorBuffer error{};
    if (target_->apply(&in, &out, &error) != 0) {
      throw std::runtime_error("orthogonalizer '" + name_ + "': " + error.message);
    }
  }

  OrthogonalizerCost last_cost() const { return target_->last_cost(); }

 private:
  OrthogonalizerAbi* target_;
  std::string name_;
};

class Params {
 public:
  explicit Params(const ParamSet* set) : set_(set) {}

  double real(const char* name) const { return find(name, ParamType::Real).number; }
  std::int64_t integer(const char* name) const {
    return static_cast<std::int64_t>(find(name, ParamType::Integer).number);
  }
  bool boolean(const char* name) const { return find(name, ParamType::Boolean).number != 0.0; }
  std::string text(const char* name) const {
    const ParamValue& v = find_any(name);
    if (v.type != ParamType::String && v.type != ParamType::Choice) mismatch(name, "text");
    return v.text ? v.text : "";
  }
  std::vector<double> real_list(const char* name) const {
    const ParamValue& v = find(name, ParamType::RealList);
    return std::vector<double>(v.list, v.list + v.list_size);
  }
  OrthogonalizerRef orthogonalizer(const char* name) const {
    const ParamValue& v = find(name, ParamType::Orthogonalizer);
    if (v.object == nullptr)
      throw std::runtime_error(std::string("parameter '") + name + "' has no orthogonalizer instance");
    return OrthogonalizerRef(static_cast<OrthogonalizerAbi*>(v.object), v.text ? v.text : "");
  }
  bool has(const char* name) const { return lookup(name) != nullptr; }
  const ParamSet* raw() const { return set_; }

 private:
  const ParamValue* lookup(const char* name) const {
    if (set_ == nullptr) return nullptr;
    for (std::uint32_t i = 0; i < set_->size; ++i) {
      if (std::string(set_->values[i].name) == name) return &set_->values[i];
    }
    return nullptr;
  }
  const ParamValue& find_any(const char* name) const {
    const ParamValue* v = lookup(name);
    if (v == nullptr) throw std::runtime_error(std::string("parameter '") + name + "' was not declared by this plugin");
    return *v;
  }
  const ParamValue& find(const char* name, ParamType type) const {
    const ParamValue& v = find_any(name);
    if (v.type != type) mismatch(name, param_type_name(type));
    return v;
  }
  [[noreturn]] static void mismatch(const char* name, const char* wanted) {
    throw std::runtime_error(std::string("parameter '") + name + "' read as " + wanted +
                             " but declared with another type");
  }

  const ParamSet* set_;
};

}  // namespace muonlab
