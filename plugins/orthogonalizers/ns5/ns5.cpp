// Keller Jordan's quintic Newton-Schulz iteration (the orthogonalizer of the original
// Muon), in float64. See README.md for the math, the scalar model and the cost.
#include <muonlab/plugin.hpp>

#include "../common/polynomial_iteration.hpp"

namespace {

using muonlab::ConstMatrixMap;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;
namespace ns = muonlab::newton_schulz;

class QuinticNewtonSchulz final : public muonlab::Orthogonalizer {
 public:
  QuinticNewtonSchulz(const muonlab::Params& params, const muonlab::CreateContext&)
      : steps_(params.integer("steps")),
        schedule_({ns::OddPolynomial{params.real("a"), params.real("b"), params.real("c")}}),
        normalization_{1.0, params.real("eps"), false} {}

  // X0 = G / (||G||_F + eps) on the wide orientation, then `steps` times
  // A = X X^T;  B = b A + c A A;  X <- a X + B X.
  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    cost_ = iteration_.run(gradient, output, schedule_, steps_, normalization_);
  }

  OrthogonalizerCost last_cost() const override { return cost_; }

 private:
  std::int64_t steps_;
  ns::Schedule schedule_;
  ns::Normalization normalization_;
  ns::PolynomialIteration iteration_;
  OrthogonalizerCost cost_;
};

const muonlab::ParamSpec kParams[] = {
    {"steps", muonlab::ParamType::Integer, "5", 1.0, muonlab::kUnbounded, 0, nullptr,
     "number of iterations (3 GEMMs each; 2 when c = 0)"},
    {"a", muonlab::ParamType::Real, "3.4445", -muonlab::kUnbounded, muonlab::kUnbounded, 0, nullptr,
     "linear coefficient of p(x) = a x + b x^3 + c x^5"},
    {"b", muonlab::ParamType::Real, "-4.7750", -muonlab::kUnbounded, muonlab::kUnbounded, 0, nullptr,
     "cubic coefficient of p(x)"},
    {"c", muonlab::ParamType::Real, "2.0315", -muonlab::kUnbounded, muonlab::kUnbounded, 0, nullptr,
     "quintic coefficient of p(x)"},
    {"eps", muonlab::ParamType::Real, "1.0e-7", 0.0, muonlab::kUnbounded, 0, nullptr,
     "guard in the normalization X0 = G / (||G||_F + eps)"},
};

}  // namespace

MUONLAB_PLUGIN(QuinticNewtonSchulz, "ns5", "1.1.0",
               "Keller Jordan's quintic Newton-Schulz (Muon), float64, Frobenius-normalized", kParams)
