// Classical cubic Newton-Schulz iteration X <- 1.5 X - 0.5 X X^T X, in float64: the
// converging baseline of the family. See README.md for the math, the default step count
// and the cost.
#include <muonlab/plugin.hpp>

#include <string>

#include "../common/polynomial_iteration.hpp"
#include "../common/schedules.hpp"

namespace {

using muonlab::ConstMatrixMap;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;
namespace ns = muonlab::newton_schulz;

class CubicNewtonSchulz final : public muonlab::Orthogonalizer {
 public:
  CubicNewtonSchulz(const muonlab::Params& params, const muonlab::CreateContext&)
      : steps_(params.integer("steps")),
        schedule_({ns::kCubicNewtonSchulz}),
        normalization_{1.0, params.real("eps"), false} {}

  // X0 = G / (||G||_F + eps) on the wide orientation, then `steps` times
  // A = X X^T;  X <- 1.5 X - 0.5 A X.
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

const std::string kDefaultSteps = std::to_string(ns::kCubicDefaultSteps);

const muonlab::ParamSpec kParams[] = {
    {"steps", muonlab::ParamType::Integer, kDefaultSteps.c_str(), 1.0, muonlab::kUnbounded, 0, nullptr,
     "number of cubic iterations (2 GEMMs each); the default takes every sigma >= 0.01 ||G||_F to within 1e-3 of 1"},
    {"eps", muonlab::ParamType::Real, "1.0e-7", 0.0, muonlab::kUnbounded, 0, nullptr,
     "guard in the normalization X0 = G / (||G||_F + eps)"},
};

}  // namespace

MUONLAB_PLUGIN(CubicNewtonSchulz, "ns3", "1.0.0",
               "cubic Newton-Schulz X <- 1.5X - 0.5XX^TX, float64, Frobenius-normalized, converges to U V^T", kParams)
