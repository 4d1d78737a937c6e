// The Muon step shared by muon, adamuon and normuon (docs/algorithms.md 2.6, 2.14, 2.15), per block:
//
//   N_t = G_t, M_t or the Nesterov look-ahead        (MomentumBuffers, momentum.hpp)
//   O_t = orthogonalizer(N_t)
//   ... (a plugin may rework O_t in place here: second moments, row normalization)
//   W  <- (1 - eta_t wd) W - eta_t s O_t             (s from shape_scale.hpp; decoupled_update.hpp)
//
// MuonBlocks reads "momentum", "nesterov" (when declared), "orthogonalizer", "scaling" and
// "weight_decay"; declare them with the entries of param_specs.hpp. Everything is sized in
// initialize(), so the step allocates nothing.
#pragma once

#include <muonlab/params.hpp>
#include <muonlab/types.hpp>

#include <string>
#include <vector>

#include "muonlab/optim/decoupled_update.hpp"
#include "muonlab/optim/momentum.hpp"
#include "muonlab/optim/shape_scale.hpp"

namespace muonlab::optim {

class MuonBlocks {
 public:
  // form and optional_momentum as in MomentumSettings: muon keeps no buffer for beta = 0
  // (simplified Muon), adamuon and normuon always accumulate one.
  MuonBlocks(const Params& params, const std::string& plugin, MomentumForm form, bool optional_momentum)
      : momentum_(MomentumSettings::from_params(params, form, optional_momentum)),
        orthogonalizer_(params.orthogonalizer("orthogonalizer")),
        scaling_(parse_shape_scaling(params.text("scaling"), plugin)),
        weight_decay_(params.real("weight_decay")) {}

  void initialize(const std::vector<BlockSpec>& blocks) {
    state_.assign(blocks.size(), Block{});
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      Block& s = state_[b];
      s.scale = shape_scale(scaling_, blocks[b].rows, blocks[b].cols);
      s.update = Matrix::Zero(blocks[b].rows, blocks[b].cols);
      s.momentum.allocate(momentum_, blocks[b].rows, blocks[b].cols);
    }
  }

  // O = orthogonalizer(N) of block b, left in update(b) and returned.
  Matrix& orthogonalize(std::size_t b, ConstMatrixMap grad) {
    Block& s = state_[b];
    orthogonalizer_.apply(s.momentum.direction(momentum_, grad), s.update);
    return s.update;
  }

  // W <- (1 - eta wd) W - eta s O, with O = update(b).
  void apply(std::size_t b, MatrixMap w, double eta) const {
    decoupled_update(w, eta, weight_decay_, eta * state_[b].scale, state_[b].update);
  }

  Matrix& update(std::size_t b) { return state_[b].update; }
  double scale(std::size_t b) const { return state_[b].scale; }

 private:
  struct Block {
    double scale = 1.0;        // s
    MomentumBuffers momentum;  // M and N
    Matrix update;             // O
  };

  const MomentumSettings momentum_;
  const OrthogonalizerRef orthogonalizer_;
  const ShapeScaling scaling_;
  const double weight_decay_;
  std::vector<Block> state_;
};

}  // namespace muonlab::optim
