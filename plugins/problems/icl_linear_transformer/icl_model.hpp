// Data model of in-context linear regression (README.md "Data model"; docs/theory.md 3.1):
// task w ~ N(0, I_d), covariates x ~ N(0, Lambda) with Lambda = Q diag(lambda) Q^T, labels
// y = <w, x>, and the constants of the population loss derived from Lambda and N.
#pragma once

#include <muonlab/random.hpp>
#include <muonlab/types.hpp>

#include <cstdint>
#include <string>

namespace muonlab_icl {

using muonlab::Matrix;
using muonlab::Vector;

// lambda_1 = 1 >= ... >= lambda_d = 1 / kappa (descending).
//   geometric: lambda_i = kappa^(-(i-1)/(d-1));  two_level: 1, ..., 1, 1/kappa.
Vector covariance_spectrum(const std::string& shape, std::int64_t d, double kappa);

// Everything the losses and the theory need about Lambda and N. All "tilde" quantities live
// in Lambda's eigenbasis (columns of Q, ordered like lambda).
struct DataModel {
  std::int64_t d = 0;
  std::int64_t n = 0;    // context length N
  Vector lambda;         // eigenvalues of Lambda, descending
  Matrix q;              // eigenvectors (d x d orthogonal; identity when not rotated)
  Matrix sqrt_cov;       // Q diag(sqrt(lambda)): x = sqrt_cov * g with g ~ N(0, I) has covariance Lambda
  double trace = 0;      // t = tr(Lambda)
  double trace_sq = 0;   // tr(Lambda^2)
  Vector gamma_star;     // gamma*_i = 1 / ((1 + 1/N) lambda_i + t/N): Gamma* = Q diag(gamma*) Q^T
  Matrix hessian;        // H_ij = lambda_i lambda_j ((1 + 1/N) lambda_j + t/N) (d x d, not symmetric)
  Vector h;              // H_ii = lambda_i^2 ((1 + 1/N) lambda_i + t/N), the Hessian on the modes
  double loss_star = 0;  // L* = (t - sum_i lambda_i^2 gamma*_i) / 2

  Matrix gamma_star_matrix() const;  // Q diag(gamma*) Q^T
};

DataModel make_data_model(std::int64_t context_length, const Vector& lambda, const Matrix& q);

// A batch of B prompts stored side by side. Prompt b occupies the N + 1 columns starting at
// b (N + 1) of z, the embedding Z_b = [[x_1 ... x_N x_q], [y_1 ... y_N 0]] ((d+1) x (N+1));
// target(b) = <w_b, x_q> is the label the model must predict.
struct PromptBatch {
  std::int64_t d = 0, n = 0, size = 0;
  Matrix z;        // (d + 1) x B (N + 1)
  Vector target;   // B
  Matrix tasks;    // d x B, the w_b
  Matrix normals;  // d x B (N + 1) scratch: standard normal draws of the covariates

  void resize(std::int64_t dim, std::int64_t context_length, std::int64_t batch);
  std::int64_t first_column(std::int64_t b) const { return b * (n + 1); }
};

// Fills batch (already sized) from rng: the B tasks w_b first (d x B, column-major), then the
// standard normals of all covariates (d x B (N + 1), column-major: prompt by prompt, the N
// context points then the query), all from one NormalSampler(0, 1) made for this call.
// Allocation-free.
void draw_prompts(const DataModel& model, muonlab::Rng& rng, PromptBatch& batch);

}  // namespace muonlab_icl
