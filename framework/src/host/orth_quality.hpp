// Measures every call of an orthogonalizer against the exact polar factor U_r V_r^T.
//
// The probe sits between an optimizer and the orthogonalizer plugin it was given: it forwards
// each call, then compares the output O with the exact factor of the same input G. Per step the
// runner reads the worst value over the calls of that step (one call per matrix block) and resets.
#pragma once

#include <limits>

#include "muonlab/boundary.hpp"
#include "muonlab/linalg.hpp"

namespace muonlab {

struct OrthQuality {
  double residual = 0.0;   // ||O_r^T O_r - I_r||_F, O restricted to G's rank-r subspace (max over calls)
  double rel_error = 0.0;  // ||O - U_r V_r^T||_F / ||U_r V_r^T||_F (max over calls)
  double sigma_min = std::numeric_limits<double>::infinity();  // smallest of O's top-r singular values
  double sigma_max = 0.0;                                      // largest singular value of O
  double alignment = std::numeric_limits<double>::infinity();  // <G, O> / ||G||_* (min over calls; 1 is exact)
  double gemms = 0.0;                                          // summed over calls, as the method reports
  double flops = 0.0;
  int calls = 0;

  // All-NaN values for a step without any orthogonalizer call.
  static OrthQuality missing() {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    OrthQuality q;
    q.residual = q.rel_error = q.sigma_min = q.sigma_max = q.alignment = nan;
    return q;
  }
};

class OrthogonalizerProbe final : public OrthogonalizerAbi {
 public:
  explicit OrthogonalizerProbe(OrthogonalizerAbi* inner) : inner_(inner) {}

  int apply(const MatrixView* gradient, MatrixView* output, ErrorBuffer* error) noexcept override;
  OrthogonalizerCost last_cost() const noexcept override { return inner_->last_cost(); }

  // The worst values since the last take(), then a fresh accumulator.
  OrthQuality take();

 private:
  void measure(const ConstMatrixMap& g, const ConstMatrixMap& o);

  OrthogonalizerAbi* inner_;
  ThinSvd exact_;
  Matrix polar_, projected_, gram_;
  SpectrumCalculator output_spectrum_;
  OrthQuality current_;
};

}  // namespace muonlab
