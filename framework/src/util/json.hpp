// Writing JSON text: strings with escapes, and numbers in the two forms muonlab uses.
#pragma once

#include <string>

namespace muonlab {

void append_json_string(std::string& out, const std::string& text);

// The shortest decimal that reads back to the same double (0.2, not 0.20000000000000001);
// what result files store.
void append_json_number(std::string& out, double value);

// Seventeen significant digits (%.17g). The text that cell ids hash was always written
// this way; it must stay so for existing result files to keep resuming.
void append_json_number_17g(std::string& out, double value);

}  // namespace muonlab
