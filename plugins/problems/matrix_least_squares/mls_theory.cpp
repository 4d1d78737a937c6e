// Exact predictions for matrix_least_squares (mls_theory.hpp, README.md "Theory").
#include "mls_theory.hpp"

#include <muonlab/optim/shape_scale.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace mls_theory {

using muonlab::NamedArray;

namespace {

double real_or(const muonlab::Params& params, const char* name, double fallback) {
  return params.has(name) ? params.real(name) : fallback;
}

// Momentum mixes past gradients and weight decay shrinks every direction: with either, the
// per-mode sign recursion no longer describes Muon.
bool is_simplified_muon(const muonlab::TheoryRequest& request) {
  const muonlab::Params& p = request.optimizer_params;
  return request.optimizer == "muon" && real_or(p, "momentum", 0.0) == 0.0 && real_or(p, "weight_decay", 0.0) == 0.0;
}

// eta_t for t < last, as the optimizer reported them; gd without them falls back to its lr.
std::vector<double> step_sizes(const muonlab::TheoryRequest& request, std::int64_t last) {
  if (static_cast<std::int64_t>(request.step_sizes.size()) >= last) return request.step_sizes;
  if (request.optimizer == "gd") {
    return std::vector<double>(static_cast<std::size_t>(last), request.optimizer_params.real("lr"));
  }
  throw std::invalid_argument("matrix_least_squares theory: " + request.optimizer + " reported " +
                              std::to_string(request.step_sizes.size()) + " step sizes, but step " +
                              std::to_string(last) + " needs that many");
}

double sign(double value) { return static_cast<double>((value > 0.0) - (value < 0.0)); }

// 1/2 sum_i c_i e_i^2.
double gap_of(const Vector& curvature, const Vector& error) {
  return 0.5 * (curvature.array() * error.array().square()).sum();
}

// GD: every coordinate of D is multiplied by (1 - eta_t c) per step. The gap is tracked as
// sum_k c_k w_k prod_t (1 - eta_t c_k)^2 with the factor applied to the squared coordinate.
Matrix gd_rel_gap(const Frame& frame, const std::vector<std::int64_t>& steps, const std::vector<double>& etas) {
  Vector squared = frame.weight;
  const double gap0 = 0.5 * (frame.curvature.array() * squared.array()).sum();
  Matrix out(static_cast<Eigen::Index>(steps.size()), 1);
  std::int64_t t = 0;
  for (std::size_t j = 0; j < steps.size(); ++j) {
    for (; t < steps[j]; ++t) {
      const double eta = etas[static_cast<std::size_t>(t)];
      squared.array() *= (1.0 - eta * frame.curvature.array()).square();
    }
    out(static_cast<Eigen::Index>(j), 0) = 0.5 * (frame.curvature.array() * squared.array()).sum() / gap0;
  }
  return out;
}

struct ModeRun {
  Matrix modes;    // [T x n] z_i(t)
  Matrix rel_gap;  // [T x 1]
};

// The per-mode recursion on the shared basis: e_i <- e_i - eta_t s sign(e_i) (muon) or
// e_i <- (1 - eta_t c_i) e_i (gd), with e_i = z_i - x*_i.
ModeRun mode_recursion(const Frame& frame, bool muon, double scale, const std::vector<std::int64_t>& steps,
                       const std::vector<double>& etas) {
  Vector error = frame.mode_start - frame.mode_target;
  const double gap0 = gap_of(frame.mode_curvature, error);
  const Eigen::Index rows = static_cast<Eigen::Index>(steps.size());
  ModeRun out{Matrix(rows, error.size()), Matrix(rows, 1)};
  std::int64_t t = 0;
  for (Eigen::Index j = 0; j < rows; ++j) {
    for (; t < steps[static_cast<std::size_t>(j)]; ++t) {
      const double eta = etas[static_cast<std::size_t>(t)];
      for (Eigen::Index i = 0; i < error.size(); ++i) {
        error(i) -= muon ? eta * scale * sign(error(i)) : eta * frame.mode_curvature(i) * error(i);
      }
    }
    out.modes.row(j) = (frame.mode_target + error).transpose();
    out.rel_gap(j, 0) = gap_of(frame.mode_curvature, error) / gap0;
  }
  return out;
}

bool constant(const std::vector<double>& etas, std::int64_t count) {
  if (count <= 0) return false;
  for (std::int64_t t = 1; t < count; ++t) {
    if (etas[static_cast<std::size_t>(t)] != etas[0]) return false;
  }
  return true;
}

void check_steps(const std::vector<std::int64_t>& steps) {
  if (!std::is_sorted(steps.begin(), steps.end()) || (!steps.empty() && steps.front() < 0)) {
    throw std::invalid_argument("matrix_least_squares theory: requested steps must be non-negative and ascending");
  }
}

}  // namespace

std::vector<NamedArray> predict(const muonlab::TheoryRequest& request, const Frame& frame) {
  const bool gd = request.optimizer == "gd";
  const bool muon = is_simplified_muon(request);
  if (!frame.deterministic || (!gd && !muon)) return {};
  check_steps(request.steps);
  const std::int64_t last = request.steps.empty() ? 0 : request.steps.back();
  const std::vector<double> etas = step_sizes(request, last);
  const bool shared = frame.mode_start.size() > 0;

  double scale = 1.0;
  if (muon) {
    const muonlab::Params& p = request.optimizer_params;
    const std::string scaling = p.has("scaling") ? p.text("scaling") : "none";
    scale = muonlab::optim::shape_scale(muonlab::optim::parse_shape_scaling(scaling, "muon"), frame.rows, frame.cols);
  }

  std::vector<NamedArray> out;
  if (shared) {
    ModeRun run = mode_recursion(frame, muon, scale, request.steps, etas);
    out.push_back({"modes", std::move(run.modes),
                   muon ? "predicted q_i^T X_t p_i from z_i <- z_i - eta_t s sign(z_i - x*_i)"
                        : "predicted q_i^T X_t p_i from e_i <- (1 - eta_t c_i) e_i"});
    out.push_back({"rel_gap", std::move(run.rel_gap), "(f - f*) / (f_0 - f*) from the predicted modes"});
  } else if (gd) {
    out.push_back({"rel_gap", gd_rel_gap(frame, request.steps, etas),
                   "(f - f*) / (f_0 - f*) from the eigen-coordinates of X_0 - X* under (1 - eta_t c)"});
  }
  if (muon && frame.one_sided && frame.rows <= frame.cols && constant(etas, last)) {
    out.push_back({"cycle_nuclear_norm", Matrix::Constant(1, 1, 0.5 * etas[0] * scale * frame.hessian_trace),
                   "eta s tr(H) / 2: mean ||grad||_* over the 2-cycle of constant-step Muon (n <= m, "
                   "gradient of full row rank in the cycle)"});
  }
  return out;
}

}  // namespace mls_theory
