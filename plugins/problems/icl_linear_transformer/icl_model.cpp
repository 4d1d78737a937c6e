#include "icl_model.hpp"

#include <cmath>
#include <stdexcept>

namespace muonlab_icl {

Vector covariance_spectrum(const std::string& shape, std::int64_t d, double kappa) {
  Vector lambda = Vector::Ones(d);
  if (d == 1) return lambda;
  if (shape == "geometric") {
    for (std::int64_t i = 0; i < d; ++i) {
      lambda(i) = std::pow(kappa, -static_cast<double>(i) / static_cast<double>(d - 1));
    }
  } else if (shape == "two_level") {
    lambda(d - 1) = 1.0 / kappa;
  } else {
    throw std::invalid_argument("icl_linear_transformer: unknown spectrum '" + shape + "'");
  }
  return lambda;
}

Matrix DataModel::gamma_star_matrix() const { return q * gamma_star.asDiagonal() * q.transpose(); }

DataModel make_data_model(std::int64_t context_length, const Vector& lambda, const Matrix& q) {
  DataModel m;
  m.d = lambda.size();
  m.n = context_length;
  m.lambda = lambda;
  m.q = q;
  m.sqrt_cov = q * lambda.cwiseSqrt().asDiagonal();
  m.trace = lambda.sum();
  m.trace_sq = lambda.squaredNorm();
  const double inv_n = 1.0 / static_cast<double>(context_length);
  // Wishart fourth moment: E[Lhat A Lhat] = (1 + 1/N) Lambda A Lambda + (1/N) tr(A Lambda) Lambda,
  // so in Lambda's eigenbasis the quadratic part of L acts on entry (i, j) with weight H_ij.
  const Vector effective = (1.0 + inv_n) * lambda.array() + m.trace * inv_n;  // (1+1/N) lambda_j + t/N
  m.gamma_star = effective.cwiseInverse();
  m.hessian.resize(m.d, m.d);
  for (std::int64_t j = 0; j < m.d; ++j) {
    for (std::int64_t i = 0; i < m.d; ++i) m.hessian(i, j) = lambda(i) * lambda(j) * effective(j);
  }
  m.h = m.hessian.diagonal();
  m.loss_star = 0.5 * (m.trace - (lambda.array().square() * m.gamma_star.array()).sum());
  return m;
}

void PromptBatch::resize(std::int64_t dim, std::int64_t context_length, std::int64_t batch) {
  d = dim;
  n = context_length;
  size = batch;
  z.setZero(d + 1, batch * (n + 1));
  target.setZero(batch);
  tasks.setZero(d, batch);
  normals.setZero(d, batch * (n + 1));
}

void draw_prompts(const DataModel& model, muonlab::Rng& rng, PromptBatch& batch) {
  muonlab::NormalSampler normal(0.0, 1.0);  // one sampler: tasks, then covariates
  for (Eigen::Index i = 0; i < batch.tasks.size(); ++i) batch.tasks.data()[i] = normal(rng);
  for (Eigen::Index i = 0; i < batch.normals.size(); ++i) batch.normals.data()[i] = normal(rng);
  const std::int64_t d = batch.d, n = batch.n;
  batch.z.topRows(d).noalias() = model.sqrt_cov * batch.normals;
  for (std::int64_t b = 0; b < batch.size; ++b) {
    const std::int64_t first = batch.first_column(b);
    // Labels y_j = <w_b, x_j> of the N context points; the query's label slot stays 0.
    batch.z.row(d).segment(first, n).noalias() = batch.tasks.col(b).transpose() * batch.z.block(0, first, d, n);
    batch.z(d, first + n) = 0.0;
    batch.target(b) = batch.tasks.col(b).dot(batch.z.col(first + n).head(d));
  }
}

}  // namespace muonlab_icl
