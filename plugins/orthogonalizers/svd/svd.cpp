// Exact polar factor msign(G) = U_r V_r^T from a thin SVD (LAPACK dgesdd), keeping the
// singular values above a relative rank threshold. See README.md for the math and cost.
#include <muonlab/linalg.hpp>
#include <muonlab/plugin.hpp>

#include <algorithm>
#include <vector>

namespace {

using muonlab::ConstMatrixMap;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;
using muonlab::Vector;

// Flops of a thin SVD with vectors (U: q x p or p x q, V: p x p), textbook estimates from
// Golub & Van Loan (3rd ed., Fig. 5.4.1). LAPACK dgesdd first reduces by QR when the long
// side is at least 11/6 of the short one (its MNTHR), which is the R-SVD count; otherwise it
// bidiagonalizes directly, the Golub-Reinsch count.
double thin_svd_flops(Eigen::Index rows, Eigen::Index cols) {
  const Eigen::Index short_side = std::min(rows, cols);
  const Eigen::Index long_side = std::max(rows, cols);
  const bool qr_first = long_side >= short_side * 11 / 6;  // dgesdd: MNTHR = INT(MINMN*11/6)
  const double p = static_cast<double>(short_side);
  const double q = static_cast<double>(long_side);
  return qr_first ? 6.0 * q * p * p + 20.0 * p * p * p : 14.0 * q * p * p + 8.0 * p * p * p;
}

// r = #{s_i > threshold * s_1}; s is sorted in descending order. Zero when s_1 = 0.
Eigen::Index retained_rank(const Vector& s, double threshold) {
  if (s.size() == 0) return 0;
  const double cutoff = threshold * s(0);
  Eigen::Index r = 0;
  while (r < s.size() && s(r) > cutoff) ++r;
  return r;
}

// One ThinSvd (with its LAPACK buffers) per input shape: an optimizer applies one
// orthogonalizer to all of its blocks, so calls alternate between shapes, and a single
// buffer set would be reallocated on every call.
class SvdPerShape {
 public:
  muonlab::ThinSvd& get(Eigen::Index rows, Eigen::Index cols) {
    for (Entry& entry : entries_) {
      if (entry.rows == rows && entry.cols == cols) return entry.svd;
    }
    entries_.push_back(Entry{rows, cols, muonlab::ThinSvd()});
    return entries_.back().svd;
  }

 private:
  struct Entry {
    Eigen::Index rows, cols;
    muonlab::ThinSvd svd;
  };
  std::vector<Entry> entries_;
};

class SvdPolar final : public muonlab::Orthogonalizer {
 public:
  SvdPolar(const muonlab::Params& params, const muonlab::CreateContext&)
      : rank_threshold_(params.real("rank_threshold")) {}

  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    muonlab::ThinSvd& svd = svds_.get(gradient.rows(), gradient.cols());
    svd.compute(gradient, /*with_vectors=*/true);
    const Eigen::Index r = retained_rank(svd.singular_values(), rank_threshold_);
    if (r == 0) {
      output.setZero();  // the polar factor of the zero matrix is zero
    } else {
      output.noalias() = svd.u().leftCols(r) * svd.vt().topRows(r);
    }
    const double m = static_cast<double>(gradient.rows());
    const double n = static_cast<double>(gradient.cols());
    cost_.gemms = r > 0 ? 1 : 0;
    cost_.flops = thin_svd_flops(gradient.rows(), gradient.cols()) + 2.0 * m * n * static_cast<double>(r);
  }

  OrthogonalizerCost last_cost() const override { return cost_; }

 private:
  double rank_threshold_;
  SvdPerShape svds_;
  OrthogonalizerCost cost_;
};

const muonlab::ParamSpec kParams[] = {
    muonlab::real("rank_threshold", "1.0e-12")
        .at_least(0.0)
        .below(1.0)
        .doc("keep singular values s_i > rank_threshold * s_1; the rest count as zero (their "
             "directions get 0, not 1). 0 keeps every nonzero singular value"),
};

}  // namespace

MUONLAB_PLUGIN(SvdPolar, "svd", "1.0.0",
               "exact polar factor U_r V_r^T by thin SVD (LAPACK dgesdd) with a relative rank threshold", kParams)
