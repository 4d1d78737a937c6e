// Experiment grid files: reading the top-level settings, then handing the plugin
// alternatives to validation (grid_params) and expansion (grid_expand).
#include "grid/grid.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "grid/expand.hpp"
#include "grid/overrides.hpp"
#include "grid/params.hpp"
#include "grid/yaml.hpp"
#include "util/errors.hpp"
#include "util/text.hpp"

namespace muonlab {

namespace {

using grid_detail::Alternative;
using grid_detail::Entry;
using grid_detail::Places;
using grid_detail::ZipGroup;

const std::vector<std::string> kTopLevelKeys = {"name",   "description", "output",    "seeds", "stop",
                                                "record", "problem",     "optimizer", "zip"};
const std::vector<std::string> kStopKeys = {"max_iters", "tol", "metric", "max_seconds", "divergence_factor"};
const std::vector<std::string> kRecordKeys = {"every",         "spectra",    "spectra_every", "spectra_per_decade",
                                              "spectra_exact", "spectra_of", "final",         "orth_quality"};
const std::vector<std::string> kSpectraKinds = {"iterate", "grad", "update"};
const std::vector<std::string> kAlternativeKeys = {"name", "params"};

// `seeds: n` beyond this is almost surely a typo for a list.
constexpr std::int64_t kMaxSeedCount = 1000000;

// Parses one YAML document; syntax errors become InputErrors with the place.
YAML::Node load_document(const std::string& text, const std::string& source_name) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& error) {
    throw InputError(source_name + ":" + std::to_string(error.mark.line + 1) + ":" +
                     std::to_string(error.mark.column + 1) + ": YAML syntax error: " + error.msg);
  }
  if (documents.size() > 1) {
    throw InputError(source_name + ":1:1: the file holds " + std::to_string(documents.size()) +
                     " YAML documents (separated by ---); a grid file holds exactly one");
  }
  return documents.empty() ? YAML::Node() : documents.front();
}

// Reads a grid's YAML tree (overrides already applied) into a Grid.
class GridReader {
 public:
  GridReader(const SchemaSource& schemas, Places& places) : places_(places), resolver_(schemas, places) {}

  void read(const YAML::Node& root, Grid& grid) {
    if (!root.IsDefined() || root.IsNull()) places_.fail(root, "the grid file is empty");
    const std::vector<Entry> entries = grid_detail::map_entries(root, "the grid file", places_);
    grid_detail::check_keys(entries, kTopLevelKeys, "the grid file", places_);

    const Entry& name = required(entries, "name", root, "the grid's name");
    grid.name = grid_detail::read_string(name.value, "name", places_);
    if (grid.name.empty()) places_.fail(root, "name: the grid's name must not be empty");
    // The name is also a file name: the default output is results/<name>.h5.
    const bool plain = grid.name.find_first_not_of(
                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos;
    if (!plain || grid.name == "." || grid.name == "..") {
      places_.fail(name.value, "name: '" + grid.name +
                                   "' may hold only letters, digits, '_', '-' and '.' (it names the default output "
                                   "results/<name>.h5); put a path in `output:` or pass -o instead");
    }
    if (const Entry* e = find(entries, "description"))
      grid.description = grid_detail::read_string(e->value, "description", places_);
    if (const Entry* e = find(entries, "output")) grid.output = grid_detail::read_string(e->value, "output", places_);
    const std::vector<std::int64_t> seeds = read_seeds(find(entries, "seeds"));
    if (const Entry* e = find(entries, "stop")) grid.stop = read_stop(e->value);
    if (const Entry* e = find(entries, "record")) grid.record = read_record(e->value);

    const std::vector<Alternative> problems =
        read_alternatives(PluginKind::Problem, required(entries, "problem", root, "{name: ..., params: {...}}").value);
    const std::vector<Alternative> optimizers = read_alternatives(
        PluginKind::Optimizer, required(entries, "optimizer", root, "{name: ..., params: {...}}").value);
    std::vector<ZipGroup> zips;
    if (const Entry* e = find(entries, "zip")) zips = read_zips(e->value);
    grid_detail::check_zip_names(zips, problems, optimizers, places_);
    grid.cells = grid_detail::expand_cells(problems, optimizers, zips, seeds, places_);
  }

 private:
  static const Entry* find(const std::vector<Entry>& entries, const std::string& name) {
    return grid_detail::find_entry(entries, name);
  }

  const Entry& required(const std::vector<Entry>& entries, const std::string& name, const YAML::Node& map,
                        const std::string& example) const {
    const Entry* entry = find(entries, name);
    if (entry == nullptr) places_.fail(map, "missing required key '" + name + "' (" + example + ")");
    return *entry;
  }

  std::vector<std::int64_t> read_seeds(const Entry* entry) const {
    if (entry == nullptr) return {0};
    const YAML::Node& node = entry->value;
    if (node.IsScalar()) {
      const std::int64_t count = grid_detail::read_integer(node, "seeds", places_);
      if (count < 1 || count > kMaxSeedCount) {
        places_.fail(node, "seeds: a count must be between 1 and " + std::to_string(kMaxSeedCount) + ", got " +
                               std::to_string(count));
      }
      std::vector<std::int64_t> seeds(static_cast<std::size_t>(count));
      for (std::int64_t i = 0; i < count; ++i) seeds[static_cast<std::size_t>(i)] = i;
      return seeds;
    }
    if (!node.IsSequence() || node.size() == 0) {
      places_.fail(node,
                   "seeds: expected a non-empty list of integers or a count, got " + grid_detail::describe_node(node));
    }
    std::vector<std::int64_t> seeds;
    for (const YAML::Node& element : node) {
      const std::int64_t seed = grid_detail::read_integer(element, "seeds", places_);
      if (seed < 0) places_.fail(element, "seeds: seeds must be >= 0, got " + std::to_string(seed));
      if (std::find(seeds.begin(), seeds.end(), seed) != seeds.end()) {
        places_.fail(element, "seeds: seed " + std::to_string(seed) + " is listed twice");
      }
      seeds.push_back(seed);
    }
    return seeds;
  }

  StopRule read_stop(const YAML::Node& node) const {
    StopRule stop;
    const std::vector<Entry> entries = grid_detail::map_entries(node, "stop", places_);
    grid_detail::check_keys(entries, kStopKeys, "stop", places_);
    for (const Entry& e : entries) {
      const std::string what = "stop." + e.name;
      if (e.name == "max_iters") {
        stop.max_iters = grid_detail::read_integer(e.value, what, places_);
        if (stop.max_iters <= 0) places_.fail(e.value, what + " must be > 0, got " + std::to_string(stop.max_iters));
      } else if (e.name == "tol") {
        stop.tol = at_least(e.value, what, 0.0);
      } else if (e.name == "metric") {
        stop.metric = grid_detail::read_string(e.value, what, places_);
        if (stop.metric.empty()) places_.fail(e.value, what + " must name 'loss' or a metric of the problem");
      } else if (e.name == "max_seconds") {
        stop.max_seconds = at_least(e.value, what, 0.0);
      } else if (e.name == "divergence_factor") {
        stop.divergence_factor = grid_detail::read_real(e.value, what, places_);
        if (!(stop.divergence_factor > 1.0)) {
          places_.fail(e.value, what + " must be > 1 (the bound itself is excluded), got " +
                                    grid_detail::format_number(stop.divergence_factor));
        }
      }
    }
    return stop;
  }

  double at_least(const YAML::Node& node, const std::string& what, double low) const {
    const double value = grid_detail::read_real(node, what, places_);
    if (value < low) {
      places_.fail(
          node, what + " must be >= " + grid_detail::format_number(low) + ", got " + grid_detail::format_number(value));
    }
    return value;
  }

  std::int64_t positive_integer(const YAML::Node& node, const std::string& what, std::int64_t high) const {
    const std::int64_t value = grid_detail::read_integer(node, what, places_);
    if (value < 1) places_.fail(node, what + " must be >= 1, got " + std::to_string(value));
    if (value > high)
      places_.fail(node, what + " must be <= " + std::to_string(high) + ", got " + std::to_string(value));
    return value;
  }

  RecordRule read_record(const YAML::Node& node) const {
    RecordRule record;
    const std::vector<Entry> entries = grid_detail::map_entries(node, "record", places_);
    grid_detail::check_keys(entries, kRecordKeys, "record", places_);
    constexpr std::int64_t kLargest = std::int64_t{1} << 53;
    for (const Entry& e : entries) {
      const std::string what = "record." + e.name;
      if (e.name == "every") {
        record.every = positive_integer(e.value, what, kLargest);
      } else if (e.name == "spectra") {
        record.spectra = read_schedule(e.value, what);
      } else if (e.name == "spectra_every") {
        record.spectra_every = positive_integer(e.value, what, kLargest);
      } else if (e.name == "spectra_per_decade") {
        record.spectra_per_decade = static_cast<int>(positive_integer(e.value, what, 1000000));
      } else if (e.name == "spectra_exact") {
        record.spectra_exact = grid_detail::read_boolean(e.value, what, places_);
      } else if (e.name == "spectra_of") {
        read_spectra_kinds(e.value, what, record);
      } else if (e.name == "final") {
        record.final_iterates = grid_detail::read_boolean(e.value, what, places_);
      } else if (e.name == "orth_quality") {
        record.orth_quality = grid_detail::read_boolean(e.value, what, places_);
      }
    }
    return record;
  }

  // spectra_of: a list drawn from iterate, grad, update (or one of them as a scalar).
  void read_spectra_kinds(const YAML::Node& node, const std::string& what, RecordRule& record) const {
    std::vector<YAML::Node> items;
    if (node.IsScalar()) {
      items.push_back(node);
    } else if (node.IsSequence() && node.size() > 0) {
      for (const YAML::Node& item : node) items.push_back(item);
    } else {
      places_.fail(node, what +
                             ": expected a non-empty list drawn from iterate, grad, update (spectra: off "
                             "records none), got " +
                             grid_detail::describe_node(node));
    }
    record.spectra_of_iterate = record.spectra_of_grad = record.spectra_of_update = false;
    for (const YAML::Node& item : items) {
      const std::string text = item.IsScalar() ? item.Scalar() : "";
      if (text == "iterate") {
        record.spectra_of_iterate = true;
      } else if (text == "grad") {
        record.spectra_of_grad = true;
      } else if (text == "update") {
        record.spectra_of_update = true;
      } else {
        const std::string suggestion = closest_name(text, kSpectraKinds);
        std::string message = what + ": expected iterate, grad or update, got " + grid_detail::describe_node(item);
        if (!suggestion.empty() && !text.empty()) message += "; did you mean '" + suggestion + "'?";
        places_.fail(item, message);
      }
    }
  }

  SpectraSchedule read_schedule(const YAML::Node& node, const std::string& what) const {
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (text == "off") return SpectraSchedule::Off;
    if (text == "every") return SpectraSchedule::Every;
    if (text == "log") return SpectraSchedule::Log;
    const std::string suggestion = closest_name(text, {"off", "every", "log"});
    std::string message = what + ": expected off, every or log, got " + grid_detail::describe_node(node);
    if (!suggestion.empty() && !text.empty()) message += "; did you mean '" + suggestion + "'?";
    places_.fail(node, message);
  }

  std::vector<Alternative> read_alternatives(PluginKind kind_value, const YAML::Node& node) {
    const std::string kind = to_string(kind_value);
    std::vector<Alternative> out;
    if (node.IsMap()) {
      out.push_back(read_alternative(kind_value, node));
      return out;
    }
    if (!node.IsSequence() || node.size() == 0) {
      places_.fail(node, kind + ": expected {name: ..., params: {...}} or a non-empty list of them, got " +
                             grid_detail::describe_node(node));
    }
    for (const YAML::Node& element : node) out.push_back(read_alternative(kind_value, element));
    return out;
  }

  Alternative read_alternative(PluginKind kind_value, const YAML::Node& node) {
    const std::string kind = to_string(kind_value);
    const std::vector<Entry> entries = grid_detail::map_entries(node, kind, places_);
    grid_detail::check_keys(entries, kAlternativeKeys, kind, places_);
    const Entry& name = required(entries, "name", node, "the " + kind + " plugin's name");
    const PluginDescriptor& plugin = resolver_.find_plugin(kind_value, name.value);
    const Entry* params = find(entries, "params");
    Alternative alternative;
    alternative.kind = kind_value;
    alternative.node = node;
    alternative.resolved = resolver_.resolve(plugin, params ? params->value : YAML::Node(), node, true, "");
    return alternative;
  }

  std::vector<ZipGroup> read_zips(const YAML::Node& node) const {
    static const std::string kExample = "e.g. zip: [[problem.kappa, optimizer.lr]]";
    if (!node.IsSequence()) places_.fail(node, "zip: expected a list of axis groups, " + kExample);
    std::vector<ZipGroup> zips;
    for (const YAML::Node& entry : node) {
      if (!entry.IsSequence() || entry.size() < 2) {
        places_.fail(entry, "zip: each entry is a list of two or more axes that vary together, got " +
                                grid_detail::describe_node(entry) + "; " + kExample);
      }
      ZipGroup zip;
      zip.node = entry;
      for (const YAML::Node& name : entry) {
        zip.axes.push_back(axis_name(name));
        zip.name_nodes.push_back(name);
      }
      zips.push_back(std::move(zip));
    }
    return zips;
  }

  // "problem.kappa" or its synonym "problem.params.kappa" -> "problem.kappa".
  std::string axis_name(const YAML::Node& node) const {
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    for (const std::string kind : {"problem", "optimizer"}) {
      for (const std::string& prefix : {kind + ".params.", kind + "."}) {
        if (text.size() > prefix.size() && text.compare(0, prefix.size(), prefix) == 0) {
          return kind + "." + text.substr(prefix.size());
        }
      }
    }
    places_.fail(node,
                 "zip: axis names are problem.<param> or optimizer.<param>, got " + grid_detail::describe_node(node));
  }

  Places& places_;
  grid_detail::ParamResolver resolver_;
};

std::string read_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw InputError(path + ": cannot read grid file: " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) throw InputError(path + ": cannot read grid file: not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot read grid file: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(path + ": cannot read grid file: read error");
  return text.str();
}

}  // namespace

Grid parse_grid(const std::string& yaml_text, const std::string& source_name, const std::vector<std::string>& overrides,
                const SchemaSource& schemas) {
  Grid grid;
  grid.source_path = source_name;
  grid.yaml_text = yaml_text;
  grid.overrides = overrides;
  Places places(source_name);
  YAML::Node root = load_document(yaml_text, source_name);
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    places.fail(root, "a grid file is a map of settings (name, problem, optimizer, ...), got " +
                          grid_detail::describe_node(root));
  }
  if (!root.IsDefined() || root.IsNull()) root.reset(YAML::Node(YAML::NodeType::Map));
  grid_detail::apply_overrides(root, overrides, places);
  if (root.size() == 0) places.fail(root, "the grid file is empty");
  GridReader(schemas, places).read(root, grid);
  return grid;
}

Grid load_grid(const std::string& path, const std::vector<std::string>& overrides, const SchemaSource& schemas) {
  return parse_grid(read_file(path), path, overrides, schemas);
}

ComponentConfig resolve_component(PluginKind kind, const std::string& name, const std::string& params_yaml,
                                  const SchemaSource& schemas) {
  const std::string source = "<" + std::string(to_string(kind)) + " params>";
  Places places(source);
  const YAML::Node params = load_document(params_yaml, source);
  const YAML::Node name_node(name);
  grid_detail::ParamResolver resolver(schemas, places);
  return resolver.resolve_single(kind, name_node, params, params.IsMap() ? params : name_node,
                                 "give one value per parameter here; sweeps belong in grid files");
}

}  // namespace muonlab
