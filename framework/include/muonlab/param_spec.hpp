// Readable declarations of plugin parameters. Each builder is a constexpr value that converts
// to the plain muonlab::ParamSpec of abi.hpp, so a plugin's parameter table stays a constant
// array in static storage:
//
//   const muonlab::ParamSpec kParams[] = {
//       muonlab::real("lr", "0.1").above(0.0).doc("step size"),
//       muonlab::integer("rank", muonlab::kRequired).at_least(1).doc("rank of the target"),
//       muonlab::boolean("nesterov", "false").doc("Nesterov look-ahead"),
//       muonlab::choice("schedule", "constant", "constant|geometric|cosine|list").doc("..."),
//       muonlab::real_list("lr_list", "[]").at_least(0.0).doc("explicit step sizes"),
//       muonlab::orthogonalizer("orthogonalizer", "svd").doc("polar-factor routine"),
//       muonlab::text("label", "").doc("free text"),
//   };
//
// A builder starts unbounded (low = -kUnbounded, high = +kUnbounded, no flags) with an empty
// doc; every member function returns a modified copy. Ranges apply to Real and Integer values
// and to each entry of a RealList.
#pragma once

#include <cstdint>

#include "muonlab/abi.hpp"

namespace muonlab {

// The default of a parameter the user must set.
inline constexpr const char* kRequired = nullptr;

class ParamBuilder {
 public:
  constexpr ParamBuilder(const char* name, ParamType type, const char* default_value, const char* choices = nullptr)
      : spec_{name, type, default_value, -kUnbounded, kUnbounded, 0u, choices, ""} {}

  // value > low
  constexpr ParamBuilder above(double low) const {
    ParamBuilder b = *this;
    b.spec_.low = low;
    b.spec_.flags |= kParamLowExclusive;
    return b;
  }
  // value >= low
  constexpr ParamBuilder at_least(double low) const {
    ParamBuilder b = *this;
    b.spec_.low = low;
    b.spec_.flags &= ~static_cast<std::uint32_t>(kParamLowExclusive);
    return b;
  }
  // value < high
  constexpr ParamBuilder below(double high) const {
    ParamBuilder b = *this;
    b.spec_.high = high;
    b.spec_.flags |= kParamHighExclusive;
    return b;
  }
  // value <= high
  constexpr ParamBuilder at_most(double high) const {
    ParamBuilder b = *this;
    b.spec_.high = high;
    b.spec_.flags &= ~static_cast<std::uint32_t>(kParamHighExclusive);
    return b;
  }
  constexpr ParamBuilder doc(const char* text) const {
    ParamBuilder b = *this;
    b.spec_.doc = text;
    return b;
  }

  constexpr const ParamSpec& spec() const { return spec_; }
  constexpr operator ParamSpec() const { return spec_; }  // NOLINT: the point of the builder

 private:
  ParamSpec spec_;
};

constexpr ParamBuilder real(const char* name, const char* default_value) {
  return ParamBuilder(name, ParamType::Real, default_value);
}
constexpr ParamBuilder integer(const char* name, const char* default_value) {
  return ParamBuilder(name, ParamType::Integer, default_value);
}
constexpr ParamBuilder boolean(const char* name, const char* default_value) {
  return ParamBuilder(name, ParamType::Boolean, default_value);
}
constexpr ParamBuilder text(const char* name, const char* default_value) {
  return ParamBuilder(name, ParamType::String, default_value);
}
// choices: the allowed values separated by '|', e.g. "constant|geometric".
constexpr ParamBuilder choice(const char* name, const char* default_value, const char* choices) {
  return ParamBuilder(name, ParamType::Choice, default_value, choices);
}
// default_value is YAML text, e.g. "[]" or "[0.1, 0.05]".
constexpr ParamBuilder real_list(const char* name, const char* default_value) {
  return ParamBuilder(name, ParamType::RealList, default_value);
}
// default_value names an orthogonalizer plugin; the core creates it and passes the instance.
constexpr ParamBuilder orthogonalizer(const char* name, const char* default_value) {
  return ParamBuilder(name, ParamType::Orthogonalizer, default_value);
}

}  // namespace muonlab
