// Plain gradient descent: W <- W - lr * G for every block (docs/algorithms.md 2.1).
#include <muonlab/plugin.hpp>

#include <muonlab/optim/block_check.hpp>

namespace {

using muonlab::kUnbounded;
using muonlab::ParamType;

class GradientDescent final : public muonlab::Optimizer {
 public:
  GradientDescent(const muonlab::Params& params, const muonlab::CreateContext& /*context*/) : lr_(params.real("lr")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override { blocks_ = blocks; }

  void step(std::int64_t /*iteration*/, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    muonlab::optim::check_block_shapes("gd", blocks_, params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      params[b].noalias() -= lr_ * grads[b];
    }
  }

  double step_size() const override { return lr_; }
  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step"}};
  }
  void read_diagnostics(double* values) const override { values[0] = lr_; }

 private:
  double lr_;
  std::vector<muonlab::BlockSpec> blocks_;
};

const muonlab::ParamSpec kParams[] = {
    muonlab::real("lr", "0.1").above(0.0).doc("constant step size eta"),
};

}  // namespace

MUONLAB_PLUGIN(GradientDescent, "gd", "1.0.0", "gradient descent W <- W - lr * G", kParams)
