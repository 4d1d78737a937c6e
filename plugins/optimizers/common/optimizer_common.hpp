// Everything in plugins/optimizers/common/ (see README.md there). Include from a plugin as
//   #include "../common/optimizer_common.hpp"
#pragma once

#include "block_check.hpp"
#include "momentum.hpp"
#include "param_specs.hpp"
#include "shape_scale.hpp"
#include "step_schedule.hpp"
