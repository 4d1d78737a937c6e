// In-context linear regression with a linear self-attention model (README.md next to this
// file; docs/theory.md sections 3 and 7): the second case study of the Muon preconditioning
// paper. The problem class wires together
//   icl_model       data model, Lambda's eigen-structure, prompt sampling,
//   population_loss closed-form loss and exact gradient (merged and separate),
//   sampled_loss    batch loss over real prompts through the LSA forward pass,
//   theory          per-eigen recursions of gd and simplified Muon.
#include <muonlab/linalg.hpp>
#include <muonlab/plugin.hpp>
#include <muonlab/random.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "icl_model.hpp"
#include "population_loss.hpp"
#include "sampled_loss.hpp"
#include "theory.hpp"

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
using muonlab::ScalarSpec;
using muonlab::Vector;
using muonlab_icl::DataModel;

// Q is drawn from a stream seeded with `seed`, the initial iterate from `seed ^ kInitStreamTag`
// and a fixed training set from `seed ^ kTrainStreamTag`: changing init, kappa, spectrum or the
// batch never changes Q, and changing the init never changes the training set.
constexpr std::uint64_t kInitStreamTag = 0x9E3779B97F4A7C15ULL;
constexpr std::uint64_t kTrainStreamTag = 0xBF58476D1CE4E5B9ULL;

// instance() lists a fixed training set only up to this many entries (8 MB).
constexpr std::int64_t kMaxListedTrainingEntries = 1000000;

const ParamSpec kParams[] = {
    muonlab::integer("d", "10").at_least(1).doc("dimension d of the covariates x and the task w"),
    muonlab::integer("N", "20").at_least(1).doc("context length: labelled examples per prompt"),
    muonlab::real("kappa", "10")
        .at_least(1)
        .doc("condition number lambda_max / lambda_min of the covariance Lambda (lambda_max = 1)"),
    muonlab::choice("spectrum", "geometric", "geometric|two_level")
        .doc("geometric: lambda_i = kappa^(-(i-1)/(d-1)); two_level: lambda_i = 1 for i < d, lambda_d = 1/kappa"),
    muonlab::boolean("rotated", "true")
        .doc("true: Lambda = Q diag(lambda) Q^T with Q Haar-random; false: Q = I (axis-aligned covariance)"),
    muonlab::choice("loss", "population", "population|sampled")
        .doc("population: closed-form expected loss and exact gradient; sampled: mean loss over B prompts"),
    muonlab::integer("batch", "64").at_least(1).doc("B, prompts per evaluation (loss: sampled)"),
    muonlab::boolean("fresh_batches", "true")
        .doc("loss: sampled only. true: B fresh prompts at every step (online SGD); false: one fixed "
             "training set of B prompts drawn when the problem is created (empirical risk)"),
    muonlab::choice("parametrization", "merged", "merged|separate")
        .doc("merged: one block Gamma (d x d), yhat = x_q^T Gamma h; separate: the LSA blocks W_KQ and W_PV "
             "((d+1) x (d+1) each)"),
    muonlab::choice("init", "zero", "zero|commuting|small_random")
        .doc(
            "Gamma_0 = 0; Gamma_0 = init_scale * I (commutes with Lambda); or Gamma_0 = init_scale * G / sqrt(d), "
            "G_ij ~ N(0, 1). separate: W_KQ = [[Gamma_0^T / value_init, 0], [0, 0]], W_PV = [[0, 0], [0, value_init]]"),
    muonlab::real("init_scale", "0.1").at_least(0).doc("scale of the commuting and small_random inits"),
    muonlab::real("value_init", "1")
        .above(0)
        .doc("u_0, the corner entry of W_PV at initialization (separate parametrization)"),
    muonlab::choice("normalize", "none", "none|h_max")
        .doc("none: f = L; h_max: f = L / h_max, so the largest Hessian eigenvalue of f is 1 and a gd lr is in "
             "units of 1/h_max (the minimizer and Muon's trajectory do not change)"),
};

[[noreturn]] void reject(const std::string& message) { throw std::invalid_argument(message); }

Matrix rotation(std::int64_t d, bool rotated, std::uint64_t seed) {
  if (!rotated) return Matrix::Identity(d, d);
  muonlab::Rng rng(seed);
  return muonlab::haar_orthonormal(d, d, rng);
}

// Q^T Gamma Q.
Matrix in_eigenbasis(const DataModel& model, const Eigen::Ref<const Matrix>& gamma) {
  return model.q.transpose() * gamma * model.q;
}

// Summed entry by entry: ||A||^2 - ||diag(A)||^2 would cancel to ~1e-8 ||A|| on a nearly
// diagonal A, hiding exactly the small values this observable is for.
double off_diagonal_norm(const Matrix& a) {
  double sum = 0.0;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i)
      if (i != j) sum += a(i, j) * a(i, j);
  return std::sqrt(sum);
}

// The update factor s of the muon plugin for a d x d block (its "scaling" parameter), or a
// negative value for a scaling this theory does not know.
double muon_update_scale(const std::string& scaling, std::int64_t d) {
  if (scaling == "none" || scaling == "shape") return 1.0;  // shape: sqrt(max(1, m/n)) = 1 when square
  if (scaling == "rms") return 0.2 * std::sqrt(static_cast<double>(d));
  return -1.0;
}

class IclLinearTransformer final : public muonlab::Problem {
 public:
  IclLinearTransformer(const muonlab::Params& params, const muonlab::CreateContext& context)
      : d_(params.integer("d")),
        n_(params.integer("N")),
        sampled_(params.text("loss") == "sampled"),
        fresh_batches_(params.boolean("fresh_batches")),
        separate_(params.text("parametrization") == "separate"),
        model_(muonlab_icl::make_data_model(
            n_, muonlab_icl::covariance_spectrum(params.text("spectrum"), d_, params.real("kappa")),
            rotation(d_, params.boolean("rotated"), context.seed))),
        loss_scale_(params.text("normalize") == "h_max" ? 1.0 / model_.h.maxCoeff() : 1.0),
        population_(model_),
        sampled_loss_(d_, n_, params.integer("batch")) {
    initial_ = initial_iterate(params, context.seed ^ kInitStreamTag);
    allocate_workspace(params.integer("batch"));
    if (sampled_ && !fresh_batches_) {
      muonlab::Rng rng(context.seed ^ kTrainStreamTag);
      muonlab_icl::draw_prompts(model_, rng, batch_);
    }
    initial_gap_ = population_gap(initial_blocks());
  }
  // population_ refers to model_: the object stays where it was built.
  IclLinearTransformer(const IclLinearTransformer&) = delete;
  IclLinearTransformer& operator=(const IclLinearTransformer&) = delete;

  std::vector<BlockSpec> blocks() const override {
    if (!separate_) return {{"Gamma", d_, d_, "merged attention matrix: yhat = x_q^T Gamma h (d x d)"}};
    return {{"W_KQ", d_ + 1, d_ + 1, "key-query matrix of the LSA layer ((d+1) x (d+1))"},
            {"W_PV", d_ + 1, d_ + 1, "projection-value matrix of the LSA layer ((d+1) x (d+1))"}};
  }

  std::vector<ScalarSpec> metrics() const override {
    std::vector<ScalarSpec> out{
        {"loss_gap", "1", "f - f*: population loss gap at the current iterate (also when training on samples)"},
        {"rel_loss_gap", "1", "(f - f*) / (f_0 - f*), f_0 at the initial iterate"},
        {"gamma_error", "1", "||Gamma - Gamma*||_F / ||Gamma*||_F (separate: Gamma = u W^T + c v^T)"}};
    if (sampled_) out.push_back({"batch_loss", "1", "loss on this step's batch of prompts (what the gradient is of)"});
    return out;
  }

  std::vector<ScalarSpec> observables() const override {
    std::vector<ScalarSpec> out{
        {"eigen_coordinates", "1", "q_i^T Gamma q_i, i = 1..d, in the order of lambda (descending)"},
        {"off_diagonal", "1", "||offdiag(Q^T Gamma Q)||_F: distance from commuting with Lambda"}};
    if (separate_) {
      out.push_back({"value_weight", "1", "u = W_PV[d, d], the weight of the label row in the prediction"});
      out.push_back({"off_structure", "1",
                     "sqrt(||c||^2 + ||v||^2): W_KQ[d, 0:d] and W_PV[d, 0:d], zero in the "
                     "structured LSA"});
    }
    return out;
  }

  void initialize(Blocks params) override {
    check_blocks(params.size(), "initialize");
    for (std::size_t b = 0; b < params.size(); ++b) params[b] = initial_[b];
  }

  double evaluate(ConstBlocks params, Blocks grads, double* metrics, const muonlab::EvalContext& context) override {
    check_blocks(params.size(), "evaluate");
    check_blocks(grads.size(), "evaluate");
    double gap = 0.0;
    if (sampled_) {
      metrics[3] = loss_scale_ * sampled_gradient(params, grads, context);
      gap = population_gap(params);
    } else {
      gap = separate_ ? population_.separate(params[0], params[1], grads[0], grads[1])
                      : population_.merged(params[0], grads[0]);
      gap *= loss_scale_;
      for (std::size_t b = 0; b < grads.size(); ++b) grads[b] *= loss_scale_;
    }
    metrics[0] = gap;
    metrics[1] = initial_gap_ > 0 ? gap / initial_gap_ : gap;
    metrics[2] = gamma_error(params);
    return loss_scale_ * model_.loss_star + gap;
  }

  std::vector<NamedArray> instance() const override {
    std::vector<NamedArray> out{
        {"lambda", Matrix(model_.lambda), "eigenvalues of the covariance Lambda, descending (d x 1)"},
        {"Q", model_.q, "eigenvectors of Lambda (columns, in the order of lambda)"},
        {"gamma_star", Matrix(model_.gamma_star), "gamma*_i = 1 / ((1 + 1/N) lambda_i + tr(Lambda)/N) (d x 1)"},
        {"Gamma_star", model_.gamma_star_matrix(), "minimizer Gamma* = Q diag(gamma*) Q^T"},
        {"h", Matrix(model_.h),
         "Hessian of L on the eigen-modes, h_i = lambda_i^2 ((1 + 1/N) lambda_i + tr(Lambda)/N)"},
        {"hessian", model_.hessian,
         "H_ij = lambda_i lambda_j ((1 + 1/N) lambda_j + tr(Lambda)/N): Hessian of L on "
         "the entry (i, j) of Q^T Gamma Q"},
        {"h_ratio", scalar(model_.h.maxCoeff() / model_.h.minCoeff()), "h_max / h_min, the condition number GD sees"},
        {"loss_star", scalar(loss_scale_ * model_.loss_star), "f* = c L*, the minimum of the objective"},
        {"loss_scale", scalar(loss_scale_), "c: the objective is f = c L (1, or 1/h_max with normalize: h_max)"},
        {"initial_loss_gap", scalar(initial_gap_), "f_0 - f*, the denominator of rel_loss_gap"}};
    if (sampled_ && !fresh_batches_ && batch_.z.size() <= kMaxListedTrainingEntries) {
      out.push_back({"train_prompts", batch_.z,
                     "the fixed training set: prompt b is columns b(N+1) .. b(N+1)+N, "
                     "embedding [[x_1..x_N x_q], [y_1..y_N 0]]"});
      out.push_back({"train_targets", Matrix(batch_.target), "labels <w_b, x_q> of the training prompts (B x 1)"});
    }
    return out;
  }

  std::vector<Vector> observe(ConstBlocks params) override {
    const Matrix tilde = in_eigenbasis(model_, effective(params));
    std::vector<Vector> out{tilde.diagonal(), Vector::Constant(1, off_diagonal_norm(tilde))};
    if (separate_) {
      const ConstMatrixMap kq = params[0], pv = params[1];
      out.push_back(Vector::Constant(1, pv(d_, d_)));
      out.push_back(
          Vector::Constant(1, std::sqrt(kq.row(d_).head(d_).squaredNorm() + pv.row(d_).head(d_).squaredNorm())));
    }
    return out;
  }

  // gd and simplified muon, merged Gamma, population loss (README.md "Theory").
  std::vector<NamedArray> predict(const muonlab::TheoryRequest& request) const override {
    if (sampled_ || separate_ || request.initial.size() != 1) return {};
    const Matrix tilde = in_eigenbasis(model_, request.initial[0]);
    Matrix delta = tilde;
    delta.diagonal() -= model_.gamma_star;
    muonlab_icl::Prediction prediction;
    if (request.optimizer == "gd") {
      prediction = muonlab_icl::predict_gd(model_, loss_scale_, delta, request.step_sizes, request.steps);
    } else if (request.optimizer == "muon" && is_simplified_muon(request.optimizer_params)) {
      const double scale = muon_update_scale(request.optimizer_params.text("scaling"), d_);
      if (scale < 0) return {};
      prediction =
          muonlab_icl::predict_muon(model_, loss_scale_, tilde.diagonal(), request.step_sizes, scale, request.steps);
    } else {
      return {};
    }
    // Same denominator as the rel_loss_gap metric (the problem's initial iterate).
    Matrix relative = prediction.loss_gap;
    if (initial_gap_ > 0) relative /= initial_gap_;
    std::vector<NamedArray> out{
        {"gamma", prediction.gamma, "predicted eigen-coordinates gamma_i at each step (T x d)"},
        {"loss_gap", Matrix(prediction.loss_gap),
         "predicted f - f* (gd: exact; muon: c/2 sum_i h_i (gamma_i - "
         "gamma*_i)^2, exact for a commuting init)"},
        {"rel_loss_gap", relative, "predicted loss_gap / (f_0 - f*), f_0 as in the rel_loss_gap metric"},
        {"initial_off_diagonal", scalar(off_diagonal_norm(tilde)),
         "||offdiag(Q^T Gamma_0 Q)||_F: 0 when the muon recursion is exact"}};
    if (request.optimizer == "muon") {
      out.push_back({"off_diagonal_gain", Matrix(prediction.off_diagonal_gain),
                     "muon: largest growth factor so far of a perturbation off the commuting set, "
                     "linearized along the predicted path; rounding (~1e-16) times it estimates the departure"});
    }
    return out;
  }

 private:
  static Matrix scalar(double value) { return Matrix::Constant(1, 1, value); }

  static bool is_simplified_muon(const muonlab::Params& params) {
    return params.real("momentum") == 0.0 && params.real("weight_decay") == 0.0;
  }

  std::vector<Matrix> initial_iterate(const muonlab::Params& params, std::uint64_t seed) const {
    const std::string init = params.text("init");
    const double scale = params.real("init_scale");
    Matrix gamma = Matrix::Zero(d_, d_);
    if (init == "commuting") {
      gamma.diagonal().setConstant(scale);  // Q diag(scale) Q^T = scale I
    } else if (init == "small_random") {
      muonlab::Rng rng(seed);
      muonlab::NormalSampler normal(0.0,
                                    scale / std::sqrt(static_cast<double>(d_)));  // one sampler, d x d column-major
      for (Eigen::Index j = 0; j < d_; ++j)
        for (Eigen::Index i = 0; i < d_; ++i) gamma(i, j) = normal(rng);
    } else if (init != "zero") {
      reject("icl_linear_transformer: unknown init '" + init + "'");
    }
    if (!separate_) return {gamma};
    // Structured LSA init: the effective Gamma = u W^T equals the merged Gamma_0.
    const double u = params.real("value_init");
    Matrix kq = Matrix::Zero(d_ + 1, d_ + 1), pv = Matrix::Zero(d_ + 1, d_ + 1);
    kq.topLeftCorner(d_, d_) = gamma.transpose() / u;
    pv(d_, d_) = u;
    return {kq, pv};
  }

  void allocate_workspace(std::int64_t batch) {
    scratch_grads_.clear();
    for (const BlockSpec& b : blocks()) scratch_grads_.push_back(Matrix::Zero(b.rows, b.cols));
    scratch_views_.clear();
    for (Matrix& m : scratch_grads_) scratch_views_.push_back({m.data(), m.rows(), m.cols()});
    gamma_buffer_.setZero(d_, d_);
    if (sampled_) batch_.resize(d_, n_, batch);
  }

  ConstBlocks initial_blocks() {
    initial_views_.clear();
    for (Matrix& m : initial_) initial_views_.push_back({m.data(), m.rows(), m.cols()});
    return ConstBlocks(initial_views_.data(), initial_views_.size());
  }

  void check_blocks(std::size_t count, const char* call) const {
    const std::size_t expected = separate_ ? 2 : 1;
    if (count != expected) {
      reject(std::string("icl_linear_transformer::") + call + ": got " + std::to_string(count) + " blocks, expected " +
             std::to_string(expected));
    }
  }

  // f - f* at params, the gradient going to scratch buffers.
  double population_gap(ConstBlocks params) {
    Blocks scratch(scratch_views_.data(), scratch_views_.size());
    const double gap = separate_ ? population_.separate(params[0], params[1], scratch[0], scratch[1])
                                 : population_.merged(params[0], scratch[0]);
    return loss_scale_ * gap;
  }

  // Batch loss (unscaled) and its scaled gradient; the batch comes from context.sample, or is
  // the fixed training set. A repeated sample (a gradient oracle call) reuses the batch.
  double sampled_gradient(ConstBlocks params, Blocks grads, const muonlab::EvalContext& context) {
    if (fresh_batches_ && (!has_batch_ || context.sample != batch_sample_)) {
      muonlab::Rng rng(context.sample);
      muonlab_icl::draw_prompts(model_, rng, batch_);
      batch_sample_ = context.sample;
      has_batch_ = true;
    }
    const double loss = separate_ ? sampled_loss_.separate(batch_, params[0], params[1], grads[0], grads[1])
                                  : sampled_loss_.merged(batch_, params[0], grads[0]);
    for (std::size_t b = 0; b < grads.size(); ++b) grads[b] *= loss_scale_;
    return loss;
  }

  // The merged Gamma of params (separate: u W^T + c v^T) in gamma_buffer_.
  const Matrix& effective(ConstBlocks params) {
    if (!separate_) {
      gamma_buffer_ = params[0];
    } else {
      muonlab_icl::effective_gamma(params[0], params[1], gamma_buffer_);
    }
    return gamma_buffer_;
  }

  double gamma_error(ConstBlocks params) {
    const Matrix& gamma = effective(params);
    // ||Gamma - Gamma*||_F without forming Gamma*: ||Gamma||^2 - 2 <Gamma, Gamma*> + ||Gamma*||^2
    // would cancel near the optimum, so subtract in place in the eigenbasis instead.
    rotated_.noalias() = model_.q.transpose() * gamma;
    tilde_.noalias() = rotated_ * model_.q;
    tilde_.diagonal() -= model_.gamma_star;
    return tilde_.norm() / model_.gamma_star.norm();
  }

  const std::int64_t d_, n_;
  const bool sampled_, fresh_batches_, separate_;
  const DataModel model_;
  const double loss_scale_;
  muonlab_icl::PopulationLoss population_;
  muonlab_icl::SampledLoss sampled_loss_;
  std::vector<Matrix> initial_;
  double initial_gap_ = 0.0;

  // Workspace, sized at construction.
  muonlab_icl::PromptBatch batch_;
  bool has_batch_ = false;
  std::uint64_t batch_sample_ = 0;
  std::vector<Matrix> scratch_grads_;
  std::vector<muonlab::MatrixView> scratch_views_, initial_views_;
  Matrix gamma_buffer_, rotated_{Matrix::Zero(d_, d_)}, tilde_{Matrix::Zero(d_, d_)};
};

}  // namespace

MUONLAB_PLUGIN(IclLinearTransformer, "icl_linear_transformer", "1.0.0",
               "in-context linear regression with a linear self-attention layer: population (closed form) "
               "or sampled loss, merged Gamma or separate W_KQ, W_PV",
               kParams)
