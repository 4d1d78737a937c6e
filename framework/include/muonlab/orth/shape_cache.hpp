// One workspace per input shape. An optimizer applies one orthogonalizer to all of its
// blocks, so calls alternate between shapes; a single buffer set would be reallocated on
// every call. Include from a plugin as <muonlab/orth/shape_cache.hpp>.
#pragma once

#include <Eigen/Core>

#include <memory>
#include <vector>

namespace muonlab::orth {

// Workspace must be constructible from (rows, cols). References returned by get() stay
// valid for the lifetime of the cache (entries are never moved).
template <class Workspace>
class ShapeCache {
 public:
  Workspace& get(Eigen::Index rows, Eigen::Index cols) {
    for (Entry& entry : entries_) {
      if (entry.rows == rows && entry.cols == cols) return *entry.workspace;
    }
    entries_.push_back(Entry{rows, cols, std::make_unique<Workspace>(rows, cols)});
    return *entries_.back().workspace;
  }

 private:
  struct Entry {
    Eigen::Index rows, cols;
    std::unique_ptr<Workspace> workspace;
  };
  std::vector<Entry> entries_;
};

}  // namespace muonlab::orth
