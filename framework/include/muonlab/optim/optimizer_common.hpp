// Everything in muonlab/optim/ (see README.md there) except adam_moments.hpp and
// muon_step.hpp. Include from a plugin as
//   #include <muonlab/optim/optimizer_common.hpp>
#pragma once

#include "muonlab/optim/block_check.hpp"
#include "muonlab/optim/blockwise_optimizer.hpp"
#include "muonlab/optim/decoupled_update.hpp"
#include "muonlab/optim/momentum.hpp"
#include "muonlab/optim/param_specs.hpp"
#include "muonlab/optim/shape_scale.hpp"
#include "muonlab/optim/step_schedule.hpp"
