// Matrix factorization (README.md next to this file; docs/theory.md sections 2 and 7).
//
// Target M = U* diag(sigma) V*^T of rank r with a prescribed spectrum.
//   symmetric:  f(X)    = 1/4 ||X X^T - M||_F^2,  V* = U*,  grad = (X X^T - M) X
//   asymmetric: f(X, Y) = 1/2 ||X Y^T - M||_F^2,  grad_X = R Y, grad_Y = R^T X, R = X Y^T - M
//
// target: dense stores M and forms R in a preallocated n x m buffer. target: factored never
// forms an n x m matrix: every factor is split along and across the signal subspace, which
// makes the residual norm a sum of non-negative pieces (see factored_residual()).
//
// Stochastic gradients (noise: gaussian | subsample) are drawn in the 4-argument evaluate()
// from a stream seeded by (seed, context.sample): the same sample gives the same noise at any
// point. Loss and metrics are always those of the noise-free objective.
//
// Observables (mode coordinates of the iterate) and theory (per-mode scalar recursions for
// gd and simplified muon) live in mf_theory.hpp/.cpp.
#include <muonlab/linalg.hpp>
#include <muonlab/plugin.hpp>
#include <muonlab/random.hpp>

#include "mf_theory.hpp"

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
using muonlab::kUnbounded;
using muonlab::Matrix;
using muonlab::MatrixMap;
using muonlab::NamedArray;
using muonlab::ParamSpec;
using muonlab::ParamType;
using muonlab::Rng;
using muonlab::ScalarSpec;
using muonlab::Vector;

// The target is drawn from a stream seeded with `seed`, the initial iterate from a stream
// seeded with `seed ^ kInitStreamTag`: changing init or init_scale never changes M.
constexpr std::uint64_t kInitStreamTag = 0x9E3779B97F4A7C15ULL;
// The gradient noise of sample s comes from a stream seeded with mix(seed ^ kNoiseStreamTag, s).
constexpr std::uint64_t kNoiseStreamTag = 0xD1B54A32D192ED03ULL;

// instance() lists M itself only up to this many entries (8 MB), to keep result files small.
constexpr std::int64_t kMaxListedTargetEntries = 1000000;

const ParamSpec kParams[] = {
    muonlab::boolean("symmetric", "true")
        .doc("true: f(X) = 1/4 ||X X^T - M||_F^2 with M = U* diag(sigma) U*^T (n x n); "
             "false: f(X, Y) = 1/2 ||X Y^T - M||_F^2 with M = U* diag(sigma) V*^T (n x m)"),
    muonlab::integer("n", "200").at_least(1).doc("rows of M (and of X)"),
    muonlab::integer("m", "0").at_least(0).doc("columns of M (and rows of Y) in the asymmetric case; 0 means m = n. "
                                               "With symmetric: true it must be 0 or n"),
    muonlab::integer("rank", "10").at_least(1).doc("rank r of M, 1 <= r <= min(n, m)"),
    muonlab::integer("k", "0").at_least(0).doc(
        "factor width: X is n x k (Y is m x k); 0 means k = rank; rank <= k <= min(n, m)"),
    muonlab::real("kappa", "10").at_least(1).doc("condition number sigma_1 / sigma_r of M (ignored when rank = 1)"),
    muonlab::choice("spectrum", "geometric", "geometric|two_level")
        .doc("geometric: sigma_i = scale * kappa^(-(i-1)/(r-1)); two_level: sigma_i = scale for i < r, "
             "sigma_r = scale / kappa"),
    muonlab::real("scale", "1").above(0).doc("largest singular value sigma_1 of M"),
    muonlab::choice("init", "small_random", "small_random|aligned|balanced")
        .doc("small_random: X0 = alpha G, G_ij ~ N(0, 1/n) (Y0 likewise with 1/m); "
             "aligned: X0 = alpha [U*, 0] (Y0 = alpha [V*, 0]); "
             "balanced: X0 = U* D0 R, Y0 = V* D0 R, D0 = alpha [I_r, 0], R Haar-random k x k orthogonal"),
    muonlab::real("init_scale", "1e-3").above(0).doc("alpha: scale of the initial iterate"),
    muonlab::choice("target", "factored", "factored|dense")
        .doc("factored: O((n + m) k (k + r)) per evaluation, never forms an n x m matrix; "
             "dense: stores M and forms the n x m residual (reference path)"),
    muonlab::boolean("rotated", "true")
        .doc("true: U*, V* Haar-random; false: first columns of the identity (axis-aligned target)"),
    muonlab::choice("noise", "none", "none|gaussian|subsample")
        .doc("gradient noise drawn per evaluation from the sample number: none; gaussian: G_b + "
             "noise_scale * RMS(G_b) * Z_b, Z_b i.i.d. N(0, 1); subsample: gradient of the residual "
             "observed on a random fraction observe_fraction of its entries, rescaled to be unbiased"),
    muonlab::real("noise_scale", "0.1")
        .at_least(0)
        .doc("gaussian: noise standard deviation per entry relative to the RMS entry ||G_b||_F / "
             "sqrt(size) of the exact gradient block"),
    muonlab::real("observe_fraction", "0.5")
        .above(0)
        .at_most(1)
        .doc("subsample: probability p that an entry of X Y^T - M is observed (mask drawn per "
             "evaluation); gradient (1/p) P_Omega(R) Y; forms n x m matrices even with target: factored"),
};

enum class Noise { None, Gaussian, Subsample };

Noise parse_noise(const std::string& name) {
  if (name == "gaussian") return Noise::Gaussian;
  if (name == "subsample") return Noise::Subsample;
  return Noise::None;
}

// SplitMix64 finalizer: nearby (seed, sample) pairs give unrelated generator seeds.
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t sample) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (sample + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

[[noreturn]] void reject(const std::string& message) { throw std::invalid_argument(message); }

std::string str(std::int64_t value) { return std::to_string(value); }

// Sizes after the "0 means default" rules, checked against each other.
struct Dimensions {
  bool symmetric = true;
  std::int64_t n = 0;     // rows of M and X
  std::int64_t m = 0;     // columns of M, rows of Y
  std::int64_t rank = 0;  // r
  std::int64_t k = 0;     // factor width
};

Dimensions resolve_dimensions(const muonlab::Params& params) {
  Dimensions d;
  d.symmetric = params.boolean("symmetric");
  d.n = params.integer("n");
  const std::int64_t m = params.integer("m");
  if (d.symmetric && m != 0 && m != d.n) {
    reject("parameter 'm' = " + str(m) + " conflicts with symmetric: true (M is n x n with n = " + str(d.n) +
           "); set m: 0 (or m: " + str(d.n) + "), or set symmetric: false");
  }
  d.m = m == 0 ? d.n : m;
  const std::int64_t min_dim = std::min(d.n, d.m);
  d.rank = params.integer("rank");
  if (d.rank > min_dim) {
    reject("parameter 'rank' = " + str(d.rank) + " exceeds min(n, m) = " + str(min_dim) +
           "; choose rank <= " + str(min_dim) + " or enlarge n/m");
  }
  const std::int64_t k = params.integer("k");
  d.k = k == 0 ? d.rank : k;
  if (d.k < d.rank) {
    reject("parameter 'k' = " + str(d.k) + " is smaller than rank = " + str(d.rank) +
           ", so X Y^T cannot reach M; set k >= rank, or k: 0 for k = rank");
  }
  if (d.k > min_dim) {
    reject("parameter 'k' = " + str(d.k) + " exceeds min(n, m) = " + str(min_dim) + "; set k <= " + str(min_dim) +
           ", or k: 0 for k = rank");
  }
  return d;
}

// sigma_1 = scale >= ... >= sigma_r = scale / kappa (a single value when rank = 1).
Vector target_spectrum(const std::string& shape, std::int64_t rank, double kappa, double scale) {
  Vector sigma = Vector::Constant(rank, scale);
  if (rank == 1) return sigma;
  if (shape == "geometric") {
    for (std::int64_t i = 0; i < rank; ++i) {
      sigma(i) = scale * std::pow(kappa, -static_cast<double>(i) / static_cast<double>(rank - 1));
    }
  } else {
    sigma(rank - 1) = scale / kappa;
  }
  return sigma;
}

// Orthonormal columns spanning the signal subspace: Haar-random, or axis-aligned.
Matrix signal_basis(std::int64_t rows, std::int64_t rank, bool rotated, Rng& rng) {
  if (!rotated) return Matrix::Identity(rows, rank);
  return muonlab::haar_orthonormal(rows, rank, rng);
}

// Entries i.i.d. N(0, stddev^2), drawn in column-major order by a sampler made for this call.
void fill_gaussian(MatrixMap out, double stddev, Rng& rng) {
  muonlab::NormalSampler normal(0.0, stddev);
  for (Eigen::Index j = 0; j < out.cols(); ++j)
    for (Eigen::Index i = 0; i < out.rows(); ++i) out(i, j) = normal(rng);
}

// <A, B>_F = tr(A^T B); for symmetric A it equals tr(A B).
double frobenius_inner(const Matrix& a, const Matrix& b) { return (a.array() * b.array()).sum(); }

// A factor F (rows x k) written as F = basis * along + off with basis^T off = 0, and the
// k x k Gram matrices of its two parts. Buffers are sized once, in the constructor.
struct FactorSplit {
  FactorSplit() = default;
  FactorSplit(std::int64_t rows, std::int64_t rank, std::int64_t k)
      : along(rank, k), off(rows, k), along_gram(k, k), off_gram(k, k), gram(k, k) {}

  void compute(const ConstMatrixMap& factor, const Matrix& basis) {
    along.noalias() = basis.transpose() * factor;
    off = factor;
    off.noalias() -= basis * along;  // explicit: a difference of Grams would cancel
    along_gram.noalias() = along.transpose() * along;
    off_gram.noalias() = off.transpose() * off;
    gram = along_gram + off_gram;
  }

  Matrix along;       // basis^T F          (r x k)
  Matrix off;         // F - basis along    (rows x k)
  Matrix along_gram;  // along^T along      (k x k)
  Matrix off_gram;    // off^T off          (k x k)
  Matrix gram;        // F^T F              (k x k)
};

class MatrixFactorization final : public muonlab::Problem {
 public:
  MatrixFactorization(const muonlab::Params& params, const muonlab::CreateContext& context)
      : dims_(resolve_dimensions(params)),
        seed_(context.seed),
        init_(params.text("init")),
        init_scale_(params.real("init_scale")),
        dense_(params.text("target") == "dense"),
        noise_(parse_noise(params.text("noise"))),
        noise_scale_(params.real("noise_scale")),
        observe_fraction_(params.real("observe_fraction")),
        sigma_(target_spectrum(params.text("spectrum"), dims_.rank, params.real("kappa"), params.real("scale"))),
        target_norm_(sigma_.norm()) {
    draw_signal_bases(params.boolean("rotated"));
    allocate_workspace();
    observer_ = mf_theory::SpectralObserver(frame(), dims_.k);
  }

  std::vector<BlockSpec> blocks() const override {
    std::vector<BlockSpec> out{{"X", dims_.n, dims_.k, "left factor (n x k)"}};
    if (!dims_.symmetric) out.push_back({"Y", dims_.m, dims_.k, "right factor (m x k)"});
    return out;
  }

  std::vector<ScalarSpec> metrics() const override {
    return {{"rel_error", "1", dims_.symmetric ? "||X X^T - M||_F / ||M||_F" : "||X Y^T - M||_F / ||M||_F"},
            {"grad_norm", "1", "Frobenius norm of all gradient blocks together"}};
  }

  // Draws from the init stream only: small_random uses G for X then G for Y (column-major),
  // balanced uses one Haar k x k matrix, aligned draws nothing.
  void initialize(Blocks params) override {
    check_blocks(params.size(), "initialize");
    Rng rng(seed_ ^ kInitStreamTag);
    MatrixMap x = params[0];
    if (init_ == "small_random") {
      fill_gaussian(x, init_scale_ / std::sqrt(static_cast<double>(dims_.n)), rng);
      if (!dims_.symmetric) {
        fill_gaussian(params[1], init_scale_ / std::sqrt(static_cast<double>(dims_.m)), rng);
      }
    } else if (init_ == "aligned") {
      set_aligned(x, u_);
      if (!dims_.symmetric) set_aligned(params[1], v_);
    } else {
      const Matrix rotation = muonlab::haar_orthonormal(dims_.k, dims_.k, rng);
      x.noalias() = init_scale_ * u_ * rotation.topRows(dims_.rank);
      if (!dims_.symmetric) {
        MatrixMap y = params[1];
        y.noalias() = init_scale_ * v_ * rotation.topRows(dims_.rank);
      }
    }
  }

  // The exact evaluation (loss, metrics, gradient), then this sample's noise on the gradient.
  double evaluate(ConstBlocks params, Blocks grads, double* metrics, const muonlab::EvalContext& context) override {
    const double loss = exact_evaluate(params, grads, metrics);
    if (noise_ == Noise::None) return loss;
    Rng rng(mix_seed(seed_ ^ kNoiseStreamTag, context.sample));
    if (noise_ == Noise::Gaussian) {
      add_gaussian_noise(grads, rng);
    } else {
      const ConstMatrixMap x = params[0];
      const ConstMatrixMap y = dims_.symmetric ? params[0] : params[1];
      subsampled_gradient(x, y, grads, rng);
    }
    return loss;
  }

  std::vector<NamedArray> instance() const override {
    std::vector<NamedArray> out;
    out.push_back({"U", u_, "left singular vectors U* of M (n x rank, orthonormal columns)"});
    if (!dims_.symmetric) {
      out.push_back({"V", v_, "right singular vectors V* of M (m x rank, orthonormal columns)"});
    }
    out.push_back({"sigma", Matrix(sigma_), "singular values of M, descending (rank x 1)"});
    if (dense_ && dims_.n * dims_.m <= kMaxListedTargetEntries) {
      out.push_back({"M", target_, "the target U* diag(sigma) V*^T (listed when n*m <= 1e6)"});
    }
    return out;
  }

  // Mode coordinates of the iterate and the scalar recursions that predict them
  // (mf_theory.hpp; README "Observables" and "Theory").
  std::vector<ScalarSpec> observables() const override { return observer_.specs(); }

  std::vector<Vector> observe(ConstBlocks params) override {
    check_blocks(params.size(), "observe");
    return observer_.observe(params);
  }

  std::vector<NamedArray> predict(const muonlab::TheoryRequest& request) const override {
    return mf_theory::predict(request, frame());
  }

 private:
  // Loss, metrics and the exact gradient.
  double exact_evaluate(ConstBlocks params, Blocks grads, double* metrics) {
    check_blocks(params.size(), "evaluate");
    check_blocks(grads.size(), "evaluate");
    const ConstMatrixMap x = params[0];
    const ConstMatrixMap y = dims_.symmetric ? params[0] : params[1];
    const double residual_sq = dense_ ? dense_residual(x, y, grads) : factored_residual(x, y, grads);
    metrics[0] = std::sqrt(residual_sq) / target_norm_;
    metrics[1] = gradient_norm(grads);
    return (dims_.symmetric ? 0.25 : 0.5) * residual_sq;
  }

  mf_theory::TargetFrame frame() const { return {u_, v_, sigma_, dims_.symmetric}; }

  // Target stream: U* first, then V* (asymmetric only); nothing when not rotated.
  void draw_signal_bases(bool rotated) {
    Rng rng(seed_);
    u_ = signal_basis(dims_.n, dims_.rank, rotated, rng);
    v_ = dims_.symmetric ? u_ : signal_basis(dims_.m, dims_.rank, rotated, rng);
  }

  void allocate_workspace() {
    if (dense_ || noise_ == Noise::Subsample) {
      target_.noalias() = u_ * sigma_.asDiagonal() * v_.transpose();
      residual_.resize(dims_.n, dims_.m);
    }
    if (dense_) return;
    x_split_ = FactorSplit(dims_.n, dims_.rank, dims_.k);
    if (!dims_.symmetric) y_split_ = FactorSplit(dims_.m, dims_.rank, dims_.k);
    core_.resize(dims_.rank, dims_.rank);
    coefficients_.resize(dims_.rank, dims_.k);
  }

  void set_aligned(MatrixMap factor, const Matrix& basis) const {
    factor.setZero();
    factor.leftCols(dims_.rank) = init_scale_ * basis;
  }

  void check_blocks(std::size_t count, const char* call) const {
    const std::size_t expected = dims_.symmetric ? 1 : 2;
    if (count != expected) {
      throw std::invalid_argument(std::string("matrix_factorization::") + call + ": got " + std::to_string(count) +
                                  " blocks, expected " + std::to_string(expected));
    }
  }

  // ||X Y^T - M||_F^2 from the n x m residual; gradients R Y and R^T X.
  double dense_residual(const ConstMatrixMap& x, const ConstMatrixMap& y, Blocks grads) {
    // R = -M, then R += X Y^T inside the GEMM (beta = 1): the subtraction rides on the
    // multi-threaded GEMM instead of a separate single-threaded pass over the n x m matrix.
    residual_ = -target_;
    residual_.noalias() += x * y.transpose();
    MatrixMap grad_x = grads[0];
    grad_x.noalias() = residual_ * y;
    if (!dims_.symmetric) {
      MatrixMap grad_y = grads[1];
      grad_y.noalias() = residual_.transpose() * x;
    }
    return muonlab::sum_of_squares(residual_.data(), static_cast<std::size_t>(residual_.size()));
  }

  // With X = U* Xa + Xo and Y = V* Ya + Yo (U*^T Xo = 0, V*^T Yo = 0), the residual
  //   R = U* E V*^T + U* Xa Yo^T + Xo Ya^T V*^T + Xo Yo^T,   E = Xa Ya^T - Sigma (r x r),
  // has four mutually orthogonal terms, so
  //   ||R||_F^2 = ||E||_F^2 + tr(Xa^T Xa Yo^T Yo) + tr(Xo^T Xo Ya^T Ya) + tr(Xo^T Xo Yo^T Yo)
  // is a sum of non-negative pieces (no large-minus-large cancellation), and
  //   R Y   = U* (E Ya + Xa Yo^T Yo) + Xo Y^T Y,
  //   R^T X = V* (E^T Xa + Ya Xo^T Xo) + Yo X^T X.
  // Symmetric: Y = X, V* = U*, and one split serves both sides.
  double factored_residual(const ConstMatrixMap& x, const ConstMatrixMap& y, Blocks grads) {
    x_split_.compute(x, u_);
    if (!dims_.symmetric) y_split_.compute(y, v_);
    const FactorSplit& xs = x_split_;
    const FactorSplit& ys = dims_.symmetric ? x_split_ : y_split_;

    core_.noalias() = xs.along * ys.along.transpose();
    core_.diagonal() -= sigma_;

    coefficients_.noalias() = core_ * ys.along;
    coefficients_.noalias() += xs.along * ys.off_gram;
    MatrixMap grad_x = grads[0];
    grad_x.noalias() = u_ * coefficients_;
    grad_x.noalias() += xs.off * ys.gram;
    if (!dims_.symmetric) {
      coefficients_.noalias() = core_.transpose() * xs.along;
      coefficients_.noalias() += ys.along * xs.off_gram;
      MatrixMap grad_y = grads[1];
      grad_y.noalias() = v_ * coefficients_;
      grad_y.noalias() += ys.off * xs.gram;
    }
    return core_.squaredNorm() + frobenius_inner(xs.along_gram, ys.off_gram) + frobenius_inner(xs.off_gram, ys.gram);
  }

  // G_b += noise_scale * RMS(G_b) * Z_b, Z_b drawn block by block in column-major order, so
  // Z does not depend on the point and the noise is zero-mean given the point. Each block
  // has its own NormalSampler(0, 1): a value cached at the end of X is not used for Y.
  void add_gaussian_noise(Blocks grads, Rng& rng) const {
    for (std::size_t b = 0; b < grads.size(); ++b) {
      MatrixMap g = grads[b];
      const double rms = g.norm() / std::sqrt(static_cast<double>(g.size()));
      muonlab::NormalSampler normal(0.0, 1.0);
      const double stddev = noise_scale_ * rms;
      for (Eigen::Index j = 0; j < g.cols(); ++j)
        for (Eigen::Index i = 0; i < g.rows(); ++i) g(i, j) += stddev * normal(rng);
    }
  }

  // Each entry of R = X Y^T - M is observed with probability p (one uniform per entry,
  // column-major): R_Omega = (1/p) P_Omega(R) has E[R_Omega] = R, so R_Omega Y and
  // R_Omega^T X are unbiased. The mask depends on the sample only, not on the point.
  void subsampled_gradient(const ConstMatrixMap& x, const ConstMatrixMap& y, Blocks grads, Rng& rng) {
    residual_.noalias() = x * y.transpose();
    residual_ -= target_;
    const double inverse_fraction = 1.0 / observe_fraction_;
    for (Eigen::Index j = 0; j < residual_.cols(); ++j)
      for (Eigen::Index i = 0; i < residual_.rows(); ++i)
        residual_(i, j) = muonlab::uniform01(rng) < observe_fraction_ ? inverse_fraction * residual_(i, j) : 0.0;
    MatrixMap grad_x = grads[0];
    grad_x.noalias() = residual_ * y;
    if (!dims_.symmetric) {
      MatrixMap grad_y = grads[1];
      grad_y.noalias() = residual_.transpose() * x;
    }
  }

  double gradient_norm(const Blocks& grads) const {
    double sum = 0.0;
    for (std::size_t i = 0; i < grads.size(); ++i) sum += grads[i].squaredNorm();
    return std::sqrt(sum);
  }

  const Dimensions dims_;
  const std::uint64_t seed_;
  const std::string init_;
  const double init_scale_;
  const bool dense_;
  const Noise noise_;
  const double noise_scale_;
  const double observe_fraction_;
  const Vector sigma_;
  const double target_norm_;  // ||M||_F = ||sigma||_2
  Matrix u_, v_;              // U* (n x r), V* (m x r)

  // target: dense, or noise: subsample
  Matrix target_;    // M (n x m)
  Matrix residual_;  // X Y^T - M (n x m); subsample: its rescaled masked copy

  // target: factored
  FactorSplit x_split_, y_split_;
  Matrix core_;          // E = Xa Ya^T - Sigma (r x r)
  Matrix coefficients_;  // r x k coefficients of a gradient inside the signal subspace

  mf_theory::SpectralObserver observer_;
};

}  // namespace

MUONLAB_PLUGIN(MatrixFactorization, "matrix_factorization", "1.1.0",
               "symmetric / asymmetric matrix factorization with a prescribed spectrum and "
               "condition number",
               kParams)
