// The hashes behind cell ids and derived seeds. Both are fixed bit-level algorithms, so a
// script in any language reproduces them (docs/random.md writes them out).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace muonlab {

// FNV-1a, 64 bit, over bytes.
std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t hash = 0xcbf29ce484222325ULL);
inline std::uint64_t stable_hash(const std::string& text) { return fnv1a(text.data(), text.size()); }

// z = a * golden ratio XOR b, then the splitmix64 finalizer.
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b);

}  // namespace muonlab
