#include <cstdlib>  // defines __GLIBC__ on glibc systems

#include "cli.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

// glibc returns freed memory at the top of the heap to the system once it exceeds 128 KiB
// and maps every block above 128 KiB separately. A grid allocates and frees the same
// buffers for every cell (HDF5's chunk and conversion buffers, the cell's matrices), so
// with those defaults each cell pays its memory again in page faults: 5x more faults and
// ~25% more CPU on a grid of 1-ms cells. Keeping up to 64 MiB of free heap and serving
// blocks below 32 MiB from it removes that churn; a large matrix (a 2048 x 2048 iterate
// is 32 MiB) is still mapped on its own and returned when freed.
void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_for_reuse();
  return muonlab::cli_main(argc, argv);
}
