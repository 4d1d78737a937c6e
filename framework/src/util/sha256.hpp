// SHA-256 (FIPS 180-4), so each cell records exactly which plugin binary ran.
#pragma once

#include <string>

namespace muonlab {

// Lower-case hex digests; sha256_file gives "" when the file cannot be read.
std::string sha256_file(const std::string& path);
std::string sha256_text(const std::string& text);

}  // namespace muonlab
