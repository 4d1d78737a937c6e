// The shell of most optimizer plugins: the step-size schedule (step_schedule.hpp), the blocks
// declared by initialize() with one State per block, eta_t of the current step, reported as
// step_size() and as the "lr" diagnostic. A plugin derives from BlockwiseOptimizer<BlockState>, calls reset_blocks() in
// initialize() and begin_step() at the top of step(), and overrides diagnostics() only when it
// reports more than eta_t.
#pragma once

#include <muonlab/plugin.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "muonlab/optim/block_check.hpp"
#include "muonlab/optim/step_schedule.hpp"

namespace muonlab::optim {

struct NoBlockState {};

template <class State = NoBlockState>
class BlockwiseOptimizer : public Optimizer {
 public:
  double step_size() const override { return eta_; }
  std::vector<ScalarSpec> diagnostics() const override { return {{"lr", "1", "step size eta_t used at this step"}}; }
  void read_diagnostics(double* values) const override { values[0] = eta_; }

 protected:
  // Reads the schedule ("lr" and the schedule parameters the plugin declares).
  BlockwiseOptimizer(const Params& params, std::string name)
      : name_(std::move(name)), schedule_(StepSchedule::from_params(params, name_)) {}

  // For initialize(): keeps the declared blocks and gives each a value-initialized State
  // (sized by the plugin afterwards, so that step() allocates nothing).
  void reset_blocks(const std::vector<BlockSpec>& blocks) {
    blocks_ = blocks;
    state_.clear();
    state_.resize(blocks.size());
  }

  // The top of step(): the shape check, then eta_t of this iteration.
  void begin_step(std::int64_t iteration, const Blocks& params, const ConstBlocks& grads) {
    check_block_shapes(name_, blocks_, params, grads);
    eta_ = schedule_.at(iteration);
  }

  const std::string name_;
  const StepSchedule schedule_;
  std::vector<BlockSpec> blocks_;
  std::vector<State> state_;
  double eta_ = 0.0;
};

}  // namespace muonlab::optim
