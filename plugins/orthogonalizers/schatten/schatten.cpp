// Freon's Schatten-q steepest-descent direction O = (G_n G_n^T)^{-c} G_n, c = 1 - q/2, i.e.
// U diag(s_n^{1 - 2c}) V^T for the normalized singular values s_n, computed exactly through
// the thin SVD. See README.md for the normalizations, the cost and the limits.
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

// What G is divided by before the power is taken.
enum class Normalization {
  SchattenQ,  // ||G||_{S_q} = (sum s_i^q)^{1/q}, q = 2 - 2c (Freon)
  Spectral,   // s_1
  None,       // 1: the raw (G G^T)^{-c} G
};

Normalization parse_normalization(const std::string& text) {
  if (text == "schatten_q") return Normalization::SchattenQ;
  if (text == "spectral") return Normalization::Spectral;
  if (text == "none") return Normalization::None;
  throw std::invalid_argument("schatten: normalization must be schatten_q, spectral or none, not '" + text + "'");
}

class Schatten final : public muonlab::Orthogonalizer {
 public:
  Schatten(const muonlab::Params& params, const muonlab::CreateContext&)
      : c_(params.real("c")),
        normalization_(parse_normalization(params.text("normalization"))),
        rank_threshold_(params.real("rank_threshold")) {
    if (normalization_ == Normalization::SchattenQ && c_ >= 1.0) {
      throw std::invalid_argument(
          "schatten: normalization schatten_q needs c < 1 (q = 2 - 2c > 0; the Schatten-0 'norm' does "
          "not exist); use normalization spectral or none for c = 1");
    }
  }

  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    map_.apply(gradient, output, rank_threshold_,
               [this](const Eigen::Ref<const Vector>& kept, Eigen::Ref<Vector> mapped) { power(kept, mapped); });
  }

  OrthogonalizerCost last_cost() const override { return map_.last_cost(); }

 private:
  // mapped_i = (s_i / N)^{1 - 2c}, N the normalization. Ratios to s_1 first, so that the sum
  // of powers lies in [1, r] and neither over- nor underflows.
  void power(const Eigen::Ref<const Vector>& kept, Eigen::Ref<Vector> mapped) const {
    const double exponent = 1.0 - 2.0 * c_;
    if (normalization_ == Normalization::None) {
      for (Eigen::Index i = 0; i < kept.size(); ++i) mapped(i) = std::pow(kept(i), exponent);
      return;
    }
    for (Eigen::Index i = 0; i < kept.size(); ++i) mapped(i) = std::pow(kept(i) / kept(0), exponent);
    if (normalization_ == Normalization::SchattenQ) {
      // (s_i / ||s||_q)^e = (s_i / s_1)^e * (sum_j (s_j / s_1)^q)^{-e/q}
      const double q = 2.0 - 2.0 * c_;
      double sum = 0.0;
      for (Eigen::Index i = 0; i < kept.size(); ++i) sum += std::pow(kept(i) / kept(0), q);
      mapped *= std::pow(sum, -exponent / q);
    }
  }

  double c_;
  Normalization normalization_;
  double rank_threshold_;
  muonlab::orth::SpectralMap map_;
};

const muonlab::ParamSpec kParams[] = {
    muonlab::real("c", "0.5")
        .at_least(0.0)
        .at_most(1.0)
        .doc("exponent in (G G^T)^{-c} G, singular values s -> s^{1-2c}; Freon's c = 1 - q/2. 0: normalized "
             "gradient, 1/2: polar factor, > 1/2: small singular values amplified"),
    muonlab::choice("normalization", "schatten_q", "schatten_q|spectral|none")
        .doc("G is first divided by ||G||_{S_q} with q = 2 - 2c (Freon; then <G, O> = ||G||_{S_q} and O has "
             "unit dual norm; needs c < 1), by s_1 (spectral), or not at all (none: not scale invariant unless c = "
             "1/2)"),
    muonlab::real("rank_threshold", "1.0e-12")
        .at_least(0.0)
        .below(1.0)
        .doc("singular values s_i <= rank_threshold * s_1 count as zero; needed for c > 1/2, where s^{1-2c} "
             "blows up as s -> 0"),
};

}  // namespace

MUONLAB_PLUGIN(
    Schatten, "schatten", "1.0.0",
    "Freon's Schatten-q direction (G G^T)^{-c} G, exact through the SVD, Schatten-q/spectral/no normalization", kParams)
