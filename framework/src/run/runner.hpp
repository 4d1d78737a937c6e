// The run module's public face: everything `muonlab run` and the tests call.
#pragma once

#include "run/blas.hpp"
#include "run/cell.hpp"
#include "run/grid_run.hpp"
#include "run/provenance.hpp"
#include "run/summary.hpp"
