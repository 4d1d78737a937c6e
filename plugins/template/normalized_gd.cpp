// The smallest complete muonlab plugin: normalized gradient descent,
// W <- W - lr * G / ||G||_F for each matrix parameter (no step on a zero gradient).
// Copy this folder to start a new plugin; see README.md.
#include <muonlab/plugin.hpp>

namespace {

class NormalizedGd final : public muonlab::Optimizer {
 public:
  NormalizedGd(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : lr_(params.real("lr")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& /*blocks*/) override {}

  void step(std::int64_t /*iteration*/, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    for (std::size_t i = 0; i < params.size(); ++i) {
      const double norm = grads[i].norm();
      if (norm > 0) params[i] -= (lr_ / norm) * grads[i];
    }
  }

  double step_size() const override { return lr_; }
  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step length in Frobenius norm"}};
  }
  void read_diagnostics(double* values) const override { values[0] = lr_; }

 private:
  double lr_;
};

const muonlab::ParamSpec kParams[] = {
    muonlab::real("lr", "0.01").above(0.0).doc("step length: the Frobenius norm of each block's update"),
};

}  // namespace

MUONLAB_PLUGIN(NormalizedGd, "normalized_gd", "1.0.0", "template plugin: W <- W - lr G/||G||_F", kParams)
