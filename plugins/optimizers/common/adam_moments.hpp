// Adam's element-wise moment estimates with exact bias correction (algorithms.md 2.4), shared
// by adam, adamw and (second moment only) adamuon:
//
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2;   t = 1, 2, ... counts the steps taken
//   step = lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)      (0 where m_hat = 0)
//
// AdamMoments owns m and v for every block (sized in initialize(), so step() allocates
// nothing); the free functions are the per-element formulas for plugins that keep their own
// buffers. Every formula keeps the order of floating-point operations of the original
// plugins, so results are bit-identical to the inline code they replace.
#pragma once

#include <muonlab/types.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace muonlab::optim {

// v <- b2 v + (1 - b2) g^2.
inline double update_second_moment(double& v, double beta2, double g) {
  v = beta2 * v + (1.0 - beta2) * g * g;
  return v;
}

// m <- b1 m + (1 - b1) g.
inline double update_first_moment(double& m, double beta1, double g) {
  m = beta1 * m + (1.0 - beta1) * g;
  return m;
}

// sqrt(v / (1 - b2^t)) + eps, the denominator of the Adam step.
inline double adam_denominator(double v, double second_correction, double eps) {
  return std::sqrt(v / second_correction) + eps;
}

// The bias corrections 1 - b1^t and 1 - b2^t of step t (t = 1 on the first step).
struct AdamBiasCorrection {
  double first = 1.0;   // 1 - beta1^t
  double second = 1.0;  // 1 - beta2^t
};

class AdamMoments {
 public:
  AdamMoments(double beta1, double beta2, double eps) : beta1_(beta1), beta2_(beta2), eps_(eps) {}

  // Zero moments sized like the blocks; the step count restarts.
  void initialize(const std::vector<BlockSpec>& blocks) {
    first_.clear();
    second_.clear();
    for (const BlockSpec& block : blocks) {
      first_.push_back(Matrix::Zero(block.rows, block.cols));
      second_.push_back(Matrix::Zero(block.rows, block.cols));
    }
    steps_taken_ = 0;
  }

  // Counts one more step and returns its bias corrections.
  AdamBiasCorrection advance() {
    ++steps_taken_;
    const double t = static_cast<double>(steps_taken_);
    return {1.0 - std::pow(beta1_, t), 1.0 - std::pow(beta2_, t)};
  }

  // m and v of block b (element i of the block at data()[i], column-major).
  Matrix& first(std::size_t b) { return first_[b]; }
  Matrix& second(std::size_t b) { return second_[b]; }

  // Updates one element's m and v with gradient g and returns the Adam step
  // lr * m_hat / (sqrt(v_hat) + eps), or exactly 0 where m_hat = 0 (no step: keeps eps = 0
  // with g = 0 at 0 instead of 0/0, so beta1 = beta2 = eps = 0 is signSGD with sign(0) = 0).
  double element_step(double& m, double& v, double g, double lr, const AdamBiasCorrection& c) const {
    update_first_moment(m, beta1_, g);
    update_second_moment(v, beta2_, g);
    const double m_hat = m / c.first;
    if (m_hat == 0.0) return 0.0;
    return lr * m_hat / adam_denominator(v, c.second, eps_);
  }

 private:
  const double beta1_, beta2_, eps_;
  std::vector<Matrix> first_, second_;  // m and v, one per block
  std::int64_t steps_taken_ = 0;
};

}  // namespace muonlab::optim
