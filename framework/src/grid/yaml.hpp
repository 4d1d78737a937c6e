// YAML helpers for grid files: where a node came from (for error messages), strict
// reading of map entries and scalars, and number formatting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace muonlab::grid_detail {

// Where a YAML node came from, so that every error can start with a place the user can find:
// "file:line:column" for nodes of the grid file, "--set key=value" for nodes an override
// put into the tree, or a caller-chosen label for other adopted text (a plugin's default).
class Places {
 public:
  explicit Places(std::string source_name) : source_(std::move(source_name)) {}

  const std::string& source_name() const { return source_; }

  // Marks `root` and everything under it as coming from `label`.
  void adopt(const YAML::Node& root, const std::string& label);
  // An empty value ("record:" with nothing after it) has no place of its own (yaml-cpp
  // marks where the next token starts); its key's place stands in for it.
  void remember_key_of_empty(const YAML::Node& key, const YAML::Node& value);

  // "file:line:col" (1-based), or the label of an adopted node.
  std::string where(const YAML::Node& node) const;
  // A map entry's place: its key when the key was written in the file (an override can
  // create a key without a place), else its value's.
  std::string where_entry(const YAML::Node& key, const YAML::Node& value) const;

  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const;
  [[noreturn]] void fail_entry(const YAML::Node& key, const YAML::Node& value, const std::string& message) const;

 private:
  const std::string* label_of(const YAML::Node& node) const;

  std::string source_;
  std::vector<std::pair<YAML::Node, std::string>> adopted_;
  std::vector<std::pair<YAML::Node, YAML::Node>> keys_of_empty_;  // (value, key)
};

// One entry of a YAML map with a plain-scalar key.
struct Entry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

// The entries of `map` in file order; `what` names the map in messages ("record").
// Rejects non-maps, non-scalar keys and keys given twice.
std::vector<Entry> map_entries(const YAML::Node& map, const std::string& what, Places& places);

// Fails on the first entry whose key is not in `allowed`, suggesting the closest one.
void check_keys(const std::vector<Entry>& entries, const std::vector<std::string>& allowed, const std::string& what,
                const Places& places);

const Entry* find_entry(const std::vector<Entry>& entries, const std::string& name);

// Strict scalar parsing (nullopt when the text is not of the kind).
std::optional<double> parse_real(const std::string& text);     // finite decimal number
std::optional<double> parse_integer(const std::string& text);  // integral, |x| <= 2^53 (1e3 ok)
std::optional<bool> parse_boolean(const std::string& text);    // true/false (any case)

// Scalar readers for the grid's own settings; `what` names the setting ("stop.max_iters").
double read_real(const YAML::Node& node, const std::string& what, const Places& places);
std::int64_t read_integer(const YAML::Node& node, const std::string& what, const Places& places);
bool read_boolean(const YAML::Node& node, const std::string& what, const Places& places);
std::string read_string(const YAML::Node& node, const std::string& what, const Places& places);

// The shortest decimal text that reads back as exactly `value` (for messages).
std::string format_number(double value);

// "a, b, c"
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");

// "'x'" or "a map" / "a list" / "nothing": what a node holds, for "got ..." messages.
std::string describe_node(const YAML::Node& node);

}  // namespace muonlab::grid_detail
