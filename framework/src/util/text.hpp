// Small text helpers shared by the modules: "did you mean" suggestions and the number and
// duration formats of progress lines and summaries.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace muonlab {

// Levenshtein distance (insertions, deletions, substitutions of single bytes).
std::size_t edit_distance(const std::string& a, const std::string& b);

// The closest candidate to `word` by edit distance, or "" when none is close enough.
std::string closest_name(const std::string& word, const std::vector<std::string>& candidates);

// 1000 (not 1e+03) for integral values below 1e6, else three significant digits.
std::string format_number(double v);

// The text without its full-line comments (lines whose first non-blank character is '#').
std::string without_comment_lines(const std::string& text);

// 4.2s, 42s, 3m07s, 2h05m.
std::string format_duration(double seconds);

}  // namespace muonlab
