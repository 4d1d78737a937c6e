// Matrix least squares with a prescribed Hessian spectrum (README.md next to this file).
//
//   f(X) = 1/2 ||A X C - B||_F^2 = 1/2 tr(D^T H D H_R) + f*,   D = X - X*,   X: n x m
//   H = A^T A = Q diag(h) Q^T (n x n),  H_R = C C^T = R diag(g) R^T (m x m; I unless two_sided)
//   grad = H D H_R
//
// A = [diag(sqrt h) Q^T; 0] has extra_rows zero rows under its n x n top, C = R diag(sqrt g),
// and B = [A_top X* C; E]: the rows E lie outside the range of A, so X* is the minimizer and
// f* = 1/2 ||E||_F^2. The evaluation never forms A or B; it works with D, H and H_R.
//
// Stochastic gradients (noise: additive | sampled) come from a stream seeded by
// (seed, context.sample); loss and metrics are those of the noise-free objective.
#include <muonlab/linalg.hpp>
#include <muonlab/plugin.hpp>
#include <muonlab/random.hpp>

#include "mls_theory.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using muonlab::Blocks;
using muonlab::BlockSpec;
using muonlab::ConstBlocks;
using muonlab::ConstMatrixMap;
using muonlab::Matrix;
using muonlab::MatrixMap;
using muonlab::NamedArray;
using muonlab::ParamSpec;
using muonlab::Rng;
using muonlab::ScalarSpec;
using muonlab::Vector;

// Instance from Rng(seed), initial iterate from Rng(seed ^ kInitStreamTag), noise of sample s
// from Rng(mix_seed(seed ^ kNoiseStreamTag, s)) (docs/random.md 4.4).
constexpr std::uint64_t kInitStreamTag = 0x9E3779B97F4A7C15ULL;
constexpr std::uint64_t kNoiseStreamTag = 0xD1B54A32D192ED03ULL;

// instance() lists A and B only up to this many entries each (8 MB).
constexpr std::int64_t kMaxListedEntries = 1000000;

const ParamSpec kParams[] = {
    muonlab::integer("n", "20").at_least(1).doc("rows of X (the side the Hessian H acts on)"),
    muonlab::integer("m", "20").at_least(1).doc("columns of X"),
    muonlab::real("kappa", "100").at_least(1).doc("condition number h_1 / h_n of H"),
    muonlab::choice("spectrum", "geometric", "geometric|two_level|power|spiked")
        .doc("eigenvalues of H, h_1 = h_max >= ... >= h_n = h_max / kappa: geometric h_i = h_max "
             "kappa^(-(i-1)/(n-1)); two_level h_i = h_max for i < n; power h_i = h_max i^(-alpha) "
             "with alpha = ln(kappa) / ln(n); spiked h_i = h_max for i <= spikes, h_max / kappa after"),
    muonlab::real("h_max", "1").above(0).doc("largest eigenvalue h_1 of H"),
    muonlab::integer("spikes", "1").at_least(1).doc("spiked: number k <= n of eigenvalues equal to h_max"),
    muonlab::boolean("rotated", "true")
        .doc("true: Q (and P, R) Haar-random; false: the identity (axis-aligned eigenbasis)"),
    muonlab::choice("target", "shared", "shared|generic")
        .doc("shared: X* = Q diag(x*) P^T, aligned with the eigenbasis (needs m >= n); generic: "
             "X* with i.i.d. N(0, target_scale^2 / m) entries"),
    muonlab::real("target_scale", "1")
        .above(0)
        .doc("shared: x*_i = target_scale (1/2 + u_i), u_i uniform in [0, 1); generic: entry scale of X*"),
    muonlab::boolean("two_sided", "false")
        .doc("true: f = 1/2 tr(D^T H D H_R) with H_R = R diag(g) R^T (m x m), g geometric from 1 to "
             "1 / kappa_right"),
    muonlab::real("kappa_right", "10").at_least(1).doc("two_sided: condition number of H_R"),
    muonlab::integer("extra_rows", "0")
        .at_least(0)
        .doc("rows of B outside the range of A (entries N(0, 1/m)): f* = 1/2 ||E||_F^2 > 0 when > 0"),
    muonlab::real("init_scale", "0")
        .at_least(0)
        .doc("X_0 with i.i.d. N(0, init_scale^2 / m) entries; 0 gives X_0 = 0 (and draws nothing)"),
    muonlab::choice("noise", "none", "none|additive|sampled")
        .doc("none; additive: grad + sigma Z, Z i.i.d. N(0, 1) (absolute, does not vanish at X*); "
             "sampled: random design, batch rows x ~ N(0, H) with labels y = X*^T x + label_noise eps"),
    muonlab::real("sigma", "0.1").at_least(0).doc("additive: standard deviation of each gradient entry's noise"),
    muonlab::integer("batch", "32").at_least(1).doc("sampled: rows per evaluation"),
    muonlab::real("label_noise", "0").at_least(0).doc("sampled: standard deviation sigma_y of the label noise"),
};

enum class Noise { None, Additive, Sampled };

Noise parse_noise(const std::string& name) {
  if (name == "additive") return Noise::Additive;
  if (name == "sampled") return Noise::Sampled;
  return Noise::None;
}

// SplitMix64 finalizer (the same mixing as matrix_factorization's noise stream).
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t sample) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (sample + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

[[noreturn]] void reject(const std::string& message) { throw std::invalid_argument(message); }

std::string str(std::int64_t value) { return std::to_string(value); }

// h_1 = h_max >= ... >= h_n = h_max / kappa (one value h_max when n = 1).
Vector hessian_spectrum(const std::string& shape, std::int64_t n, double kappa, double h_max, std::int64_t spikes) {
  Vector h = Vector::Constant(n, h_max);
  if (n == 1) return h;
  const double low = h_max / kappa;
  for (std::int64_t i = 0; i < n; ++i) {
    const double index = static_cast<double>(i);
    if (shape == "geometric") {
      h(i) = h_max * std::pow(kappa, -index / static_cast<double>(n - 1));
    } else if (shape == "power") {
      h(i) = h_max * std::pow(index + 1.0, -std::log(kappa) / std::log(static_cast<double>(n)));
    } else if (shape == "spiked") {
      h(i) = i < spikes ? h_max : low;
    } else {
      h(i) = i < n - 1 ? h_max : low;
    }
  }
  h(n - 1) = low;  // exact, so h_1 / h_n is kappa up to one rounding
  return h;
}

Matrix basis(std::int64_t rows, std::int64_t cols, bool rotated, Rng& rng) {
  return rotated ? muonlab::haar_orthonormal(rows, cols, rng) : Matrix::Identity(rows, cols);
}

// Entries i.i.d. N(0, stddev^2), column-major, from a sampler made for this call.
void fill_gaussian(Eigen::Ref<Matrix> out, double stddev, Rng& rng) {
  muonlab::NormalSampler normal(0.0, stddev);
  for (Eigen::Index j = 0; j < out.cols(); ++j)
    for (Eigen::Index i = 0; i < out.rows(); ++i) out(i, j) = normal(rng);
}

class MatrixLeastSquares final : public muonlab::Problem {
 public:
  MatrixLeastSquares(const muonlab::Params& params, const muonlab::CreateContext& context)
      : n_(params.integer("n")),
        m_(params.integer("m")),
        seed_(context.seed),
        shared_(params.text("target") == "shared"),
        two_sided_(params.boolean("two_sided")),
        noise_(parse_noise(params.text("noise"))),
        sigma_(params.real("sigma")),
        batch_(params.integer("batch")),
        label_noise_(params.real("label_noise")),
        init_scale_(params.real("init_scale")) {
    validate(params);
    draw_instance(params);
    allocate_workspace();
    x0_.resize(n_, m_);
    MatrixMap x0(x0_.data(), n_, m_);
    draw_initial(x0);
    d_ = x0_ - x_star_;
    gap0_ = exact_gradient(g0_);
    if (!(gap0_ > 0.0)) reject("matrix_least_squares: the initial point is already optimal (f_0 = f*)");
  }

  std::vector<BlockSpec> blocks() const override { return {{"X", n_, m_, "the unknown X (n x m)"}}; }

  std::vector<ScalarSpec> metrics() const override {
    return {{"rel_gap", "1", "(f - f*) / (f_0 - f*)"},
            {"gap", "1", "f - f*"},
            {"grad_fro", "1", "||grad f||_F of the noise-free gradient"},
            {"grad_nuclear", "1", "||grad f||_* (sum of singular values) of the noise-free gradient"}};
  }

  void initialize(Blocks params) override {
    check_blocks(params.size(), "initialize");
    params[0] = x0_;
  }

  double evaluate(ConstBlocks params, Blocks grads, double* metrics, const muonlab::EvalContext& context) override {
    check_blocks(params.size(), "evaluate");
    check_blocks(grads.size(), "evaluate");
    MatrixMap grad = grads[0];
    d_ = params[0];
    d_ -= x_star_;
    const double gap = exact_gradient(grad);
    metrics[0] = gap / gap0_;
    metrics[1] = gap;
    metrics[2] = grad.norm();
    svd_.compute(grad, /*with_vectors=*/false);
    metrics[3] = svd_.singular_values().sum();
    if (noise_ != Noise::None) {
      Rng rng(mix_seed(seed_ ^ kNoiseStreamTag, context.sample));
      if (noise_ == Noise::Additive) {
        add_noise(grad, rng);
      } else {
        sampled_gradient(grad, rng);
      }
    }
    return gap + f_star_;
  }

  std::vector<NamedArray> instance() const override {
    std::vector<NamedArray> out{
        {"h", Matrix(h_), "eigenvalues of H = A^T A, descending (n x 1)"},
        {"Q", q_, "eigenvectors of H (n x n, columns in the order of h)"},
        {"X_star", x_star_, "the minimizer X* (n x m)"},
        {"f_star", Matrix::Constant(1, 1, f_star_), "the minimum f* = 1/2 ||E||_F^2"},
    };
    if (shared_) {
      out.push_back({"P", p_, "right mode vectors p_i (m x n): X* = Q diag(x*) P^T"});
      out.push_back({"x_star_modes", Matrix(x_star_modes_), "x*_i = q_i^T X* p_i (n x 1)"});
    }
    if (two_sided_) {
      out.push_back({"g", Matrix(g_), "eigenvalues of H_R = C C^T, descending (m x 1)"});
      out.push_back({"R", r_, "eigenvectors of H_R (m x m)"});
    }
    const std::int64_t rows = n_ + static_cast<std::int64_t>(e_.rows());
    if (rows * std::max(n_, m_) <= kMaxListedEntries) {
      Matrix a = Matrix::Zero(rows, n_);
      a.topRows(n_) = h_.cwiseSqrt().asDiagonal() * q_.transpose();
      Matrix b(rows, m_);
      b.topRows(n_) = a.topRows(n_) * x_star_;
      if (two_sided_) {
        const Matrix c = r_ * g_.cwiseSqrt().asDiagonal();
        b.topRows(n_) = b.topRows(n_) * c;
        out.push_back({"C", c, "right factor C = R diag(sqrt g) (m x m): f = 1/2 ||A X C - B||_F^2"});
      }
      b.bottomRows(e_.rows()) = e_;
      out.push_back({"A", a, "design A = [diag(sqrt h) Q^T; 0] ((n + extra_rows) x n), listed when small"});
      out.push_back({"B", b, "targets B = [A_top X* C; E] ((n + extra_rows) x m), listed when small"});
    }
    return out;
  }

  // Shared basis only: the mode coordinates of the iterate and what lies outside them.
  std::vector<ScalarSpec> observables() const override {
    if (!shared_) return {};
    return {{"modes", "1", "z_i = q_i^T X p_i for i = 1..n (signed, in the order of h)"},
            {"off_modes", "1", "||X - Q diag(z) P^T||_F: the part of X outside the modes"}};
  }

  std::vector<Vector> observe(ConstBlocks params) override {
    if (!shared_) return {};
    check_blocks(params.size(), "observe");
    const ConstMatrixMap x = params[0];
    xp_.noalias() = x * p_;
    coords_.noalias() = q_.transpose() * xp_;
    Vector modes = coords_.diagonal();
    outside_ = x;
    outside_.noalias() -= xp_ * p_.transpose();  // X (I - P P^T)
    coords_.diagonal().setZero();
    const double off_sq = outside_.squaredNorm() + coords_.squaredNorm();
    return {modes, Vector::Constant(1, std::sqrt(off_sq))};
  }

  std::vector<NamedArray> predict(const muonlab::TheoryRequest& request) const override {
    if (request.initial.size() != 1) throw std::invalid_argument("matrix_least_squares theory: expected one block");
    const Matrix d0 = Matrix(request.initial[0]) - x_star_;
    mls_theory::Frame frame;
    if (two_sided_) {
      const Matrix coords = q_.transpose() * d0 * r_;
      frame.curvature = Eigen::Map<const Vector>(Matrix(h_ * g_.transpose()).data(), n_ * m_);
      frame.weight = Eigen::Map<const Vector>(Matrix(coords.cwiseAbs2()).data(), n_ * m_);
    } else {
      frame.curvature = h_;
      frame.weight = (q_.transpose() * d0).rowwise().squaredNorm();
    }
    if (shared_) {
      const Matrix coords = q_.transpose() * Matrix(request.initial[0]) * p_;
      const Matrix off = coords - Matrix(coords.diagonal().asDiagonal());
      const Matrix outside = Matrix(request.initial[0]) - Matrix(request.initial[0]) * p_ * p_.transpose();
      const double scale = std::max(1.0, Matrix(request.initial[0]).norm());
      if (std::sqrt(off.squaredNorm() + outside.squaredNorm()) <= 1e-12 * scale) {
        frame.mode_start = coords.diagonal();
        frame.mode_target = x_star_modes_;
        frame.mode_curvature = two_sided_ ? Vector(h_.cwiseProduct(g_.head(n_))) : h_;
      }
    }
    frame.hessian_trace = h_.sum();
    frame.one_sided = !two_sided_;
    frame.deterministic = noise_ == Noise::None;
    frame.rows = n_;
    frame.cols = m_;
    return mls_theory::predict(request, frame);
  }

 private:
  void validate(const muonlab::Params& params) const {
    if (shared_ && m_ < n_) {
      reject("matrix_least_squares: target: shared needs m >= n (X* = Q diag(x*) P^T with P m x n), got n = " +
             str(n_) + ", m = " + str(m_) + "; use target: generic or m >= n");
    }
    if (params.integer("spikes") > n_) {
      reject("matrix_least_squares: spikes = " + str(params.integer("spikes")) + " exceeds n = " + str(n_));
    }
    if (two_sided_ && noise_ == Noise::Sampled) {
      reject(
          "matrix_least_squares: noise: sampled is defined for the one-sided problem only; set two_sided: false "
          "or use noise: additive");
    }
  }

  // Rng(seed): Q, then (two_sided) R or (shared, one-sided) P, then x* or X*, then E.
  void draw_instance(const muonlab::Params& params) {
    const bool rotated = params.boolean("rotated");
    const double kappa = params.real("kappa");
    const double h_max = params.real("h_max");
    const double target_scale = params.real("target_scale");
    Rng rng(seed_);
    h_ = hessian_spectrum(params.text("spectrum"), n_, kappa, h_max, params.integer("spikes"));
    q_ = basis(n_, n_, rotated, rng);
    hessian_.noalias() = q_ * h_.asDiagonal() * q_.transpose();
    if (two_sided_) {
      g_ = hessian_spectrum("geometric", m_, params.real("kappa_right"), 1.0, 1);
      r_ = basis(m_, m_, rotated, rng);
      right_.noalias() = r_ * g_.asDiagonal() * r_.transpose();
    }
    if (shared_) {
      p_ = two_sided_ ? Matrix(r_.leftCols(n_)) : basis(m_, n_, rotated, rng);
      x_star_modes_.resize(n_);
      for (std::int64_t i = 0; i < n_; ++i) x_star_modes_(i) = target_scale * (0.5 + muonlab::uniform01(rng));
      x_star_.noalias() = q_ * x_star_modes_.asDiagonal() * p_.transpose();
    } else {
      x_star_.resize(n_, m_);
      fill_gaussian(x_star_, target_scale / std::sqrt(static_cast<double>(m_)), rng);
    }
    e_.resize(params.integer("extra_rows"), m_);
    fill_gaussian(e_, 1.0 / std::sqrt(static_cast<double>(m_)), rng);
    f_star_ = 0.5 * e_.squaredNorm();
  }

  // Rng(seed ^ kInitStreamTag), only when init_scale > 0.
  void draw_initial(MatrixMap x0) const {
    if (init_scale_ == 0.0) {
      x0.setZero();
      return;
    }
    Rng rng(seed_ ^ kInitStreamTag);
    muonlab::NormalSampler normal(0.0, init_scale_ / std::sqrt(static_cast<double>(m_)));
    for (Eigen::Index j = 0; j < x0.cols(); ++j)
      for (Eigen::Index i = 0; i < x0.rows(); ++i) x0(i, j) = normal(rng);
  }

  void allocate_workspace() {
    d_.resize(n_, m_);
    g0_.resize(n_, m_);
    if (two_sided_) left_.resize(n_, m_);
    if (noise_ == Noise::Sampled) {
      root_.noalias() = q_ * h_.cwiseSqrt().asDiagonal();
      xi_.resize(n_, batch_);
      rows_.resize(n_, batch_);
      residual_.resize(batch_, m_);
    }
    if (shared_) {
      xp_.resize(n_, n_);
      coords_.resize(n_, n_);
      outside_.resize(n_, m_);
    }
  }

  // grad = H D (H_R); returns f - f* = 1/2 <D, grad> (d_ holds D).
  template <class Out>
  double exact_gradient(Out&& grad) {
    if (two_sided_) {
      left_.noalias() = hessian_ * d_;
      grad.noalias() = left_ * right_;
    } else {
      grad.noalias() = hessian_ * d_;
    }
    return 0.5 * (d_.array() * grad.array()).sum();
  }

  // grad += sigma Z, Z column-major from one new NormalSampler(0, sigma).
  void add_noise(MatrixMap grad, Rng& rng) const {
    muonlab::NormalSampler normal(0.0, sigma_);
    for (Eigen::Index j = 0; j < grad.cols(); ++j)
      for (Eigen::Index i = 0; i < grad.rows(); ++i) grad(i, j) += normal(rng);
  }

  // Rows x_b = Q diag(sqrt h) xi_b ~ N(0, H), residuals r_b = D^T x_b - label_noise eps_b,
  // grad = (1/batch) sum_b x_b r_b^T: E[grad] = H D. One NormalSampler(0, 1) draws xi
  // (n x batch, column-major), then eps (batch x m, column-major) when label_noise > 0.
  void sampled_gradient(MatrixMap grad, Rng& rng) {
    muonlab::NormalSampler normal(0.0, 1.0);
    for (Eigen::Index j = 0; j < xi_.cols(); ++j)
      for (Eigen::Index i = 0; i < xi_.rows(); ++i) xi_(i, j) = normal(rng);
    rows_.noalias() = root_ * xi_;
    residual_.noalias() = rows_.transpose() * d_;
    if (label_noise_ > 0.0) {
      for (Eigen::Index j = 0; j < residual_.cols(); ++j)
        for (Eigen::Index i = 0; i < residual_.rows(); ++i) residual_(i, j) -= label_noise_ * normal(rng);
    }
    grad.noalias() = (1.0 / static_cast<double>(batch_)) * rows_ * residual_;
  }

  void check_blocks(std::size_t count, const char* call) const {
    if (count != 1) {
      throw std::invalid_argument(std::string("matrix_least_squares::") + call + ": got " + std::to_string(count) +
                                  " blocks, expected 1");
    }
  }

  const std::int64_t n_, m_;
  const std::uint64_t seed_;
  const bool shared_;
  const bool two_sided_;
  const Noise noise_;
  const double sigma_;
  const std::int64_t batch_;
  const double label_noise_;
  const double init_scale_;

  Vector h_, g_;            // spectra of H and H_R
  Matrix q_, r_, p_;        // eigenbases of H (n x n), H_R (m x m); right mode vectors (m x n)
  Matrix hessian_, right_;  // H, H_R
  Vector x_star_modes_;     // shared: x*_i
  Matrix x_star_, e_;       // X*, the rows of B outside range(A)
  double f_star_ = 0.0;     // 1/2 ||E||_F^2
  Matrix x0_;               // the initial iterate (drawn once, in the constructor)
  double gap0_ = 0.0;       // f_0 - f*

  Matrix d_, g0_, left_;                // D = X - X*; gradient at X_0; H D (two_sided)
  Matrix root_, xi_, rows_, residual_;  // sampled: Q diag(sqrt h), xi, batch rows, residuals
  Matrix xp_, coords_, outside_;        // observe(): X P, Q^T X P, X (I - P P^T)
  muonlab::ThinSvd svd_;
};

}  // namespace

MUONLAB_PLUGIN(MatrixLeastSquares, "matrix_least_squares", "1.0.0",
               "1/2 ||A X - B||_F^2 with a prescribed Hessian spectrum (shared or generic target, "
               "one- or two-sided, additive or random-design noise)",
               kParams)
