// The smallest complete muonlab plugin: normalized gradient descent,
// W <- W - eta_t * G / ||G||_F for each matrix parameter (no step on a zero gradient), with
// eta_t from the shared step-size schedules (constant by default). Copy this folder to start
// a new plugin; see README.md.
#include <muonlab/plugin.hpp>
#include <muonlab/optim/param_specs.hpp>
#include <muonlab/optim/step_schedule.hpp>

namespace {

namespace optim = muonlab::optim;

class NormalizedGd final : public muonlab::Optimizer {
 public:
  NormalizedGd(const muonlab::Params& params, const muonlab::CreateContext& /*context*/)
      : schedule_(optim::StepSchedule::from_params(params, "normalized_gd")) {}

  void initialize(const std::vector<muonlab::BlockSpec>& /*blocks*/) override {}

  // Every optimizer implements this one signature; source (gradients at other points, the
  // loss) is there for methods that need it.
  void step(std::int64_t iteration, muonlab::Blocks params, muonlab::ConstBlocks grads,
            const muonlab::GradientSource& /*source*/) override {
    eta_ = schedule_.at(iteration);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const double norm = grads[i].norm();
      if (norm > 0) params[i] -= (eta_ / norm) * grads[i];
    }
  }

  // eta_t of the last step: what a problem's theory is given (muonlab::kNoStepSize if none).
  double step_size() const override { return eta_; }

  std::vector<muonlab::ScalarSpec> diagnostics() const override {
    return {{"lr", "1", "step length eta_t in Frobenius norm"}};
  }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 private:
  const optim::StepSchedule schedule_;
  double eta_ = 0.0;
};

// Parameters: a builder per entry (muonlab/param_spec.hpp), or a shared declaration.
const muonlab::ParamSpec kParams[] = {
    optim::lr_param("0.01", "step length eta_0: the Frobenius norm of each block's update"),
    MUONLAB_STEP_SCHEDULE_PARAMS("constant", "1.0"),  // schedule, decay, horizon, final_fraction, warmup, lr_list
};

}  // namespace

MUONLAB_PLUGIN(NormalizedGd, "normalized_gd", "1.1.0", "template plugin: W <- W - eta_t G/||G||_F", kParams)
