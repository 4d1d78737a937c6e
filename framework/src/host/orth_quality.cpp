#include "host/orth_quality.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace muonlab {

int OrthogonalizerProbe::apply(const MatrixView* gradient, MatrixView* output, ErrorBuffer* error) noexcept {
  const int status = inner_->apply(gradient, output, error);
  if (status != 0) return status;
  try {
    measure(ConstMatrixMap(gradient->data, gradient->rows, gradient->cols),
            ConstMatrixMap(output->data, output->rows, output->cols));
  } catch (const std::exception& e) {  // e.g. NaN in the output: the optimizer's own problem
    std::snprintf(error->message, sizeof(error->message), "orth_quality measurement: %s", e.what());
    return 1;
  }
  return 0;
}

void OrthogonalizerProbe::measure(const ConstMatrixMap& g, const ConstMatrixMap& o) {
  const OrthogonalizerCost cost = inner_->last_cost();
  current_.gemms += static_cast<double>(cost.gemms);
  current_.flops += cost.flops;
  ++current_.calls;

  exact_.compute(g, true);
  const Vector& s = exact_.singular_values();
  // Same relative rank threshold as the svd orthogonalizer's default.
  Eigen::Index rank = 0;
  while (rank < s.size() && s(0) > 0 && s(rank) > 1e-12 * s(0)) ++rank;
  if (rank == 0) {  // zero input: the only right answer is zero
    current_.rel_error = std::max(current_.rel_error, o.norm());
    return;
  }
  const auto u = exact_.u().leftCols(rank);
  const auto vt = exact_.vt().topRows(rank);
  polar_.noalias() = u * vt;
  current_.rel_error = std::max(current_.rel_error, (o - polar_).norm() / std::sqrt(static_cast<double>(rank)));

  // O restricted to the rank-r subspace of G: U_r^T O V_r (r x r); exact methods give I_r.
  projected_.noalias() = u.transpose() * o * vt.transpose();
  gram_.noalias() = projected_.transpose() * projected_;
  gram_.diagonal().array() -= 1.0;
  current_.residual = std::max(current_.residual, gram_.norm());

  const Vector& so = output_spectrum_.compute(o);
  current_.sigma_max = std::max(current_.sigma_max, so(0));
  current_.sigma_min = std::min(current_.sigma_min, so(std::min<Eigen::Index>(rank, so.size()) - 1));
  const double nuclear = s.head(rank).sum();
  current_.alignment = std::min(current_.alignment, (g.array() * o.array()).sum() / nuclear);
}

OrthQuality OrthogonalizerProbe::take() {
  const OrthQuality out = current_.calls == 0 ? OrthQuality::missing() : current_;
  current_ = OrthQuality{};
  return out;
}

}  // namespace muonlab
