// QDWH polar factor (QR-based dynamically weighted Halley) after a rank-revealing QR, so a
// rank-deficient gradient gives U_r V_r^T. See README.md for the math, the cost and the
// limits; the iteration itself is in qdwh_polar.hpp.
#include <muonlab/plugin.hpp>

#include <algorithm>

#include <muonlab/orth/shape_cache.hpp>
#include "qdwh_polar.hpp"

namespace {

using muonlab::ConstMatrixMap;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;
namespace qdwh = muonlab::orth::qdwh;

class Qdwh final : public muonlab::Orthogonalizer {
 public:
  Qdwh(const muonlab::Params& params, const muonlab::CreateContext&) {
    settings_.rank_threshold = params.real("rank_threshold");
    settings_.max_iterations = static_cast<int>(params.integer("max_iterations"));
  }

  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    // G and G^T share one workspace: the iteration runs on the tall orientation.
    const Eigen::Index long_side = std::max(gradient.rows(), gradient.cols());
    const Eigen::Index short_side = std::min(gradient.rows(), gradient.cols());
    qdwh::QdwhPolar& polar = workspaces_.get(long_side, short_side);
    cost_ = OrthogonalizerCost{};
    polar.compute(gradient, output, settings_);
    cost_ = polar.report().cost;
  }

  OrthogonalizerCost last_cost() const override { return cost_; }

 private:
  qdwh::Settings settings_;
  muonlab::orth::ShapeCache<qdwh::QdwhPolar> workspaces_;
  OrthogonalizerCost cost_;
};

const muonlab::ParamSpec kParams[] = {
    muonlab::real("rank_threshold", "1.0e-12")
        .at_least(0.0)
        .below(1.0)
        .doc("columns of the pivoted QR with |R_ii| <= rank_threshold * |R_11| count as null space (their "
             "directions get 0); 0 keeps every nonzero pivot"),
    muonlab::integer("max_iterations", "10")
        .at_least(1.0)
        .at_most(100.0)
        .doc("limit on the Halley iterations; 6 always suffice when the lower bound is rigorous, more is "
             "an error"),
};

}  // namespace

MUONLAB_PLUGIN(
    Qdwh, "qdwh", "1.0.0",
    "QDWH polar factor (dynamically weighted Halley, QR/Cholesky forms) after a rank-revealing QR: U_r V_r^T", kParams)
