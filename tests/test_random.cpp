// muonlab/random.hpp: the engine, uniform01 and NormalSampler against the standard library
// they replace. The expected values are libstdc++'s std::generate_canonical<double, 53> and
// std::normal_distribution<double> on std::mt19937_64, compared bit for bit, so that results
// drawn before muonlab had its own sampler replay unchanged.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "muonlab/random.hpp"

using muonlab::NormalSampler;
using muonlab::Rng;

namespace {

std::uint64_t bits(double value) {
  std::uint64_t out;
  std::memcpy(&out, &value, sizeof out);
  return out;
}

// Counts draws whose bit patterns differ and remembers the first one.
struct BitComparison {
  std::int64_t draws = 0;
  std::int64_t mismatches = 0;
  std::int64_t first_mismatch = -1;
  double expected_at_first = 0.0, got_at_first = 0.0;

  void add(double expected, double got) {
    if (bits(expected) != bits(got)) {
      if (mismatches == 0) {
        first_mismatch = draws;
        expected_at_first = expected;
        got_at_first = got;
      }
      ++mismatches;
    }
    ++draws;
  }

  std::string describe() const {
    if (mismatches == 0) return std::to_string(draws) + " draws identical";
    return std::to_string(mismatches) + " of " + std::to_string(draws) + " draws differ, first at draw " +
           std::to_string(first_mismatch) + ": expected " + std::to_string(expected_at_first) + ", got " +
           std::to_string(got_at_first);
  }
};

constexpr std::int64_t kDraws = 1000000;
const std::uint64_t kSeeds[] = {0, 1, 42, 0x8000000000000005ULL, 0xFFFFFFFFFFFFFFFFULL};

// An engine with the range of mt19937_64 that returns given words, for the clamp.
struct FixedWords {
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() { return words[next++ % words.size()]; }
  std::vector<result_type> words;
  std::size_t next = 0;
};

}  // namespace

TEST_CASE("random: Rng is mt19937_64 and its 10000th default-seeded output is the standard's", "[random]") {
  STATIC_REQUIRE(std::is_same<Rng, std::mt19937_64>::value);
  Rng engine;  // default seed 5489
  engine.discard(9999);
  CHECK(engine() == 9981545732273789042ULL);
  Rng seeded(5489);
  seeded.discard(9999);
  CHECK(seeded() == 9981545732273789042ULL);
}

TEST_CASE("random: uniform01 equals std::generate_canonical<double, 53> bit for bit", "[random]") {
  for (const std::uint64_t seed : kSeeds) {
    Rng ours(seed);
    std::mt19937_64 theirs(seed);
    BitComparison comparison;
    for (std::int64_t i = 0; i < kDraws; ++i) {
      const double expected = std::generate_canonical<double, 53>(theirs);
      comparison.add(expected, muonlab::uniform01(ours));
    }
    INFO("seed " << seed << ": " << comparison.describe());
    CHECK(comparison.mismatches == 0);
    CHECK(ours == theirs);  // one word per draw, like the library
  }
}

TEST_CASE("random: uniform01 at the edges of the word range, including the clamp below 1", "[random]") {
  const std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
  // 2^64 - 2^10 (= top - 1023) is the first word that rounds up to 2^64 (a tie, to even);
  // the word below it rounds down to 2^64 - 2^11, i.e. u = 1 - 2^-53 without the clamp.
  const std::vector<std::uint64_t> words = {0,          1,          2,          (1ULL << 63) - 1, 1ULL << 63,
                                            top - 1023, top - 1024, top - 1025, top - 1,          top};
  FixedWords engine{words};
  for (const std::uint64_t word : words) {
    const double expected = std::generate_canonical<double, 53>(engine);
    const double got = muonlab::uniform01_from_word(word);
    INFO("word " << word);
    CHECK(bits(got) == bits(expected));
    CHECK(got < 1.0);
  }
  CHECK(static_cast<double>(top - 1023) == 0x1p64);                       // the clamp's range starts here ...
  CHECK(static_cast<double>(top - 1024) < 0x1p64);                        // ... and not below
  CHECK(muonlab::uniform01_from_word(top - 1023) == muonlab::kBelowOne);  // the clamp
  CHECK(muonlab::uniform01_from_word(top) == muonlab::kBelowOne);         // the clamp
  CHECK(muonlab::uniform01_from_word(top - 1025) == muonlab::kBelowOne);  // rounding down to 2^64 - 2^11
  CHECK(muonlab::uniform01_from_word(0) == 0.0);
}

TEST_CASE("random: NormalSampler equals std::normal_distribution<double> bit for bit", "[random]") {
  const std::pair<double, double> shapes[] = {{0.0, 1.0}, {0.0, 0.37}, {1.5, 2.0}, {-3.0, 1e-3}};
  for (const auto& [mean, stddev] : shapes) {
    for (const std::uint64_t seed : kSeeds) {
      Rng ours(seed);
      std::mt19937_64 theirs(seed);
      NormalSampler sampler(mean, stddev);
      std::normal_distribution<double> normal(mean, stddev);
      BitComparison comparison;
      for (std::int64_t i = 0; i < kDraws; ++i) {
        const double expected = normal(theirs);
        comparison.add(expected, sampler(ours));
      }
      INFO("mean " << mean << ", stddev " << stddev << ", seed " << seed << ": " << comparison.describe());
      CHECK(comparison.mismatches == 0);
      CHECK(ours == theirs);  // the same words consumed, rejections included
    }
  }
}

TEST_CASE("random: the default NormalSampler is N(0, 1) with the same arithmetic", "[random]") {
  Rng ours(7);
  std::mt19937_64 theirs(7);
  NormalSampler sampler;
  std::normal_distribution<double> normal;
  BitComparison comparison;
  for (std::int64_t i = 0; i < kDraws; ++i) {
    const double expected = normal(theirs);
    comparison.add(expected, sampler(ours));
  }
  INFO(comparison.describe());
  CHECK(comparison.mismatches == 0);
}

TEST_CASE("random: two samplers interleaved on one engine keep separate caches", "[random]") {
  for (const std::uint64_t seed : kSeeds) {
    Rng ours(seed);
    std::mt19937_64 theirs(seed);
    NormalSampler a(0.0, 1.0), b(2.0, 0.5);
    std::normal_distribution<double> std_a(0.0, 1.0), std_b(2.0, 0.5);
    BitComparison comparison;
    for (std::int64_t i = 0; i < kDraws; ++i) {
      // An irregular pattern, so that either object draws with and without its cache filled.
      const bool use_a = (i % 3 == 0) || (i % 7 == 2);
      const double expected = use_a ? std_a(theirs) : std_b(theirs);
      comparison.add(expected, use_a ? a(ours) : b(ours));
    }
    INFO("seed " << seed << ": " << comparison.describe());
    CHECK(comparison.mismatches == 0);
    CHECK(ours == theirs);
  }
}

TEST_CASE("random: a new sampler starts without a cache, a kept one keeps it", "[random]") {
  for (const std::uint64_t seed : kSeeds) {
    Rng ours(seed);
    std::mt19937_64 theirs(seed);
    BitComparison comparison;
    std::int64_t i = 0;
    for (std::int64_t run = 0; i < kDraws; ++run) {
      // Fresh objects drawing 1, 2, 3, 4 or 5 values each: odd runs drop a cached value.
      const std::int64_t length = 1 + run % 5;
      NormalSampler sampler(0.0, 1.0 + static_cast<double>(run % 3));
      std::normal_distribution<double> normal(0.0, 1.0 + static_cast<double>(run % 3));
      for (std::int64_t k = 0; k < length; ++k, ++i) {
        const double expected = normal(theirs);
        comparison.add(expected, sampler(ours));
      }
    }
    INFO("seed " << seed << ": " << comparison.describe());
    CHECK(comparison.mismatches == 0);
    CHECK(ours == theirs);
  }
}

TEST_CASE("random: reset() empties the cache like std::normal_distribution::reset()", "[random]") {
  Rng ours(3);
  std::mt19937_64 theirs(3);
  NormalSampler sampler;
  std::normal_distribution<double> normal;
  BitComparison comparison;
  for (std::int64_t i = 0; i < kDraws; ++i) {
    if (i % 5 == 4) {
      sampler.reset();
      normal.reset();
    }
    const double expected = normal(theirs);
    comparison.add(expected, sampler(ours));
  }
  INFO(comparison.describe());
  CHECK(comparison.mismatches == 0);
}

TEST_CASE("random: a sampler's cache follows the sampler, not the engine", "[random]") {
  // One sampler fed by two engines in turn: the cached value of a pair drawn from the first
  // engine is returned on the call with the second, as std::normal_distribution does.
  Rng ours_1(11), ours_2(12);
  std::mt19937_64 theirs_1(11), theirs_2(12);
  NormalSampler sampler;
  std::normal_distribution<double> normal;
  BitComparison comparison;
  for (std::int64_t i = 0; i < kDraws / 4; ++i) {
    const bool first = (i % 3) != 1;
    const double expected = first ? normal(theirs_1) : normal(theirs_2);
    comparison.add(expected, first ? sampler(ours_1) : sampler(ours_2));
  }
  INFO(comparison.describe());
  CHECK(comparison.mismatches == 0);
  CHECK(ours_1 == theirs_1);
  CHECK(ours_2 == theirs_2);
}

TEST_CASE("random: the first normals of seed 0 are the documented polar-method values", "[random]") {
  // Written out by hand from the algorithm in random.hpp: the first pair (x, y) with
  // 0 < x^2 + y^2 <= 1 returns y * f first, then x * f.
  Rng words(0);
  double x, y, s;
  do {
    x = 2.0 * muonlab::uniform01_from_word(words()) - 1.0;
    y = 2.0 * muonlab::uniform01_from_word(words()) - 1.0;
    s = x * x + y * y;
  } while (s > 1.0 || s == 0.0);
  const double f = std::sqrt(-2.0 * std::log(s) / s);
  Rng engine(0);
  NormalSampler sampler;
  CHECK(bits(sampler(engine)) == bits(y * f * 1.0 + 0.0));
  CHECK(bits(sampler(engine)) == bits(x * f * 1.0 + 0.0));
  CHECK(engine == words);  // the second value came from the cache
}
