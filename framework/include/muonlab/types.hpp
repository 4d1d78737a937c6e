// Matrix types and small descriptive records shared by every plugin interface.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

#include "muonlab/abi.hpp"

// Core and plugins must agree on how Eigen dispatches products (one-definition rule), so
// EIGEN_USE_BLAS comes from the muonlab::api CMake target, never from a source file.
#ifndef EIGEN_USE_BLAS
#error "muonlab code is built with EIGEN_USE_BLAS; link the muonlab::api CMake target"
#endif

namespace muonlab {

using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;
using MatrixMap = Eigen::Map<Eigen::MatrixXd>;
using ConstMatrixMap = Eigen::Map<const Eigen::MatrixXd>;

// A matrix parameter of a problem (also the shape of its gradient and update).
struct BlockSpec {
  std::string name;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::string doc;
};

// A named scalar series: a problem metric or an optimizer diagnostic.
struct ScalarSpec {
  std::string name;
  std::string unit;  // "1" for dimensionless
  std::string doc;
};

// A named array of the problem instance (target factors, spectra, ...), or one row of
// an observable, or one theory series. Column-major, like Eigen.
struct NamedArray {
  std::string name;
  Matrix value;
  std::string doc;
};

// Non-owning list of matrix views handed across the boundary.
class Blocks {
 public:
  Blocks(MatrixView* views, std::size_t count) : views_(views), count_(count) {}
  std::size_t size() const { return count_; }
  MatrixMap operator[](std::size_t i) const { return MatrixMap(views_[i].data, views_[i].rows, views_[i].cols); }

 private:
  MatrixView* views_;
  std::size_t count_;
};

class ConstBlocks {
 public:
  ConstBlocks(const MatrixView* views, std::size_t count) : views_(views), count_(count) {}
  std::size_t size() const { return count_; }
  ConstMatrixMap operator[](std::size_t i) const {
    return ConstMatrixMap(views_[i].data, views_[i].rows, views_[i].cols);
  }

 private:
  const MatrixView* views_;
  std::size_t count_;
};

// What an orthogonalizer call cost, as counted by the method itself.
struct OrthogonalizerCost {
  std::int64_t gemms = 0;  // matrix-matrix products
  double flops = 0.0;      // 2*m*n*k per (m x k)(k x n) product, plus factorizations
};

}  // namespace muonlab
