#include "grid/yaml.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "util/errors.hpp"
#include "util/text.hpp"

namespace muonlab::grid_detail {

namespace {

void adopt_tree(const YAML::Node& node, const std::string& label,
                std::vector<std::pair<YAML::Node, std::string>>& out) {
  out.emplace_back(node, label);
  if (node.IsSequence()) {
    for (const YAML::Node& child : node) adopt_tree(child, label, out);
  } else if (node.IsMap()) {
    for (const auto& item : node) {
      adopt_tree(item.first, label, out);
      adopt_tree(item.second, label, out);
    }
  }
}

std::string mark_text(const std::string& source, const YAML::Mark& mark) {
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

}  // namespace

void Places::adopt(const YAML::Node& root, const std::string& label) { adopt_tree(root, label, adopted_); }

void Places::remember_key_of_empty(const YAML::Node& key, const YAML::Node& value) {
  keys_of_empty_.emplace_back(value, key);
}

const std::string* Places::label_of(const YAML::Node& node) const {
  if (!node.IsDefined()) return nullptr;
  for (const auto& [adopted, label] : adopted_) {
    if (adopted.is(node)) return &label;
  }
  return nullptr;
}

std::string Places::where(const YAML::Node& node) const {
  if (const std::string* label = label_of(node)) return *label;
  if (node.IsDefined() && node.IsNull()) {
    for (const auto& [value, key] : keys_of_empty_) {
      if (value.is(node) && (label_of(key) != nullptr || !key.Mark().is_null())) return where(key);
    }
  }
  const YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
  // Nodes without a place in the file only arise for the document itself; its start is
  // the most useful place to point at.
  if (mark.is_null()) return source_ + ":1:1";
  return mark_text(source_, mark);
}

std::string Places::where_entry(const YAML::Node& key, const YAML::Node& value) const {
  if (label_of(key) == nullptr && key.IsDefined() && !key.Mark().is_null()) return where(key);
  return where(value);
}

void Places::fail(const YAML::Node& node, const std::string& message) const {
  throw InputError(where(node) + ": " + message);
}

void Places::fail_entry(const YAML::Node& key, const YAML::Node& value, const std::string& message) const {
  throw InputError(where_entry(key, value) + ": " + message);
}

std::vector<Entry> map_entries(const YAML::Node& map, const std::string& what, Places& places) {
  if (!map.IsMap()) places.fail(map, what + " must be a map (key: value), got " + describe_node(map));
  std::vector<Entry> entries;
  for (const auto& item : map) {
    if (!item.first.IsScalar()) places.fail(item.first, "keys of " + what + " must be plain names");
    Entry entry{item.first.Scalar(), item.first, item.second};
    if (entry.value.IsNull()) places.remember_key_of_empty(entry.key, entry.value);
    if (const Entry* earlier = find_entry(entries, entry.name)) {
      places.fail_entry(entry.key, entry.value,
                        "'" + entry.name + "' is given twice in " + what + " (first at " +
                            places.where_entry(earlier->key, earlier->value) + ")");
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

void check_keys(const std::vector<Entry>& entries, const std::vector<std::string>& allowed, const std::string& what,
                const Places& places) {
  for (const Entry& entry : entries) {
    bool known = false;
    for (const std::string& name : allowed) known = known || name == entry.name;
    if (known) continue;
    const std::string suggestion = closest_name(entry.name, allowed);
    std::string message = "unknown key '" + entry.name + "' in " + what;
    if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
    message += " (valid keys: " + join(allowed) + ")";
    places.fail_entry(entry.key, entry.value, message);
  }
}

const Entry* find_entry(const std::vector<Entry>& entries, const std::string& name) {
  for (const Entry& entry : entries) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

std::optional<double> parse_real(const std::string& text) {
  // from_chars is locale-independent and rejects hex and trailing junk; it accepts "inf" and
  // "nan", which the finiteness check then refuses.
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first != last && *first == '+') ++first;
  double value = 0.0;
  const auto [end, error] = std::from_chars(first, last, value, std::chars_format::general);
  if (error != std::errc() || end != last || first == last || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<double> parse_integer(const std::string& text) {
  const std::optional<double> value = parse_real(text);
  constexpr double kLargestExact = 9007199254740992.0;  // 2^53: doubles hold every integer up to here
  if (!value || std::trunc(*value) != *value || std::fabs(*value) > kLargestExact) return std::nullopt;
  return *value == 0.0 ? 0.0 : *value;  // no negative zero
}

std::optional<bool> parse_boolean(const std::string& text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

double read_real(const YAML::Node& node, const std::string& what, const Places& places) {
  const std::optional<double> value = node.IsScalar() ? parse_real(node.Scalar()) : std::nullopt;
  if (!value) places.fail(node, what + ": expected a real number, got " + describe_node(node));
  return *value;
}

std::int64_t read_integer(const YAML::Node& node, const std::string& what, const Places& places) {
  const std::optional<double> value = node.IsScalar() ? parse_integer(node.Scalar()) : std::nullopt;
  if (!value) places.fail(node, what + ": expected an integer, got " + describe_node(node));
  return static_cast<std::int64_t>(*value);
}

bool read_boolean(const YAML::Node& node, const std::string& what, const Places& places) {
  const std::optional<bool> value = node.IsScalar() ? parse_boolean(node.Scalar()) : std::nullopt;
  if (!value) places.fail(node, what + ": expected true or false, got " + describe_node(node));
  return *value;
}

std::string read_string(const YAML::Node& node, const std::string& what, const Places& places) {
  if (!node.IsScalar()) places.fail(node, what + ": expected a string, got " + describe_node(node));
  return node.Scalar();
}

std::string format_number(double value) {
  char buffer[32];
  // Whole numbers print as such ("100", not the shorter "1e+02").
  if (std::trunc(value) == value && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value == 0.0 ? 0.0 : value);
    return buffer;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

std::string describe_node(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  return "a map";
}

}  // namespace muonlab::grid_detail
