// Spectral observables and scalar-recursion predictions (mf_theory.hpp, README.md).
#include "mf_theory.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace mf_theory {

using muonlab::NamedArray;
using muonlab::ScalarSpec;

// ---- observables --------------------------------------------------------------------

FactorProjection::FactorProjection(const Matrix& basis, std::int64_t k)
    : basis_(&basis), along_(basis.cols(), k), off_(std::min<Eigen::Index>(kRowBlock, basis.rows()), k) {}

void FactorProjection::compute(const ConstMatrixMap& factor) {
  const Matrix& basis = *basis_;
  along_.noalias() = basis.transpose() * factor;
  residual_squared_ = 0.0;
  for (Eigen::Index start = 0; start < factor.rows(); start += kRowBlock) {
    const Eigen::Index rows = std::min(kRowBlock, factor.rows() - start);
    auto off = off_.topRows(rows);
    off = factor.middleRows(start, rows);
    off.noalias() -= basis.middleRows(start, rows) * along_;
    residual_squared_ += off.squaredNorm();
  }
}

Vector FactorProjection::mode_magnitudes() const { return along_.rowwise().norm(); }

Vector FactorProjection::aligned_singular_values() {
  svd_.compute(along_, /*with_vectors=*/false);
  return svd_.singular_values();
}

SpectralObserver::SpectralObserver(const TargetFrame& frame, std::int64_t k)
    : symmetric_(frame.symmetric), x_(frame.u, k) {
  if (!symmetric_) y_ = FactorProjection(frame.v, k);
}

std::vector<ScalarSpec> SpectralObserver::specs() const {
  std::vector<ScalarSpec> out{
      {"components", "1", "||u_i^T X|| for each mode i = 1..r of the target (mode order, not sorted)"},
      {"aligned_singular_values", "1", "singular values of U*^T X, descending"},
      {"residual", "1",
       symmetric_ ? "||(I - U* U*^T) X||_F, the part of X outside the signal subspace"
                  : "sqrt(||(I - U* U*^T) X||_F^2 + ||(I - V* V*^T) Y||_F^2)"}};
  if (!symmetric_) {
    out.push_back({"components_y", "1", "||v_i^T Y|| for each mode i = 1..r of the target (mode order)"});
    out.push_back({"aligned_singular_values_y", "1", "singular values of V*^T Y, descending"});
    out.push_back({"balance", "1", "components - components_y, x_i - y_i (conserved by exact Muon when aligned)"});
  }
  return out;
}

std::vector<Vector> SpectralObserver::observe(const muonlab::ConstBlocks& params) {
  x_.compute(params[0]);
  Vector components = x_.mode_magnitudes();
  double residual_sq = x_.residual_squared();
  std::vector<Vector> out{components, x_.aligned_singular_values(), Vector()};
  if (!symmetric_) {
    y_.compute(params[1]);
    residual_sq += y_.residual_squared();
    const Vector components_y = y_.mode_magnitudes();
    out.push_back(components_y);
    out.push_back(y_.aligned_singular_values());
    out.push_back(components - components_y);
  }
  out[2] = Vector::Constant(1, std::sqrt(residual_sq));
  return out;
}

// ---- theory -------------------------------------------------------------------------

namespace {

// How one optimizer moves the coordinates (x_i, y_i) of mode i, with X = U* diag(x) R and
// Y = V* diag(y) R. The gradient coordinates are (x y - sigma) y for X and (x y - sigma) x
// for Y; a symmetric run is the case x = y (then both equal (d^2 - sigma) d).
struct ScalarRule {
  bool muon = false;
  double scale_x = 1.0;  // muon: factor s of the X block
  double scale_y = 1.0;  // muon: factor s of the Y block
};

double sign(double value) { return static_cast<double>((value > 0.0) - (value < 0.0)); }

// One step of every mode. Muon moves each coordinate by eta s against the sign of its
// gradient coordinate (msign of a diagonal matrix); GD by eta times the coordinate itself.
void advance(const ScalarRule& rule, double eta, const Vector& sigma, Vector& x, Vector& y) {
  for (Eigen::Index i = 0; i < sigma.size(); ++i) {
    const double mismatch = x(i) * y(i) - sigma(i);
    const double grad_x = mismatch * y(i);
    const double grad_y = mismatch * x(i);
    if (rule.muon) {
      x(i) -= eta * rule.scale_x * sign(grad_x);
      y(i) -= eta * rule.scale_y * sign(grad_y);
    } else {
      x(i) -= eta * grad_x;
      y(i) -= eta * grad_y;
    }
  }
}

// sqrt(sum_i (x_i y_i - sigma_i)^2) / ||sigma||: the relative error of an aligned iterate.
double relative_error(const Vector& x, const Vector& y, const Vector& sigma) {
  return (x.cwiseProduct(y) - sigma).norm() / sigma.norm();
}

// Mode coordinates at the requested steps. They are tracked with their signs (a mode that
// overshoots through 0 flips its column, and the gradient rule above follows it) and
// reported as magnitudes, which is what the observables measure.
struct ModeTrajectory {
  Matrix x, y;       // [T x r]
  Matrix rel_error;  // [T x 1]
};

ModeTrajectory run_modes(const ScalarRule& rule, const std::vector<std::int64_t>& steps,
                         const std::vector<double>& etas, const Vector& sigma, Vector x, Vector y) {
  const Eigen::Index rows = static_cast<Eigen::Index>(steps.size());
  ModeTrajectory out{Matrix(rows, sigma.size()), Matrix(rows, sigma.size()), Matrix(rows, 1)};
  std::int64_t t = 0;
  for (Eigen::Index j = 0; j < rows; ++j) {
    for (; t < steps[static_cast<std::size_t>(j)]; ++t) {
      advance(rule, etas[static_cast<std::size_t>(t)], sigma, x, y);
    }
    out.x.row(j) = x.cwiseAbs().transpose();
    out.y.row(j) = y.cwiseAbs().transpose();
    out.rel_error(j, 0) = relative_error(x, y, sigma);
  }
  return out;
}

// ||b_i^T F|| for each mode i: where the recursions start.
Vector initial_magnitudes(const Matrix& basis, const ConstMatrixMap& factor) {
  return (basis.transpose() * factor).rowwise().norm();
}

// Muon's factor s for one block, as the muon plugin computes it; false for a scaling this
// theory does not know (then it predicts nothing rather than something wrong).
bool muon_block_scale(const std::string& scaling, const ConstMatrixMap& block, double& scale) {
  const double rows = static_cast<double>(block.rows());
  const double cols = static_cast<double>(block.cols());
  if (scaling == "none") {
    scale = 1.0;
  } else if (scaling == "shape") {
    scale = std::sqrt(std::max(1.0, rows / cols));
  } else if (scaling == "rms") {
    scale = 0.2 * std::sqrt(std::max(rows, cols));
  } else {
    return false;
  }
  return true;
}

double real_or(const muonlab::Params& params, const char* name, double fallback) {
  return params.has(name) ? params.real(name) : fallback;
}

// The decoupled recursions describe gd and momentum-free muon without weight decay: with
// momentum the update mixes past gradients, with decay it shrinks every direction, and
// neither keeps the per-mode sign-descent form.
bool has_decoupled_theory(const muonlab::TheoryRequest& request) {
  if (request.optimizer == "gd") return true;
  if (request.optimizer != "muon") return false;
  const muonlab::Params& p = request.optimizer_params;
  return real_or(p, "momentum", 0.0) == 0.0 && real_or(p, "weight_decay", 0.0) == 0.0;
}

// eta_t for t < last: the step sizes the optimizer reported. gd without them (a caller that
// recorded none) falls back to its constant lr.
std::vector<double> step_sizes(const muonlab::TheoryRequest& request, std::int64_t last) {
  if (static_cast<std::int64_t>(request.step_sizes.size()) >= last) return request.step_sizes;
  if (request.optimizer == "gd") {
    return std::vector<double>(static_cast<std::size_t>(last), request.optimizer_params.real("lr"));
  }
  throw std::invalid_argument("matrix_factorization theory: " + request.optimizer + " reported " +
                              std::to_string(request.step_sizes.size()) + " step sizes, but step " +
                              std::to_string(last) + " needs that many");
}

// False when muon uses a scaling this theory does not model.
bool read_rule(const muonlab::TheoryRequest& request, ScalarRule& rule) {
  rule.muon = request.optimizer == "muon";
  if (!rule.muon) return true;
  const muonlab::Params& p = request.optimizer_params;
  const std::string scaling = p.has("scaling") ? p.text("scaling") : "none";
  if (!muon_block_scale(scaling, request.initial[0], rule.scale_x)) return false;
  rule.scale_y = rule.scale_x;
  return request.initial.size() < 2 || muon_block_scale(scaling, request.initial[1], rule.scale_y);
}

void check_request(const muonlab::TheoryRequest& request, const TargetFrame& frame) {
  const std::size_t blocks = frame.symmetric ? 1 : 2;
  if (request.initial.size() != blocks) {
    throw std::invalid_argument("matrix_factorization theory: got " + std::to_string(request.initial.size()) +
                                " initial blocks, expected " + std::to_string(blocks));
  }
  const std::vector<std::int64_t>& steps = request.steps;
  if (!std::is_sorted(steps.begin(), steps.end()) || (!steps.empty() && steps.front() < 0)) {
    throw std::invalid_argument("matrix_factorization theory: requested steps must be non-negative and ascending");
  }
}

// eta_t = lr decay^t from t = 0: the schedule the lemma is about (no warmup in front).
bool follows_geometric_schedule(const muonlab::Params& params) {
  const bool warmup = params.has("warmup") && params.integer("warmup") > 0;
  return params.has("schedule") && params.text("schedule") == "geometric" && !warmup;
}

Matrix scalar(double value) { return Matrix::Constant(1, 1, value); }

// The geometric-schedule lemma (docs/theory.md 2.4): with eta_t = eta_0 q^t, q >= 1/2 and
// budget eta_0 s / (1 - q) >= max_i |e_i(0)|, every |e_i(t)| <= S_t = eta_0 s q^t / (1 - q).
// e_i = s_i - s_i* with s_i = (x_i + y_i)/2 and s_i* = sqrt(sigma_i + delta_i^2),
// delta_i = (x_i - y_i)/2 (symmetric: x = y, so e_i = d_i - sqrt(sigma_i)). The asymmetric
// reduction needs delta_i conserved, i.e. both blocks stepping by the same eta_t s.
std::vector<NamedArray> lemma_arrays(const muonlab::TheoryRequest& request, const ScalarRule& rule, const Vector& sigma,
                                     const Vector& x0, const Vector& y0) {
  const double eta0 = request.optimizer_params.real("lr");
  const double q = request.optimizer_params.real("decay");
  const double scale = 0.5 * (rule.scale_x + rule.scale_y);
  const bool equal_scales = rule.scale_x == rule.scale_y;

  const Vector half_gap = 0.5 * (x0 - y0);
  const Vector target = (sigma + half_gap.cwiseAbs2()).cwiseSqrt();
  const double distance = (0.5 * (x0 + y0) - target).cwiseAbs().maxCoeff();
  const double budget = eta0 * scale / (1.0 - q);
  const bool budget_ok = budget >= distance;
  const bool lemma_holds = q >= 0.5 && budget_ok && equal_scales;

  Matrix envelope(static_cast<Eigen::Index>(request.steps.size()), 1);
  for (std::size_t j = 0; j < request.steps.size(); ++j) {
    envelope(static_cast<Eigen::Index>(j), 0) = budget * std::pow(q, static_cast<double>(request.steps[j]));
  }
  return {
      {"envelope", envelope, "S_t = eta_0 s q^t / (1 - q): the lemma's bound on every |e_i(t)|"},
      {"distance", scalar(distance), "max_i |e_i(0)|: how far the farthest mode has to travel"},
      {"budget", scalar(budget), "eta_0 s / (1 - q): total travel of the geometric schedule"},
      {"budget_ok", scalar(budget_ok ? 1.0 : 0.0),
       "1 if budget >= distance; 0 means some mode cannot reach its target (the run stalls)"},
      {"lemma_holds", scalar(lemma_holds ? 1.0 : 0.0),
       "1 if q >= 1/2, budget >= distance (and, asymmetric, both blocks have the same s): "
       "then envelope bounds every |e_i(t)|"},
  };
}

}  // namespace

std::vector<NamedArray> predict(const muonlab::TheoryRequest& request, const TargetFrame& frame) {
  if (!has_decoupled_theory(request)) return {};
  check_request(request, frame);
  ScalarRule rule;
  if (!read_rule(request, rule)) return {};
  const std::int64_t last = request.steps.empty() ? 0 : request.steps.back();
  const Vector x0 = initial_magnitudes(frame.u, request.initial[0]);
  const Vector y0 = frame.symmetric ? x0 : initial_magnitudes(frame.v, request.initial[1]);
  const ModeTrajectory modes = run_modes(rule, request.steps, step_sizes(request, last), frame.sigma, x0, y0);

  std::vector<NamedArray> out;
  if (frame.symmetric) {
    out.push_back({"d", modes.x, "predicted ||u_i^T X_t|| from the scalar recursion of each mode"});
  } else {
    out.push_back({"x", modes.x, "predicted ||u_i^T X_t|| from the scalar recursions"});
    out.push_back({"y", modes.y, "predicted ||v_i^T Y_t|| from the scalar recursions"});
  }
  out.push_back({"rel_error", modes.rel_error,
                 frame.symmetric ? "sqrt(sum_i (d_i^2 - sigma_i)^2) / ||sigma|| from the predicted d"
                                 : "sqrt(sum_i (x_i y_i - sigma_i)^2) / ||sigma|| from the predicted x, y"});
  if (rule.muon && follows_geometric_schedule(request.optimizer_params)) {
    for (NamedArray& a : lemma_arrays(request, rule, frame.sigma, x0, y0)) out.push_back(std::move(a));
  }
  return out;
}

}  // namespace mf_theory
