// You Jiacheng's 5-step quintic Newton-Schulz schedule (a different (a, b, c) at each step),
// in float64. See README.md for the math, the scalar model and the cost.
#include <muonlab/plugin.hpp>

#include "../common/polynomial_iteration.hpp"
#include "../common/schedules.hpp"

namespace {

using muonlab::ConstMatrixMap;
using muonlab::MatrixMap;
using muonlab::OrthogonalizerCost;
namespace ns = muonlab::newton_schulz;

class ScheduledQuinticNewtonSchulz final : public muonlab::Orthogonalizer {
 public:
  ScheduledQuinticNewtonSchulz(const muonlab::Params& params, const muonlab::CreateContext&)
      : steps_(params.integer("steps")),
        schedule_(ns::to_vector(ns::kYouQuintic)),
        normalization_{1.0, params.real("eps"), false} {}

  // X0 = G / (||G||_F + eps) on the wide orientation, then at step i
  // A = X X^T;  B = b_i A + c_i A A;  X <- a_i X + B X   (steps past 5 reuse step 5).
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
     "number of quintic iterations (3 GEMMs each); steps past the 5 of the table repeat its last triple"},
    {"eps", muonlab::ParamType::Real, "1.0e-7", 0.0, muonlab::kUnbounded, 0, nullptr,
     "guard in the normalization X0 = G / (||G||_F + eps)"},
};

}  // namespace

MUONLAB_PLUGIN(ScheduledQuinticNewtonSchulz, "ns_quintic", "1.0.0",
               "You Jiacheng's 5-step quintic Newton-Schulz schedule, float64, Frobenius-normalized", kParams)
