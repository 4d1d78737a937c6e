// The shape check every optimizer runs at the top of step(): the core hands blocks in the
// order and shapes given to initialize(); anything else is a caller error that would
// otherwise read or write out of bounds.
#pragma once

#include <muonlab/types.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace muonlab::optim {

inline void check_block_shapes(const std::string& plugin, const std::vector<BlockSpec>& declared, const Blocks& params,
                               const ConstBlocks& grads) {
  if (params.size() != declared.size() || grads.size() != declared.size()) {
    throw std::invalid_argument(plugin + ": step() got " + std::to_string(params.size()) +
                                " blocks, initialize() declared " + std::to_string(declared.size()));
  }
  for (std::size_t b = 0; b < declared.size(); ++b) {
    const bool same = params[b].rows() == declared[b].rows && params[b].cols() == declared[b].cols &&
                      grads[b].rows() == declared[b].rows && grads[b].cols() == declared[b].cols;
    if (!same) {
      throw std::invalid_argument(plugin + ": block '" + declared[b].name + "' has a different shape than declared (" +
                                  std::to_string(declared[b].rows) + " x " + std::to_string(declared[b].cols) + ")");
    }
  }
}

}  // namespace muonlab::optim
