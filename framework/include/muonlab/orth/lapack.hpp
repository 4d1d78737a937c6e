// LAPACK factorizations (shipped by OpenBLAS) used by the direct orthogonalizers, wrapped
// with workspaces that only grow: after a wrapper has been reserved for (or has seen) its
// largest problem, later calls allocate nothing. Matrices are contiguous column-major
// buffers whose leading dimension is their number of rows. Include from a plugin as
// <muonlab/orth/lapack.hpp>.
#pragma once

#include <muonlab/linalg.hpp>  // Eigen, dgeqrf_

#include <stdexcept>
#include <string>

extern "C" {
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau, double* work,
             const int* lwork, int* info);
void dgeqp3_(const int* m, const int* n, double* a, const int* lda, int* jpvt, double* tau, double* work,
             const int* lwork, int* info);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dgetrf_(const int* m, const int* n, double* a, const int* lda, int* ipiv, int* info);
void dgetri_(const int* n, double* a, const int* lda, const int* ipiv, double* work, const int* lwork, int* info);
void dgecon_(const char* norm, const int* n, const double* a, const int* lda, const double* anorm, double* rcond,
             double* work, int* iwork, int* info);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
             const int* lwork, int* iwork, const int* liwork, int* info);
void dtrtri_(const char* uplo, const char* diag, const int* n, double* a, const int* lda, int* info);
}

namespace muonlab::orth::lapack {

inline int to_int(Eigen::Index n) { return static_cast<int>(n); }

// info < 0 flags an invalid argument: a bug in the caller. info > 0 (a singular factor, an
// eigensolver that did not converge) is a property of the input and is handled by the
// wrappers that can meet it.
inline void check_arguments(const char* routine, int info) {
  if (info < 0) {
    throw std::logic_error(std::string("LAPACK ") + routine + ": argument " + std::to_string(-info) + " is invalid");
  }
}

// A buffer that grows to the largest size asked for and never shrinks.
template <class Scalar>
class GrowingBuffer {
 public:
  Scalar* get(Eigen::Index size) {
    if (data_.size() < size) data_.resize(size);
    return data_.data();
  }
  const Scalar* data() const { return data_.data(); }
  int size() const { return to_int(data_.size()); }
  // Grows to the optimal size a workspace query (lwork = -1) returned.
  void grow_to_query(double optimal) { get(static_cast<Eigen::Index>(optimal) + 1); }

 private:
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> data_;
};

// Workspace queries read no array, but are given valid pointers all the same.
struct QueryDummies {
  double a[1] = {0};
  int i[1] = {0};
};

// Householder QR A = Q R (dgeqrf) and the explicit thin Q (dorgqr), in place on a
// rows x cols buffer, rows >= cols.
class HouseholderQr {
 public:
  // Sizes the workspaces for problems up to rows x cols.
  void reserve(Eigen::Index rows, Eigen::Index cols) {
    query(to_int(rows), to_int(cols));
    tau_.get(cols);
  }

  // On return R is in the upper triangle and the reflectors below it.
  void factor(double* a, Eigen::Index rows, Eigen::Index cols) {
    const int m = to_int(rows), n = to_int(cols);
    query(m, n);
    const int lwork = work_.size();
    int info = 0;
    dgeqrf_(&m, &n, a, &m, tau_.get(cols), work_.get(0), &lwork, &info);
    check_arguments("dgeqrf", info);
  }

  // Overwrites the factored buffer with the first `columns` columns of Q. These only
  // depend on the first `columns` reflectors, so columns may be less than cols.
  void form_q(double* a, Eigen::Index rows, Eigen::Index columns) {
    const int m = to_int(rows), n = to_int(columns);
    query(m, n);
    const int lwork = work_.size();
    int info = 0;
    dorgqr_(&m, &n, &n, a, &m, tau_.get(columns), work_.get(0), &lwork, &info);
    check_arguments("dorgqr", info);
  }

 protected:
  // One query per shape for dgeqrf, dgeqp3 (used by PivotedQr) and dorgqr; the workspace
  // takes the largest answer.
  void query(int m, int n) {
    if (m == queried_rows_ && n == queried_cols_) return;
    const int minus_one = -1;
    int info = 0;
    double optimal = 0;
    dgeqrf_(&m, &n, dummies_.a, &m, dummies_.a, &optimal, &minus_one, &info);
    work_.grow_to_query(optimal);
    dgeqp3_(&m, &n, dummies_.a, &m, dummies_.i, dummies_.a, &optimal, &minus_one, &info);
    work_.grow_to_query(optimal);
    dorgqr_(&m, &n, &n, dummies_.a, &m, dummies_.a, &optimal, &minus_one, &info);
    work_.grow_to_query(optimal);
    queried_rows_ = m;
    queried_cols_ = n;
  }

  GrowingBuffer<double> tau_, work_;
  QueryDummies dummies_;
  int queried_rows_ = -1, queried_cols_ = -1;
};

// QR with column pivoting A P = Q R (dgeqp3): |R_11| >= |R_22| >= ..., so the diagonal of
// R reveals the numerical rank. Q is formed as for HouseholderQr.
class PivotedQr : public HouseholderQr {
 public:
  void reserve(Eigen::Index rows, Eigen::Index cols) {
    HouseholderQr::reserve(rows, cols);
    pivots_.get(cols);
  }

  void factor(double* a, Eigen::Index rows, Eigen::Index cols) {
    const int m = to_int(rows), n = to_int(cols);
    query(m, n);
    int* pivots = pivots_.get(cols);
    for (int j = 0; j < n; ++j) pivots[j] = 0;  // every column is free to move
    const int lwork = work_.size();
    int info = 0;
    dgeqp3_(&m, &n, a, &m, pivots, tau_.get(cols), work_.get(0), &lwork, &info);
    check_arguments("dgeqp3", info);
  }

  // Original (0-based) index of the column that pivoting moved to position j.
  int original_column(Eigen::Index j) const { return pivots_.data()[j] - 1; }

 private:
  GrowingBuffer<int> pivots_;
};

// LU factorization with partial pivoting (dgetrf), its 1-norm reciprocal condition
// estimate (dgecon) and the inverse (dgetri), in place on an n x n buffer.
class LuInverse {
 public:
  void reserve(Eigen::Index n) {
    query(to_int(n));
    pivots_.get(n);
    condition_work_.get(4 * n);
    condition_iwork_.get(n);
  }

  // Returns false when a pivot is exactly zero (the matrix is singular).
  bool factor(double* a, Eigen::Index n) {
    const int size = to_int(n);
    int info = 0;
    dgetrf_(&size, &size, a, &size, pivots_.get(n), &info);
    check_arguments("dgetrf", info);
    return info == 0;
  }

  // Estimate of 1 / (||A||_1 ||A^{-1}||_1) from the factors; norm_1 = ||A||_1 before
  // factoring.
  double reciprocal_condition(const double* factored, Eigen::Index n, double norm_1) {
    const int size = to_int(n);
    const char norm = '1';
    double rcond = 0;
    int info = 0;
    dgecon_(&norm, &size, factored, &size, &norm_1, &rcond, condition_work_.get(4 * n), condition_iwork_.get(n), &info);
    check_arguments("dgecon", info);
    return rcond;
  }

  // Overwrites the factors with A^{-1}.
  void invert(double* factored, Eigen::Index n) {
    const int size = to_int(n);
    query(size);
    const int lwork = work_.size();
    int info = 0;
    dgetri_(&size, factored, &size, pivots_.get(n), work_.get(0), &lwork, &info);
    check_arguments("dgetri", info);
  }

 private:
  void query(int n) {
    if (n == queried_) return;
    const int minus_one = -1;
    int info = 0;
    double optimal = 0;
    dgetri_(&n, dummies_.a, &n, dummies_.i, &optimal, &minus_one, &info);
    work_.grow_to_query(optimal);
    queried_ = n;
  }

  GrowingBuffer<double> work_, condition_work_;
  GrowingBuffer<int> pivots_, condition_iwork_;
  QueryDummies dummies_;
  int queried_ = -1;
};

// Symmetric eigendecomposition A = V diag(w) V^T by divide and conquer (dsyevd), reading
// the lower triangle; eigenvalues ascending, V overwrites A.
class SymmetricEigen {
 public:
  void reserve(Eigen::Index n) { query(to_int(n)); }

  void compute(double* a, double* eigenvalues, Eigen::Index n) {
    const int size = to_int(n);
    query(size);
    const char jobz = 'V', uplo = 'L';
    const int lwork = work_.size(), liwork = iwork_.size();
    int info = 0;
    dsyevd_(&jobz, &uplo, &size, a, &size, eigenvalues, work_.get(0), &lwork, iwork_.get(0), &liwork, &info);
    check_arguments("dsyevd", info);
    if (info > 0) {
      throw std::runtime_error(
          "LAPACK dsyevd: the symmetric eigensolver did not converge (info=" + std::to_string(info) + ")");
    }
  }

 private:
  void query(int n) {
    if (n == queried_) return;
    const char jobz = 'V', uplo = 'L';
    const int minus_one = -1;
    int info = 0;
    double optimal = 0;
    int optimal_i = 0;
    dsyevd_(&jobz, &uplo, &n, dummies_.a, &n, dummies_.a, &optimal, &minus_one, &optimal_i, &minus_one, &info);
    work_.grow_to_query(optimal);
    iwork_.get(optimal_i);
    queried_ = n;
  }

  GrowingBuffer<double> work_;
  GrowingBuffer<int> iwork_;
  QueryDummies dummies_;
  int queried_ = -1;
};

// Cholesky A = U^T U (dpotrf, upper triangle) in place. Returns false when A is not
// numerically positive definite.
inline bool cholesky_upper(double* a, Eigen::Index n) {
  const int size = to_int(n);
  const char uplo = 'U';
  int info = 0;
  dpotrf_(&uplo, &size, a, &size, &info);
  check_arguments("dpotrf", info);
  return info == 0;
}

// Inverse of an upper triangular n x n matrix in place (dtrtri). Returns false when a
// diagonal entry is exactly zero.
inline bool invert_upper_triangular(double* a, Eigen::Index n) {
  const int size = to_int(n);
  const char uplo = 'U', diag = 'N';
  int info = 0;
  dtrtri_(&uplo, &diag, &size, a, &size, &info);
  check_arguments("dtrtri", info);
  return info == 0;
}

}  // namespace muonlab::orth::lapack
