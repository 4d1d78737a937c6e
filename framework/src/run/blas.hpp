// OpenBLAS threads: one pool per process, sized so parallel cells do not oversubscribe.
#pragma once

namespace muonlab {

// OpenBLAS threads for `jobs` parallel cells on this machine (cores / jobs, at least 1).
int blas_threads_for(int jobs);
void set_blas_threads(int threads);

}  // namespace muonlab
