// Random streams with a written-down algorithm, so that a cell's random numbers can be
// replayed bit for bit by an independent program (docs/random.md gives the whole derivation,
// from the grid seed to each draw).
//
//   Rng            std::mt19937_64 seeded with one uint64 (the engine's constructor
//                  seed(value); its output sequence is fixed by the C++ standard).
//   uniform01(r)   one 64-bit word w of r, then u = double(w) / 2^64 (double(w): w rounded
//                  to the nearest double, ties to even); u = 1 - 2^-53 if that rounded to 1.
//                  u lies in [0, 1).
//   NormalSampler  Marsaglia's polar method with one cached value:
//                    if a value is cached: z = the cached value, the cache is emptied;
//                    else repeat
//                           x = 2 * uniform01(r) - 1      (first word)
//                           y = 2 * uniform01(r) - 1      (second word)
//                           s = x * x + y * y
//                         until 0 < s <= 1 (s > 1 or s == 0: draw both again);
//                         f = sqrt(-2 * log(s) / s)       (-2 * log(s) first, then / s)
//                         cache x * f, z = y * f          (y's value is returned first)
//                    return z * stddev + mean             (always both operations, also for
//                                                          mean 0, stddev 1)
//                  Every operation is one IEEE-754 double operation rounded to nearest;
//                  log and sqrt are the C library's (sqrt is correctly rounded; log is
//                  glibc's, which is what std::log calls).
//
// This is the arithmetic of libstdc++'s std::normal_distribution<double>::operator() and
// std::generate_canonical<double, 53> on std::mt19937_64, in the same order, so the values
// equal what muonlab drew before it had its own sampler (tests/test_random.cpp checks this
// bit for bit). Unlike std::normal_distribution, whose algorithm the standard leaves to the
// library, this one is a contract.
//
// The cache belongs to the sampler object: a sampler keeps its cached value across calls
// (also across calls with different engines), a newly constructed sampler has none, and
// reset() empties it. Where a plugin constructs its samplers is part of its documented
// stream (docs/random.md).
//
// Build note: the bit-for-bit contract assumes the compiler does not contract a * b + c into
// a fused multiply-add (no -ffp-contract=fast together with an FMA target such as
// -march=haswell) and no -ffast-math. muonlab's default flags target baseline x86-64.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace muonlab {

// The engine of every muonlab random stream: Rng rng(seed) with a uint64 seed.
using Rng = std::mt19937_64;

// Largest double below 1: 1 - 2^-53.
inline constexpr double kBelowOne = 0x1.fffffffffffffp-1;

// The value uniform01 makes of one 64-bit word: double(word) / 2^64, or 1 - 2^-53 when the
// word rounds up to 2^64 (words >= 2^64 - 2^10).
inline double uniform01_from_word(std::uint64_t word) {
  const double u = static_cast<double>(word) / 0x1p64;  // exact: division by a power of two
  return u >= 1.0 ? kBelowOne : u;
}

// One draw from [0, 1); consumes exactly one 64-bit word of rng.
inline double uniform01(Rng& rng) { return uniform01_from_word(rng()); }

// N(mean, stddev^2) draws by the polar method with one cached value (see the top of this
// file for the exact algorithm).
class NormalSampler {
 public:
  NormalSampler() = default;  // mean 0, stddev 1
  NormalSampler(double mean, double stddev) : mean_(mean), stddev_(stddev) {}

  double operator()(Rng& rng) {
    double z;
    if (has_cached_) {
      has_cached_ = false;
      z = cached_;
    } else {
      double x, y, s;
      do {
        x = 2.0 * uniform01(rng) - 1.0;
        y = 2.0 * uniform01(rng) - 1.0;
        s = x * x + y * y;
      } while (s > 1.0 || s == 0.0);
      const double factor = std::sqrt(-2.0 * std::log(s) / s);
      cached_ = x * factor;
      has_cached_ = true;
      z = y * factor;
    }
    return z * stddev_ + mean_;
  }

  // Forgets the cached value: the next call draws a new pair.
  void reset() { has_cached_ = false; }

  double mean() const { return mean_; }
  double stddev() const { return stddev_; }

 private:
  double mean_ = 0.0;
  double stddev_ = 1.0;
  double cached_ = 0.0;
  bool has_cached_ = false;
};

}  // namespace muonlab
