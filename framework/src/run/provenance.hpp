// Where a result came from: the root attributes of a result file. The build's commit,
// dirty flag, compiler and build type are captured when muonlab is built (build_info.hpp),
// not read from the working tree when it runs.
#pragma once

#include <string>

#include "model/config.hpp"
#include "store/store.hpp"

namespace muonlab {

RunInfo make_run_info(const Grid& grid);

// "commit 1a2b3c4d5e6f (uncommitted changes), GNU 12.2.0, Release": what --version prints.
std::string build_description();

}  // namespace muonlab
