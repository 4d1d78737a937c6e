// Smoothed polar factor: sign(s) replaced by s / sqrt(s^2 + lambda^2), i.e.
// O = (G G^T + lambda^2 I)^{-1/2} G, with lambda absolute or relative to s_1, computed through
// the thin SVD. See README.md for the math, the cost and the limits.
#include <muonlab/plugin.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

#include <muonlab/orth/spectral_map.hpp>

namespace {

using muonlab::ConstMatrixMap;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;
using muonlab::Vector;

enum class LambdaScale { Relative, Absolute };

LambdaScale parse_lambda_scale(const std::string& text) {
  if (text == "relative") return LambdaScale::Relative;
  if (text == "absolute") return LambdaScale::Absolute;
  throw std::invalid_argument("smoothed_polar: lambda_scale must be relative or absolute, not '" + text + "'");
}

class SmoothedPolar final : public muonlab::Orthogonalizer {
 public:
  SmoothedPolar(const muonlab::Params& params, const muonlab::CreateContext&)
      : lambda_(params.real("lambda")),
        scale_(parse_lambda_scale(params.text("lambda_scale"))),
        rank_threshold_(params.real("rank_threshold")) {}

  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    map_.apply(gradient, output, rank_threshold_,
               [this](const Eigen::Ref<const Vector>& kept, Eigen::Ref<Vector> mapped) {
                 const double lambda = scale_ == LambdaScale::Relative ? lambda_ * kept(0) : lambda_;
                 // s / hypot(s, lambda): no overflow of s^2 + lambda^2; lambda = 0 gives 1.
                 for (Eigen::Index i = 0; i < kept.size(); ++i) mapped(i) = kept(i) / std::hypot(kept(i), lambda);
               });
  }

  OrthogonalizerCost last_cost() const override { return map_.last_cost(); }

 private:
  double lambda_;
  LambdaScale scale_;
  double rank_threshold_;
  muonlab::orth::SpectralMap map_;
};

const muonlab::ParamSpec kParams[] = {
    muonlab::real("lambda", "1.0e-3")
        .at_least(0.0)
        .doc("smoothing scale: s -> s / sqrt(s^2 + lambda^2); 0 gives the exact polar factor U_r V_r^T"),
    muonlab::choice("lambda_scale", "relative", "relative|absolute")
        .doc("relative: lambda is multiplied by s_1 (scale invariant); absolute: lambda is used as is "
             "(the output shrinks with the gradient, O ~ G / lambda for small G)"),
    muonlab::real("rank_threshold", "1.0e-12")
        .at_least(0.0)
        .below(1.0)
        .doc("singular values s_i <= rank_threshold * s_1 count as zero (as in the svd orthogonalizer)"),
};

}  // namespace

MUONLAB_PLUGIN(
    SmoothedPolar, "smoothed_polar", "1.0.0",
    "smoothed polar factor (G G^T + lambda^2 I)^{-1/2} G through the SVD, lambda relative to s_1 or absolute", kParams)
