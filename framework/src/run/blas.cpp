#include "run/blas.hpp"

#include <algorithm>
#include <thread>

extern "C" void openblas_set_num_threads(int threads);

namespace muonlab {

int blas_threads_for(int jobs) {
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max(1, cores / std::max(1, jobs));
}

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

}  // namespace muonlab
