#include <cstdlib>  // defines __GLIBC__ on glibc systems

#include "cli/cli.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

// glibc returns freed memory at the top of the heap to the system once it exceeds 128 KiB.
// A grid allocates and frees the same buffers for every cell (HDF5's chunk and conversion
// buffers, the cell's small matrices), so with that default each cell pays its memory
// again in page faults: 5x more faults and ~20% more CPU on a grid of 1-ms cells. Keeping
// up to 64 MiB of free heap removes that churn. Blocks of 1 MiB and more are still mapped
// on their own and returned when freed: served from the heap, large matrices of different
// sizes fragment it (a 4096 x 4096 rank-128 cell peaked 12 MB higher with a 32 MiB limit).
void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_for_reuse();
  return muonlab::cli_main(argc, argv);
}
