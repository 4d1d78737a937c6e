// The orthogonalizer shell of the fixed-schedule Newton-Schulz plugins (ns3, ns5, ns_quintic,
// polar_express, cans): a PolynomialIteration run with a schedule, a step count and a
// normalization fixed at construction, and the cost of the last call. A plugin only builds
// the schedule from its parameters.
#pragma once

#include <muonlab/plugin.hpp>

#include <cstdint>
#include <utility>

#include "muonlab/orth/polynomial_iteration.hpp"

namespace muonlab::newton_schulz {

class ScheduledIteration : public Orthogonalizer {
 public:
  // steps <= 0 runs the schedule's length.
  ScheduledIteration(Schedule schedule, std::int64_t steps, Normalization normalization)
      : schedule_(std::move(schedule)), steps_(steps <= 0 ? schedule_.size() : steps), normalization_(normalization) {}

  // X0 = G / (s ||G||_F + eps) on the wide orientation (optionally Gelfand-rescaled), then
  // the schedule's steps A = X X^T;  X <- a_i X + (b_i A + c_i A A) X.
  void apply(ConstMatrixMap gradient, MatrixMap output) override {
    cost_ = iteration_.run(gradient, output, schedule_, steps_, normalization_);
  }

  OrthogonalizerCost last_cost() const override { return cost_; }

 private:
  Schedule schedule_;
  std::int64_t steps_;
  Normalization normalization_;
  PolynomialIteration iteration_;
  OrthogonalizerCost cost_;
};

// "eps" of the normalization X0 = G / (s ||G||_F + eps), default 1e-7; the doc names s.
constexpr ParamBuilder eps_param(const char* doc = "guard in the normalization X0 = G / (||G||_F + eps)") {
  return real("eps", "1.0e-7").at_least(0.0).doc(doc);
}

// "steps": the number of iterations, >= low (0 when 0 means the schedule's natural length).
constexpr ParamBuilder steps_param(const char* default_value, double low, const char* doc) {
  return integer("steps", default_value).at_least(low).doc(doc);
}

}  // namespace muonlab::newton_schulz
