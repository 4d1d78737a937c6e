#include "util/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

namespace muonlab {

void append_json_string(std::string& out, const std::string& text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_json_number(std::string& out, double value) {
  if (value == 0.0) value = 0.0;  // no "-0"
  if (!std::isfinite(value)) {    // JSON has no inf/nan; the 17g form writes them the same way
    append_json_number_17g(out, value);
    return;
  }
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (result.ec != std::errc()) {
    append_json_number_17g(out, value);
    return;
  }
  out.append(buffer, result.ptr);
}

void append_json_number_17g(std::string& out, double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value == 0.0 ? 0.0 : value);  // no "-0"
  out += buffer;
}

}  // namespace muonlab
