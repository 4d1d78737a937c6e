// CSV output (RFC 4180) for the benchmark drivers' --csv files.
#pragma once

#include <string>

namespace muonlab {

// `text` as one CSV field: enclosed in double quotes (inner quotes doubled) when it holds a
// comma, a quote or a line break, so that labels such as "spectra(iterates, 2/2 gram)" and
// error messages stay one field for pandas and the csv module.
inline std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace muonlab
