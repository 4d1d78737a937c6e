#include "theory.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace muonlab_icl {

namespace {

// Steps must be ascending and covered by the step sizes (eta_t for t < step).
void check_steps(const std::vector<double>& step_sizes, const std::vector<std::int64_t>& steps) {
  std::int64_t previous = 0;
  for (std::int64_t s : steps) {
    if (s < previous) throw std::invalid_argument("icl_linear_transformer: theory steps must be ascending");
    if (s > static_cast<std::int64_t>(step_sizes.size())) {
      throw std::invalid_argument("icl_linear_transformer: theory step " + std::to_string(s) + " needs " +
                                  std::to_string(s) + " step sizes, the run reported " +
                                  std::to_string(step_sizes.size()));
    }
    previous = s;
  }
}

double sign(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

// Largest singular value of a 2 x 2 matrix [[p, q], [r, s]].
double norm2x2(double p, double q, double r, double s) {
  const double frob_sq = p * p + q * q + r * r + s * s;
  const double det = p * s - q * r;
  return std::sqrt(0.5 * (frob_sq + std::sqrt(std::max(0.0, frob_sq * frob_sq - 4.0 * det * det))));
}

// Cumulative products of the linearized off-diagonal maps, one per pair i < j. Each product
// is kept with unit norm and its log-scale apart, so long runs neither overflow nor underflow.
class OffDiagonalGain {
 public:
  explicit OffDiagonalGain(const DataModel& model)
      : model_(model), pairs_(static_cast<std::size_t>(model.d * (model.d - 1) / 2)) {
    products_.assign(pairs_ * 4, 0.0);
    for (std::size_t k = 0; k < pairs_; ++k) products_[4 * k] = products_[4 * k + 3] = 1.0;
    log_scale_.assign(pairs_, 0.0);
  }

  // One step with step size eta (times the update scale) at the pre-step coordinates gamma.
  void advance(const Vector& gamma, double eta) {
    const Eigen::Index d = model_.d;
    std::size_t k = 0;
    for (Eigen::Index i = 0; i < d; ++i) {
      const double e_i = gamma(i) - model_.gamma_star(i);
      for (Eigen::Index j = i + 1; j < d; ++j, ++k) {
        const double e_j = gamma(j) - model_.gamma_star(j);
        const double weight = model_.h(i) * std::abs(e_i) + model_.h(j) * std::abs(e_j);
        if (weight == 0.0) {  // a zero gradient block: the polar factor is not differentiable
          worst_log_ = std::numeric_limits<double>::infinity();
          continue;
        }
        const double alpha = eta / weight, s = sign(e_i) * sign(e_j);
        const double a = model_.hessian(i, j), b = model_.hessian(j, i);
        const double m00 = 1.0 - alpha * a, m01 = alpha * s * b, m10 = alpha * s * a, m11 = 1.0 - alpha * b;
        double* p = &products_[4 * k];  // column-major 2 x 2
        const double p00 = m00 * p[0] + m01 * p[1], p10 = m10 * p[0] + m11 * p[1];
        const double p01 = m00 * p[2] + m01 * p[3], p11 = m10 * p[2] + m11 * p[3];
        const double norm = norm2x2(p00, p01, p10, p11);
        if (norm == 0.0) continue;
        p[0] = p00 / norm, p[1] = p10 / norm, p[2] = p01 / norm, p[3] = p11 / norm;
        log_scale_[k] += std::log(norm);
        worst_log_ = std::max(worst_log_, log_scale_[k]);
      }
    }
  }

  double gain() const { return std::exp(std::min(worst_log_, 700.0)); }

 private:
  const DataModel& model_;
  std::size_t pairs_;
  std::vector<double> products_;   // 4 per pair
  std::vector<double> log_scale_;  // per pair
  double worst_log_ = 0.0;         // ||I|| = 1 before any step
};

}  // namespace

Prediction predict_gd(const DataModel& model, double loss_scale, const Matrix& initial_delta_tilde,
                      const std::vector<double>& step_sizes, const std::vector<std::int64_t>& steps) {
  check_steps(step_sizes, steps);
  const Matrix curvature = loss_scale * model.hessian;  // c H_ij
  Prediction out{Matrix(steps.size(), model.d), Vector(steps.size()), Vector()};
  Matrix delta = initial_delta_tilde;
  std::int64_t t = 0;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    for (; t < steps[k]; ++t) {
      delta.array() *= 1.0 - step_sizes[static_cast<std::size_t>(t)] * curvature.array();
    }
    out.gamma.row(static_cast<Eigen::Index>(k)) = (model.gamma_star + delta.diagonal()).transpose();
    out.loss_gap(static_cast<Eigen::Index>(k)) = 0.5 * (curvature.array() * delta.array().square()).sum();
  }
  return out;
}

Prediction predict_muon(const DataModel& model, double loss_scale, const Vector& initial_gamma,
                        const std::vector<double>& step_sizes, double update_scale,
                        const std::vector<std::int64_t>& steps) {
  check_steps(step_sizes, steps);
  Prediction out{Matrix(steps.size(), model.d), Vector(steps.size()), Vector(steps.size())};
  Vector gamma = initial_gamma;
  OffDiagonalGain gain(model);
  std::int64_t t = 0;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    for (; t < steps[k]; ++t) {
      const double eta = step_sizes[static_cast<std::size_t>(t)] * update_scale;
      gain.advance(gamma, eta);
      for (Eigen::Index i = 0; i < model.d; ++i) gamma(i) -= eta * sign(gamma(i) - model.gamma_star(i));
    }
    out.gamma.row(static_cast<Eigen::Index>(k)) = gamma.transpose();
    out.off_diagonal_gain(static_cast<Eigen::Index>(k)) = gain.gain();
    out.loss_gap(static_cast<Eigen::Index>(k)) =
        0.5 * loss_scale * (model.h.array() * (gamma - model.gamma_star).array().square()).sum();
  }
  return out;
}

}  // namespace muonlab_icl
