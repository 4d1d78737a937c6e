// Dense linear-algebra helpers shared by the core and plugins: thin SVD through LAPACK
// (OpenBLAS ships it), Haar-random orthogonal factors. Header-only; link muonlab::api.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "muonlab/random.hpp"
#include "muonlab/types.hpp"

extern "C" {
// LAPACK divide-and-conquer SVD (Fortran calling convention).
void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u,
             const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork, int* iwork, int* info);
// LAPACK QR (Householder) factorization.
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work, const int* lwork,
             int* info);
// LAPACK symmetric tridiagonal reduction and root-free QR eigenvalues of a tridiagonal.
void dsytrd_(const char* uplo, const int* n, double* a, const int* lda, double* d, double* e, double* tau, double* work,
             const int* lwork, int* info);
void dsterf_(const int* n, double* d, double* e, int* info);
// OpenBLAS's thread count (the one threading layer muonlab uses).
int openblas_get_num_threads(void);
void openblas_set_num_threads(int threads);
}

#ifndef EIGEN_USE_BLAS
#error "muonlab/linalg.hpp needs EIGEN_USE_BLAS (set by linking muonlab::api)"
#endif

namespace muonlab {

// Sum of squares of `count` contiguous doubles through BLAS ddot, which OpenBLAS splits
// across its threads for long vectors (Eigen's squaredNorm runs on one): the loss of a dense
// matrix factorization step is such a pass over the n x m residual.
inline double sum_of_squares(const double* data, std::size_t count) {
  constexpr std::size_t kChunk = std::size_t{1} << 30;  // ddot counts in int
  double total = 0.0;
  double* values = const_cast<double*>(data);  // ddot_ only reads, but is declared non-const
  while (count > 0) {
    int length = static_cast<int>(std::min(count, kChunk));
    int stride = 1;
    total += ddot_(&length, values, &stride, values, &stride);
    values += length;
    count -= static_cast<std::size_t>(length);
  }
  return total;
}

// Thin SVD A = U diag(s) V^T of an m x n matrix, p = min(m, n). Buffers are kept between
// calls, so repeated calls at one shape allocate nothing.
class ThinSvd {
 public:
  // Singular values only (descending) when with_vectors is false.
  void compute(const Eigen::Ref<const Matrix>& a, bool with_vectors) {
    const int m = static_cast<int>(a.rows());
    const int n = static_cast<int>(a.cols());
    const int p = std::min(m, n);
    work_matrix_ = a;  // dgesdd destroys its input
    s_.resize(p);
    if (with_vectors) {
      u_.resize(m, p);
      vt_.resize(p, n);
    }
    if (p == 0) return;
    const char jobz = with_vectors ? 'S' : 'N';
    const int ldu = with_vectors ? m : 1;
    const int ldvt = with_vectors ? p : 1;
    double* u = with_vectors ? u_.data() : &dummy_;
    double* vt = with_vectors ? vt_.data() : &dummy_;
    iwork_.resize(8 * p);
    int info = 0;
    if (shape_ != Shape{m, n, with_vectors}) {  // workspace query once per shape
      int query = -1;
      double optimal = 0;
      dgesdd_(&jobz, &m, &n, work_matrix_.data(), &m, s_.data(), u, &ldu, vt, &ldvt, &optimal, &query, iwork_.data(),
              &info);
      work_.resize(static_cast<Eigen::Index>(optimal) + 1);
      shape_ = Shape{m, n, with_vectors};
    }
    const int lwork = static_cast<int>(work_.size());
    dgesdd_(&jobz, &m, &n, work_matrix_.data(), &m, s_.data(), u, &ldu, vt, &ldvt, work_.data(), &lwork, iwork_.data(),
            &info);
    if (info != 0) {
      throw std::runtime_error("LAPACK dgesdd failed (info=" + std::to_string(info) +
                               "): the matrix has NaN/Inf entries or the SVD did not converge");
    }
  }

  const Vector& singular_values() const { return s_; }
  const Matrix& u() const { return u_; }    // m x p
  const Matrix& vt() const { return vt_; }  // p x n

 private:
  struct Shape {
    int m = -1, n = -1;
    bool vectors = false;
    bool operator!=(const Shape& o) const { return m != o.m || n != o.n || vectors != o.vectors; }
  };
  Matrix work_matrix_, u_, vt_;
  Vector s_, work_;
  Eigen::VectorXi iwork_;
  double dummy_ = 0;
  Shape shape_;
};

// Runs the enclosed BLAS/LAPACK calls on the calling thread only: OpenBLAS splits even the
// O(k^2) matrix-vector products of a k x k reduction across its threads, which makes them
// several times slower for k <= 64 (measured 0.020 ms at one thread, 0.088 ms at two, k = 32).
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : threads_(openblas_get_num_threads()) {
    if (threads_ > 1) openblas_set_num_threads(1);
  }
  ~SingleThreadedBlas() {
    if (threads_ > 1) openblas_set_num_threads(threads_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int threads_;
};

// Eigenvalues (ascending) of a symmetric k x k matrix given by its lower triangle:
// tridiagonal reduction (dsytrd) then root-free QR (dsterf), no vectors. Backward stable:
// every eigenvalue is within a small multiple of k eps ||G|| of the exact one. Buffers are
// kept between calls.
class SymmetricEigenvalues {
 public:
  // Overwrites `g`. Returns false if LAPACK reports failure (NaN/Inf entries).
  bool compute(Matrix& g) {
    const int k = static_cast<int>(g.rows());
    values_.resize(k);
    off_diagonal_.resize(std::max(k, 1));
    tau_.resize(std::max(k, 1));
    int info = 0;
    if (k_ != k) {  // workspace query once per order
      int query = -1;
      double optimal = 0;
      dsytrd_("L", &k, g.data(), &k, values_.data(), off_diagonal_.data(), tau_.data(), &optimal, &query, &info);
      work_.resize(static_cast<Eigen::Index>(optimal) + 1);
      k_ = k;
    }
    const int lwork = static_cast<int>(work_.size());
    SingleThreadedBlas single_thread;
    dsytrd_("L", &k, g.data(), &k, values_.data(), off_diagonal_.data(), tau_.data(), work_.data(), &lwork, &info);
    if (info != 0) return false;
    dsterf_(&k, values_.data(), off_diagonal_.data(), &info);
    return info == 0;
  }

  const Vector& values() const { return values_; }

 private:
  Vector values_, off_diagonal_, tau_, work_;
  int k_ = -1;
};

// Singular values of A (descending). A square-ish matrix goes straight to the SVD. A thin
// one (one side at least twice the other) is reduced to a small k x k matrix, k = the small
// side, in one of two ways:
//  * Householder: the R factor of a QR of A (LAPACK dgeqrf), which has A's singular values.
//    Backward stable: every singular value is accurate to about eps * sigma_1. Costs
//    ~2 n k^2 flops in unblocked Level-2 code for k <= 128, and an n x k copy of A, made in
//    one buffer per thread shared by every calculator (a cell holds several, one per
//    recorded matrix).
//  * Gram (checked): the eigenvalues of G = A^T A (or A A^T), formed by one BLAS-3 rank-k
//    update (n k^2 flops, no copy of A), are the squared singular values. Squaring A squares
//    its condition number, so the result is accepted only when the smallest eigenvalue is
//    far enough above the rounding error of forming G and of its eigensolver
//    ((n + k) eps trace(G)) for EVERY singular value to be within a relative
//    kGramRelativeAccuracy of the exact one; otherwise (wide spread, rank deficiency, zero
//    matrix) the Householder route runs instead. So the Gram route changes cost, never the
//    stated accuracy. A calculator follows one matrix through a run, whose conditioning
//    changes slowly: after a refusal it goes straight to Householder and tries the Gram
//    route again only every kGramRetryInterval calls, so an ill-conditioned matrix does not
//    pay for both routes at every recording.
class SpectrumCalculator {
 public:
  enum class Route { Householder, Gram };
  static constexpr double kGramRelativeAccuracy = 1e-6;
  static constexpr int kGramRetryInterval = 8;

  explicit SpectrumCalculator(Route route = Route::Householder) : route_(route) {}

  const Vector& compute(const Eigen::Ref<const Matrix>& a) {
    const bool tall = a.rows() >= 2 * a.cols();
    const bool wide = a.cols() >= 2 * a.rows();
    used_gram_ = false;
    if (!tall && !wide) {
      svd_.compute(a, false);
      return svd_.singular_values();
    }
    if (route_ == Route::Gram && gram_due()) {
      used_gram_ = gram_route(a, tall);
      calls_since_refusal_ = used_gram_ ? kGramRetryInterval : 0;
      if (used_gram_) return gram_values_;
    }
    householder_r(a, tall);
    svd_.compute(r_, false);
    return svd_.singular_values();
  }

  // Whether the last compute() took the Gram route (for tests and benchmarks).
  bool used_gram() const { return used_gram_; }

 private:
  bool gram_due() { return calls_since_refusal_ >= kGramRetryInterval || ++calls_since_refusal_ >= kGramRetryInterval; }

  // Returns false (and leaves the work to the Householder route) when the Gram matrix
  // cannot give kGramRelativeAccuracy.
  bool gram_route(const Eigen::Ref<const Matrix>& a, bool tall) {
    const Eigen::Index k = tall ? a.cols() : a.rows();
    const Eigen::Index n = tall ? a.rows() : a.cols();
    gram_.resize(k, k);
    gram_.setZero();
    if (tall) {
      gram_.selfadjointView<Eigen::Lower>().rankUpdate(a.transpose());
    } else {
      gram_.selfadjointView<Eigen::Lower>().rankUpdate(a);
    }
    const double trace = gram_.trace();
    if (!(trace > 0.0) || !std::isfinite(trace)) return false;
    if (!eigenvalues_.compute(gram_)) return false;
    // |error of each computed eigenvalue| <= n eps trace (forming G, a worst-case bound) plus
    // k eps ||G|| <= k eps trace (the backward-stable eigensolver); a singular value's
    // relative error is half its eigenvalue's.
    const Vector& squared = eigenvalues_.values();  // ascending
    const double rounding = static_cast<double>(n + k) * std::numeric_limits<double>::epsilon() * trace;
    if (!(2.0 * kGramRelativeAccuracy * squared(0) >= rounding)) return false;
    gram_values_.resize(k);
    for (Eigen::Index i = 0; i < k; ++i) gram_values_(i) = std::sqrt(squared(k - 1 - i));
    return true;
  }

  // The buffer dgeqrf overwrites: one per thread, grown to the largest matrix seen, so
  // calculators of any shapes share it and repeated calls allocate nothing.
  static std::vector<double>& householder_buffer() {
    thread_local std::vector<double> buffer;
    return buffer;
  }

  // R of the QR of A (tall) or of A^T (wide).
  void householder_r(const Eigen::Ref<const Matrix>& a, bool tall) {
    const int m = static_cast<int>(tall ? a.rows() : a.cols());
    const int n = static_cast<int>(tall ? a.cols() : a.rows());
    std::vector<double>& buffer = householder_buffer();
    if (buffer.size() < static_cast<std::size_t>(m) * static_cast<std::size_t>(n))
      buffer.resize(static_cast<std::size_t>(m) * static_cast<std::size_t>(n));
    Eigen::Map<Matrix> qr(buffer.data(), m, n);
    if (tall) {
      qr = a;
    } else {
      qr = a.transpose();
    }
    tau_.resize(n);
    int info = 0;
    if (qr_shape_ != std::make_pair(m, n)) {
      int query = -1;
      double optimal = 0;
      dgeqrf_(&m, &n, qr.data(), &m, tau_.data(), &optimal, &query, &info);
      work_.resize(static_cast<Eigen::Index>(optimal) + 1);
      qr_shape_ = {m, n};
    }
    const int lwork = static_cast<int>(work_.size());
    dgeqrf_(&m, &n, qr.data(), &m, tau_.data(), work_.data(), &lwork, &info);
    if (info != 0) throw std::runtime_error("LAPACK dgeqrf failed (info=" + std::to_string(info) + ")");
    r_ = qr.topRows(n).triangularView<Eigen::Upper>();
  }

  Route route_;
  bool used_gram_ = false;
  int calls_since_refusal_ = kGramRetryInterval;  // Gram is tried first
  ThinSvd svd_;
  SymmetricEigenvalues eigenvalues_;
  Matrix r_, gram_;
  Vector tau_, work_, gram_values_;
  std::pair<int, int> qr_shape_{-1, -1};
};

// Random matrix with orthonormal columns, Haar-distributed (QR of a Gaussian matrix with
// the sign of R's diagonal folded into Q). rows >= cols. The Gaussian matrix takes
// rows * cols draws of a NormalSampler(0, 1) made for this call (column-major), so a value
// left in its cache is dropped when the call returns (docs/random.md).
inline Matrix haar_orthonormal(std::int64_t rows, std::int64_t cols, Rng& rng) {
  if (cols > rows) throw std::invalid_argument("haar_orthonormal: cols > rows");
  NormalSampler normal(0.0, 1.0);
  Matrix g(rows, cols);
  for (Eigen::Index j = 0; j < g.cols(); ++j)
    for (Eigen::Index i = 0; i < g.rows(); ++i) g(i, j) = normal(rng);
  Eigen::HouseholderQR<Matrix> qr(g);
  Matrix q = qr.householderQ() * Matrix::Identity(rows, cols);
  const Matrix r = qr.matrixQR();
  for (Eigen::Index j = 0; j < cols; ++j) {
    if (r(j, j) < 0) q.col(j) = -q.col(j);
  }
  return q;
}

}  // namespace muonlab
