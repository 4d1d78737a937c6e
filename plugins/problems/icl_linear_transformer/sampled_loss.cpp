#include "sampled_loss.hpp"

#include <algorithm>

namespace muonlab_icl {

SampledLoss::SampledLoss(std::int64_t d, std::int64_t context_length, std::int64_t batch)
    : d_(d), n_(context_length), b_(batch) {
  queries_.setZero(d + 1, batch);
  context_.setZero(d + 1, batch);
  product_.setZero(d + 1, batch);
  residual_.setZero(batch);
  values_.setZero(batch * (context_length + 1));
  scores_.setZero(context_length + 1);
  value_grad_.setZero(d + 1);
}

double SampledLoss::merged(const PromptBatch& batch, const muonlab::ConstMatrixMap& gamma, muonlab::MatrixMap grad) {
  const double inv_n = 1.0 / static_cast<double>(n_);
  auto queries = queries_.topRows(d_);
  auto context = context_.topRows(d_);
  auto product = product_.topRows(d_);
  for (std::int64_t b = 0; b < b_; ++b) {
    const std::int64_t first = batch.first_column(b);
    queries.col(b) = batch.z.col(first + n_).head(d_);
    // h_b = (1/N) sum_j y_j x_j = (1/N) X_b y_b
    context.col(b).noalias() = inv_n * batch.z.block(0, first, d_, n_) * batch.z.row(d_).segment(first, n_).transpose();
  }
  product.noalias() = gamma * context;
  for (std::int64_t b = 0; b < b_; ++b) residual_(b) = queries.col(b).dot(product.col(b)) - batch.target(b);
  // grad = (1/B) sum_b r_b x_q h_b^T: scale the queries by r_b / B, then one product.
  for (std::int64_t b = 0; b < b_; ++b) queries.col(b) *= residual_(b) / static_cast<double>(b_);
  grad.noalias() = queries * context.transpose();
  return 0.5 * residual_.squaredNorm() / static_cast<double>(b_);
}

// For one prompt, with rho^T the last row of W^PV, a = Z^T rho and s = Z^T W^KQ z_q:
//   yhat = a^T s / N,  d yhat / d W^KQ = Z a z_q^T / N,  d yhat / d rho = Z s / N.
// Only the last row of W^PV reaches the prediction entry (d+1, N+1), and Z's entry there is 0.
double SampledLoss::separate(const PromptBatch& batch, const muonlab::ConstMatrixMap& kq,
                             const muonlab::ConstMatrixMap& pv, muonlab::MatrixMap grad_kq,
                             muonlab::MatrixMap grad_pv) {
  const double inv_n = 1.0 / static_cast<double>(n_);
  const double weight = inv_n / static_cast<double>(b_);
  for (std::int64_t b = 0; b < b_; ++b) queries_.col(b) = batch.z.col(batch.first_column(b) + n_);
  context_.noalias() = kq * queries_;
  values_.noalias() = batch.z.transpose() * pv.row(d_).transpose();
  value_grad_.setZero();
  for (std::int64_t b = 0; b < b_; ++b) {
    const std::int64_t first = batch.first_column(b);
    const auto prompt = batch.z.middleCols(first, n_ + 1);
    const auto values = values_.segment(first, n_ + 1);
    scores_.noalias() = prompt.transpose() * context_.col(b);
    residual_(b) = inv_n * values.dot(scores_) - batch.target(b);
    product_.col(b).noalias() = (residual_(b) * weight) * prompt * values;
    value_grad_.noalias() += (residual_(b) * weight) * prompt * scores_;
  }
  grad_kq.noalias() = product_ * queries_.transpose();
  grad_pv.setZero();
  grad_pv.row(d_) = value_grad_.transpose();
  return 0.5 * residual_.squaredNorm() / static_cast<double>(b_);
}

}  // namespace muonlab_icl
