// The muonlab command line (docs/design.md section 3). Returns the process exit code:
// 0 all cells ran, 1 some cells failed in error, 2 bad input.
#pragma once

namespace muonlab {

int cli_main(int argc, char** argv);

}  // namespace muonlab
