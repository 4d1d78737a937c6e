// Polar factor from the eigendecomposition of the small Gram matrix:
// G (G^T G)^{-1/2} (tall) or (G G^T)^{-1/2} G (wide), with eigenvalues below a relative
// cutoff treated as zero. See README.md for the math, the cost and the limits.
#include <muonlab/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <muonlab/orth/lapack.hpp>
#include <muonlab/orth/shape_cache.hpp>

namespace {

using muonlab::ConstMatrixMap;
using muonlab::Matrix;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;
using muonlab::Vector;
namespace lapack = muonlab::orth::lapack;

// Buffers for one input shape (rows x cols, p = min(rows, cols)).
struct Workspace {
  Workspace(Eigen::Index rows, Eigen::Index cols)
      : x(rows, cols),
        gram(std::min(rows, cols), std::min(rows, cols)),
        eigenvalues(std::min(rows, cols)),
        root(std::min(rows, cols), std::min(rows, cols)),
        inverse_root(std::min(rows, cols), std::min(rows, cols)) {
    eigen.reserve(std::min(rows, cols));
  }
  Matrix x;             // G scaled by a power of two
  Matrix gram;          // X^T X (tall) or X X^T (wide); then its eigenvectors V
  Vector eigenvalues;   // ascending
  Matrix root;          // C = V_k Lambda_k^{-1/4}, p x k used
  Matrix inverse_root;  // C C^T = V_k Lambda_k^{-1/2} V_k^T
  lapack::SymmetricEigen eigen;
};

class GramEig final : public muonlab::Orthogonalizer {
 public:
  GramEig(const muonlab::Params& params, const muonlab::CreateContext&) : cutoff_(params.real("cutoff")) {}

  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    Workspace& w = workspaces_.get(gradient.rows(), gradient.cols());
    cost_ = OrthogonalizerCost{};
    if (!gradient.allFinite()) throw std::invalid_argument("gram_eig: the input has NaN or Inf entries");
    const double largest = gradient.cwiseAbs().maxCoeff();
    if (largest == 0.0) {  // the polar factor of the zero matrix is zero
      output.setZero();
      return;
    }
    // The Gram matrix squares the entries; an exact power-of-two scaling keeps it far from
    // over- and underflow. The polar factor does not depend on it.
    w.x = gradient * std::ldexp(1.0, -std::ilogb(largest));
    const bool tall = gradient.rows() >= gradient.cols();
    form_gram(w, tall);
    const Eigen::Index p = w.gram.rows();
    w.eigen.compute(w.gram.data(), w.eigenvalues.data(), p);
    const Eigen::Index k = form_inverse_root(w);
    if (tall) {
      output.noalias() = w.x * w.inverse_root;
    } else {
      output.noalias() = w.inverse_root * w.x;
    }
    const double q = static_cast<double>(std::max(gradient.rows(), gradient.cols()));
    const double pd = static_cast<double>(p), kd = static_cast<double>(k);
    cost_.gemms = 3;  // SYRK, C C^T, final product
    // SYRK p^2 q; symmetric eigendecomposition with vectors ~9 p^3 (textbook estimate for the
    // symmetric QR algorithm; divide and conquer is usually cheaper); C C^T 2 p^2 k; product 2 q p^2.
    cost_.flops = pd * pd * q + 9.0 * pd * pd * pd + 2.0 * pd * pd * kd + 2.0 * q * pd * pd;
  }

  OrthogonalizerCost last_cost() const override { return cost_; }

 private:
  // Lower triangle of the small Gram matrix (all dsyevd reads), by a symmetric rank-k update.
  static void form_gram(Workspace& w, bool tall) {
    w.gram.setZero();
    if (tall) {
      w.gram.selfadjointView<Eigen::Lower>().rankUpdate(w.x.transpose());
    } else {
      w.gram.selfadjointView<Eigen::Lower>().rankUpdate(w.x);
    }
  }

  // inverse_root = V_k Lambda_k^{-1/2} V_k^T over the k eigenvalues above cutoff^2 lambda_max
  // (singular values above cutoff * s_1). Returns k.
  Eigen::Index form_inverse_root(Workspace& w) const {
    const Eigen::Index p = w.eigenvalues.size();
    const double threshold = cutoff_ * cutoff_ * w.eigenvalues(p - 1);
    Eigen::Index k = 0;
    while (k < p && w.eigenvalues(p - 1 - k) > threshold) ++k;
    for (Eigen::Index j = 0; j < k; ++j) {  // the k largest eigenvalues are the last k
      const Eigen::Index source = p - k + j;
      w.root.col(j) = w.gram.col(source) / std::sqrt(std::sqrt(w.eigenvalues(source)));
    }
    w.inverse_root.noalias() = w.root.leftCols(k) * w.root.leftCols(k).transpose();
    return k;
  }

  double cutoff_;
  muonlab::orth::ShapeCache<Workspace> workspaces_;
  OrthogonalizerCost cost_;
};

const muonlab::ParamSpec kParams[] = {
    muonlab::real("cutoff", "1.0e-6")
        .at_least(0.0)
        .below(1.0)
        .doc("relative cutoff on singular values: eigenvalues lambda_i <= cutoff^2 lambda_max of the Gram "
             "matrix (s_i <= cutoff * s_1) count as zero; below ~sqrt(max(m,n) eps) they are rounding noise"),
};

}  // namespace

MUONLAB_PLUGIN(GramEig, "gram_eig", "1.0.0",
               "polar factor G (G^T G)^{-1/2} from the eigendecomposition of the small Gram matrix, relative cutoff",
               kParams)
