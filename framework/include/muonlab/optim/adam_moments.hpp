// Adam's element-wise moment estimates with exact bias correction (docs/algorithms.md 2.4), shared
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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "muonlab/optim/block_check.hpp"
#include "muonlab/optim/step_schedule.hpp"

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

// Where weight decay enters an Adam block pass (AdamMoments::update_block):
//   Coupled    (adam):  g = G + weight_decay W, then W <- W - step
//   Decoupled  (adamw): g = G,                  then W <- (1 - eta weight_decay) W - step
enum class WeightDecay { Coupled, Decoupled };

// What one block pass needs besides the arrays: this step's eta, bias corrections, and the
// decay factor (weight_decay for Coupled, the shrink 1 - eta weight_decay for Decoupled).
struct AdamStepScalars {
  double lr = 0.0;
  AdamBiasCorrection correction;
  double decay = 0.0;
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

  // The Adam update of one whole block in place: for each element, g as `Decay` says, m and
  // v updated, W moved by element_step's step. Two elements at a time with SSE2 (3 divisions
  // and a square root per element make the scalar loop cost as much as a GEMM on the
  // factored target); the packed operations are the scalar ones in the same order, and
  // IEEE division and square root round the same way packed or not, so the result is bit
  // for bit that of element_step (tested).
  template <WeightDecay Decay>
  void step_block(double* w, const double* grad, double* m, double* v, Eigen::Index size,
                  const AdamStepScalars& step) const {
    Eigen::Index i = 0;
#if defined(__SSE2__)
    i = update_pairs<Decay>(w, grad, m, v, size, step);
#endif
    for (; i < size; ++i) update_element<Decay>(w[i], grad[i], m[i], v[i], step);
  }

 private:
  template <WeightDecay Decay>
  void update_element(double& w, double grad, double& m, double& v, const AdamStepScalars& step) const {
    if constexpr (Decay == WeightDecay::Coupled) {
      w -= element_step(m, v, grad + step.decay * w, step.lr, step.correction);
    } else {
      const double adam_step = element_step(m, v, grad, step.lr, step.correction);
      w *= step.decay;
      w -= adam_step;
    }
  }

#if defined(__SSE2__)
  // update_element on elements [0, 2 floor(size / 2)); returns the first element not done.
  template <WeightDecay Decay>
  Eigen::Index update_pairs(double* w, const double* grad, double* m, double* v, Eigen::Index size,
                            const AdamStepScalars& step) const {
    const __m128d beta1 = _mm_set1_pd(beta1_), rest1 = _mm_set1_pd(1.0 - beta1_);
    const __m128d beta2 = _mm_set1_pd(beta2_), rest2 = _mm_set1_pd(1.0 - beta2_);
    const __m128d first = _mm_set1_pd(step.correction.first), second = _mm_set1_pd(step.correction.second);
    const __m128d eps = _mm_set1_pd(eps_), lr = _mm_set1_pd(step.lr), decay = _mm_set1_pd(step.decay);
    const __m128d zero = _mm_setzero_pd();
    Eigen::Index i = 0;
    for (; i + 2 <= size; i += 2) {
      __m128d wi = _mm_loadu_pd(w + i);
      __m128d g = _mm_loadu_pd(grad + i);
      if constexpr (Decay == WeightDecay::Coupled) g = _mm_add_pd(g, _mm_mul_pd(decay, wi));
      const __m128d mi = _mm_add_pd(_mm_mul_pd(beta1, _mm_loadu_pd(m + i)), _mm_mul_pd(rest1, g));
      const __m128d vi = _mm_add_pd(_mm_mul_pd(beta2, _mm_loadu_pd(v + i)), _mm_mul_pd(_mm_mul_pd(rest2, g), g));
      _mm_storeu_pd(m + i, mi);
      _mm_storeu_pd(v + i, vi);
      const __m128d m_hat = _mm_div_pd(mi, first);
      const __m128d denominator = _mm_add_pd(_mm_sqrt_pd(_mm_div_pd(vi, second)), eps);
      // element_step's "0 where m_hat = 0": clear the lanes whose m_hat compares equal to 0.
      const __m128d adam_step =
          _mm_andnot_pd(_mm_cmpeq_pd(m_hat, zero), _mm_div_pd(_mm_mul_pd(lr, m_hat), denominator));
      if constexpr (Decay == WeightDecay::Decoupled) wi = _mm_mul_pd(wi, decay);
      _mm_storeu_pd(w + i, _mm_sub_pd(wi, adam_step));
    }
    return i;
  }
#endif

  const double beta1_, beta2_, eps_;
  std::vector<Matrix> first_, second_;  // m and v, one per block
  std::int64_t steps_taken_ = 0;
};

// The optimizer shared by adam and adamw: the schedule, the moments, weight_decay and the
// "lr" diagnostic. The two differ only in where weight decay enters (`WeightDecay`), which
// the plugin names at construction.
class AdamOptimizer : public Optimizer {
 public:
  AdamOptimizer(const Params& params, std::string name, WeightDecay decay)
      : name_(std::move(name)),
        schedule_(StepSchedule::from_params(params, name_)),
        moments_(params.real("beta1"), params.real("beta2"), params.real("eps")),
        decay_(decay),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<BlockSpec>& blocks) override {
    blocks_ = blocks;
    moments_.initialize(blocks);
  }

  void step(std::int64_t iteration, Blocks params, ConstBlocks grads, const GradientSource& /*source*/) override {
    check_block_shapes(name_, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
    AdamStepScalars scalars;
    scalars.lr = eta_;
    // The bias correction counts the updates folded into m and v (t = 1 on the first step).
    scalars.correction = moments_.advance();
    // Decoupled: (1 - eta wd) is exactly 1 for wd = 0, so W is not perturbed then.
    scalars.decay = decay_ == WeightDecay::Coupled ? weight_decay_ : 1.0 - eta_ * weight_decay_;
    for (std::size_t b = 0; b < params.size(); ++b) step_block(params[b], grads[b], b, scalars);
  }

  double step_size() const override { return eta_; }
  std::vector<ScalarSpec> diagnostics() const override { return {{"lr", "1", "step size eta_t used at this step"}}; }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  void step_block(MatrixMap w, ConstMatrixMap grad, std::size_t b, const AdamStepScalars& scalars) {
    double* m = moments_.first(b).data();
    double* v = moments_.second(b).data();
    if (decay_ == WeightDecay::Coupled) {
      moments_.step_block<WeightDecay::Coupled>(w.data(), grad.data(), m, v, w.size(), scalars);
    } else {
      moments_.step_block<WeightDecay::Decoupled>(w.data(), grad.data(), m, v, w.size(), scalars);
    }
  }

  const std::string name_;
  const StepSchedule schedule_;
  AdamMoments moments_;
  const WeightDecay decay_;
  const double weight_decay_;
  std::vector<BlockSpec> blocks_;
  double eta_ = 0.0;
};

}  // namespace muonlab::optim
