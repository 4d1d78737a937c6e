// Everything in plugins/optimizers/common/ (see README.md there) except adam_moments.hpp and
// muon_step.hpp. Include from a plugin as
//   #include "../common/optimizer_common.hpp"
#pragma once

#include "block_check.hpp"
#include "blockwise_optimizer.hpp"
#include "decoupled_update.hpp"
#include "momentum.hpp"
#include "param_specs.hpp"
#include "shape_scale.hpp"
#include "step_schedule.hpp"
