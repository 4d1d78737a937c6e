#include "model/config_json.hpp"

#include <string>
#include <utility>

#include "util/json.hpp"

namespace muonlab {
namespace {

void append_number(std::string& out, double value, JsonNumbers numbers) {
  if (numbers == JsonNumbers::Shortest) {
    append_json_number(out, value);
  } else {
    append_json_number_17g(out, value);
  }
}

void append_param(std::string& out, const ParamData& param, JsonNumbers numbers) {
  switch (param.type) {
    case ParamType::Real: append_number(out, param.number, numbers); break;
    case ParamType::Integer: out += std::to_string(static_cast<long long>(param.number)); break;
    case ParamType::Boolean: out += param.number != 0.0 ? "true" : "false"; break;
    case ParamType::String:
    case ParamType::Choice: append_json_string(out, param.text); break;
    case ParamType::RealList:
      out += '[';
      for (std::size_t i = 0; i < param.list.size(); ++i) {
        if (i > 0) out += ',';
        append_number(out, param.list[i], numbers);
      }
      out += ']';
      break;
    case ParamType::Orthogonalizer:
      if (param.component) {
        out += component_json(*param.component, numbers);
      } else {
        append_json_string(out, param.text);
      }
      break;
  }
}

}  // namespace

std::string component_json(const ComponentConfig& component, JsonNumbers numbers) {
  std::string out = "{\"name\":";
  append_json_string(out, component.name);
  out += ",\"params\":{";
  bool first = true;
  for (const auto& [name, param] : component.params) {  // std::map: sorted keys
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ':';
    append_param(out, param, numbers);
  }
  out += "}}";
  return out;
}

std::string cell_json(const CellConfig& cell, JsonNumbers numbers) {
  return "{\"optimizer\":" + component_json(cell.optimizer, numbers) +
         ",\"problem\":" + component_json(cell.problem, numbers) + ",\"seed\":" + std::to_string(cell.seed) + "}";
}

namespace {

// {"a":1,"b":"x"} from already-encoded values, in the order given.
class JsonObject {
 public:
  JsonObject& number(const char* key, double value) {
    open(key);
    append_json_number(out_, value);
    return *this;
  }
  JsonObject& integer(const char* key, long long value) { return raw(key, std::to_string(value)); }
  JsonObject& boolean(const char* key, bool value) { return raw(key, value ? "true" : "false"); }
  JsonObject& text(const char* key, const std::string& value) {
    open(key);
    append_json_string(out_, value);
    return *this;
  }
  JsonObject& raw(const char* key, const std::string& json) {
    open(key);
    out_ += json;
    return *this;
  }
  std::string str() const { return out_ + "}"; }

 private:
  void open(const char* key) {
    out_ += out_.size() > 1 ? "," : "";
    append_json_string(out_, key);
    out_ += ':';
  }
  std::string out_ = "{";
};

const char* schedule_name(SpectraSchedule schedule) {
  switch (schedule) {
    case SpectraSchedule::Off: return "off";
    case SpectraSchedule::Every: return "every";
    case SpectraSchedule::Log: return "log";
  }
  return "unknown";
}

}  // namespace

std::string stop_rule_json(const StopRule& stop) {
  return JsonObject()
      .integer("max_iters", static_cast<long long>(stop.max_iters))
      .number("tol", stop.tol)
      .text("metric", stop.metric)
      .number("max_seconds", stop.max_seconds)
      .number("divergence_factor", stop.divergence_factor)
      .str();
}

std::string record_rule_json(const RecordRule& record) {
  std::string spectra_of = "[";
  for (const auto& [on, name] :
       {std::pair{record.spectra_of_iterate, "iterate"}, std::pair{record.spectra_of_grad, "grad"},
        std::pair{record.spectra_of_update, "update"}}) {
    if (!on) continue;
    if (spectra_of.size() > 1) spectra_of += ',';
    append_json_string(spectra_of, name);
  }
  spectra_of += ']';
  return JsonObject()
      .integer("every", static_cast<long long>(record.every))
      .text("spectra", schedule_name(record.spectra))
      .integer("spectra_every", static_cast<long long>(record.spectra_every))
      .integer("spectra_per_decade", record.spectra_per_decade)
      .boolean("spectra_exact", record.spectra_exact)
      .raw("spectra_of", spectra_of)
      .boolean("final", record.final_iterates)
      .boolean("orth_quality", record.orth_quality)
      .str();
}

}  // namespace muonlab
