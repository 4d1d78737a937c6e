#include "util/hash.hpp"

namespace muonlab {

std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t hash) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
  // The golden-ratio factor is odd, so injective in a; the finalizer (Steele, Lea, Flood
  // 2014) avalanches, so nearby inputs give unrelated seeds.
  std::uint64_t z = (a * 0x9E3779B97F4A7C15ULL) ^ b;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace muonlab
