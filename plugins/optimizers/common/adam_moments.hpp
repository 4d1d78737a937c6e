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

#include <muonlab/plugin.hpp>
#include <muonlab/types.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "block_check.hpp"
#include "step_schedule.hpp"

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

// The optimizer shared by adam and adamw: the schedule, the moments, weight_decay and the
// "lr" diagnostic. A derived plugin writes update_block, its element-wise pass over one block
// (where the weight decay enters: coupled into g, or decoupled on W).
class AdamOptimizer : public Optimizer {
 public:
  AdamOptimizer(const Params& params, std::string name)
      : name_(std::move(name)),
        schedule_(StepSchedule::from_params(params, name_)),
        moments_(params.real("beta1"), params.real("beta2"), params.real("eps")),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<BlockSpec>& blocks) override {
    blocks_ = blocks;
    moments_.initialize(blocks);
  }

  void step(std::int64_t iteration, Blocks params, ConstBlocks grads) override {
    check_block_shapes(name_, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
    // The bias correction counts the updates folded into m and v (t = 1 on the first step).
    const AdamBiasCorrection correction = moments_.advance();
    for (std::size_t b = 0; b < params.size(); ++b) {
      update_block(params[b], grads[b], moments_.first(b), moments_.second(b), correction);
    }
  }

  std::vector<ScalarSpec> diagnostics() const override { return {{"lr", "1", "step size eta_t used at this step"}}; }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 protected:
  // One pass over a block: W from G, its moments m and v, this step's bias corrections.
  virtual void update_block(MatrixMap w, ConstMatrixMap grad, Matrix& m, Matrix& v,
                            const AdamBiasCorrection& correction) const = 0;

  double eta() const { return eta_; }  // eta_t of the current step
  double weight_decay() const { return weight_decay_; }
  const AdamMoments& moments() const { return moments_; }

 private:
  const std::string name_;
  const StepSchedule schedule_;
  AdamMoments moments_;
  const double weight_decay_;
  std::vector<BlockSpec> blocks_;
  double eta_ = 0.0;
};

}  // namespace muonlab::optim
