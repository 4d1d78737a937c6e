// Plain gradient descent: W <- W - lr * G for every block (algorithms.md 2.1).
#include <muonlab/plugin.hpp>

#include <stdexcept>
#include <string>

namespace {

using muonlab::kUnbounded;
using muonlab::ParamType;

class GradientDescent final : public muonlab::Optimizer {
 public:
  GradientDescent(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : lr_(params.real("lr")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& blocks) override { blocks_ = blocks; }

  void step(std::int64_t /*iteration*/, muonlab::Blocks params, muonlab::ConstBlocks grads) override {
    check_shapes(params, grads);
    for (std::size_t b = 0; b < params.size(); ++b) {
      params[b].noalias() -= lr_ * grads[b];
    }
  }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step size eta_t used at this step"}};
  }
  void read_diagnostics(double* values) const override { values[0] = lr_; }

 private:
  // The core hands blocks in the order and shapes given to initialize(); anything else is a
  // caller error that would otherwise write out of bounds.
  void check_shapes(const muonlab::Blocks& params, const muonlab::ConstBlocks& grads) const {
    if (params.size() != blocks_.size() || grads.size() != blocks_.size()) {
      throw std::invalid_argument("gd: step() got " + std::to_string(params.size()) +
                                  " blocks, initialize() declared " + std::to_string(blocks_.size()));
    }
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      const bool same = params[b].rows() == blocks_[b].rows && params[b].cols() == blocks_[b].cols &&
                        grads[b].rows() == blocks_[b].rows && grads[b].cols() == blocks_[b].cols;
      if (!same) throw std::invalid_argument("gd: block '" + blocks_[b].name + "' has a different shape than declared");
    }
  }

  double lr_;
  std::vector<muonlab::BlockSpec> blocks_;
};

const muonlab::ParamSpec kParams[] = {
    {"lr", ParamType::Real, "0.1", 0.0, kUnbounded, muonlab::kParamLowExclusive, nullptr,
     "constant step size eta"},
};

}  // namespace

MUONLAB_PLUGIN(GradientDescent, "gd", "1.0.0", "gradient descent W <- W - lr * G", kParams)
