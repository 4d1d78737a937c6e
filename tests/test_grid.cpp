// Grid files: parsing, --set overrides, sweep expansion, ids and seeds, and validation
// messages, against a fake schema source so the tests do not depend on real plugins.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "util/errors.hpp"
#include "grid/grid.hpp"
#include "model/config_json.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

using namespace muonlab;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// ---- a fake plugin set -------------------------------------------------------------------

constexpr std::uint32_t kLowOpen = kParamLowExclusive;
constexpr std::uint32_t kHighOpen = kParamHighExclusive;

const ParamSpec kToyParams[] = {
    {"n", ParamType::Integer, "16", 1, kUnbounded, 0, nullptr, "matrix size"},
    {"kappa", ParamType::Real, "10", 1, kUnbounded, 0, nullptr, "condition number"},
    {"shape", ParamType::Choice, "geometric", -kUnbounded, kUnbounded, 0, "geometric|two_level", "spectrum shape"},
};
const ParamSpec kQuadParams[] = {
    {"dim", ParamType::Integer, nullptr, 1, kUnbounded, 0, nullptr, "dimension"},
    {"spectrum", ParamType::RealList, "[1, 2]", 0, kUnbounded, kLowOpen, nullptr, "Hessian eigenvalues"},
    {"normalize", ParamType::Boolean, "true", -kUnbounded, kUnbounded, 0, nullptr, "scale to unit norm"},
};
const ParamSpec kGdParams[] = {
    {"lr", ParamType::Real, "0.1", 0, kUnbounded, kLowOpen, nullptr, "step size"},
};
const ParamSpec kMuonParams[] = {
    {"lr", ParamType::Real, "0.02", 0, kUnbounded, kLowOpen, nullptr, "step size"},
    {"decay", ParamType::Real, "1", 0, 1, kLowOpen, nullptr, "geometric step decay"},
    {"orthogonalizer", ParamType::Orthogonalizer, "svd", -kUnbounded, kUnbounded, 0, nullptr, "polar map"},
};
const ParamSpec kSvdParams[] = {
    {"rank_threshold", ParamType::Real, "1e-12", 0, 1, kHighOpen, nullptr, "relative rank cut"},
};
const ParamSpec kNs5Params[] = {
    {"steps", ParamType::Integer, "5", 1, 100, 0, nullptr, "iterations"},
};

PluginDescriptor descriptor(const char* kind, const char* name, const ParamSpec* params, std::uint32_t count) {
  return {kAbiMajor, kAbiMinor, kind, name, "1.0", "test plugin", "test", params, count};
}

const std::vector<PluginDescriptor> kAllPlugins = {
    descriptor("problem", "toy", kToyParams, 3),        descriptor("problem", "quad", kQuadParams, 3),
    descriptor("optimizer", "gd", kGdParams, 1),        descriptor("optimizer", "muon", kMuonParams, 3),
    descriptor("orthogonalizer", "svd", kSvdParams, 1), descriptor("orthogonalizer", "ns5", kNs5Params, 1),
};

class FakeSchemas : public SchemaSource {
 public:
  explicit FakeSchemas(std::vector<PluginDescriptor> plugins) : plugins_(std::move(plugins)) {}

  const PluginDescriptor* find(PluginKind kind, const std::string& name) const override {
    for (const PluginDescriptor& p : plugins_) {
      if (to_string(kind) == std::string(p.kind) && name == p.name) return &p;
    }
    return nullptr;
  }
  std::vector<std::string> names(PluginKind kind) const override {
    std::vector<std::string> out;
    for (const PluginDescriptor& p : plugins_) {
      if (to_string(kind) == std::string(p.kind)) out.emplace_back(p.name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::vector<PluginDescriptor> plugins_;
};

const FakeSchemas& schemas() {
  static const FakeSchemas instance(kAllPlugins);
  return instance;
}

// ---- helpers -----------------------------------------------------------------------------

Grid parse(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return parse_grid(yaml, "grid.yaml", overrides, schemas());
}

std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse(yaml, overrides);
  } catch (const InputError& error) {
    return error.what();
  }
  FAIL("expected an InputError for:\n" << yaml);
  return "";
}

// "grid.yaml:L:C" of the first occurrence of `token` in `yaml`, counted independently of
// yaml-cpp (1-based line and column).
std::string place_of(const std::string& yaml, const std::string& token) {
  const std::size_t at = yaml.find(token);
  REQUIRE(at != std::string::npos);
  const std::size_t line_start = yaml.rfind('\n', at) == std::string::npos ? 0 : yaml.rfind('\n', at) + 1;
  const auto line = 1 + std::count(yaml.begin(), yaml.begin() + static_cast<std::ptrdiff_t>(at), '\n');
  return "grid.yaml:" + std::to_string(line) + ":" + std::to_string(at - line_start + 1) + ": ";
}

// The same place without the trailing ": ", as it appears inside a message.
std::string location_of(const std::string& yaml, const std::string& token) {
  const std::string place = place_of(yaml, token);
  return place.substr(0, place.size() - 2);
}

double real(const ComponentConfig& c, const std::string& name) { return c.params.at(name).number; }

std::string ortho_name(const CellConfig& cell) { return cell.optimizer.params.at("orthogonalizer").component->name; }

// A grid around the given problem / optimizer blocks (YAML flow maps or block lists).
std::string grid_with(const std::string& problem, const std::string& optimizer, const std::string& extra = "") {
  return "name: test\nproblem: " + problem + "\noptimizer: " + optimizer + "\n" + extra;
}

}  // namespace

// ---- expansion ---------------------------------------------------------------------------

TEST_CASE("grid: cells are the product of sweep axes times seeds, seed fastest", "[grid]") {
  const Grid grid = parse(grid_with("{name: toy, params: {kappa: {logspace: [1, 1000, 4]}, n: {values: [8, 16]}}}",
                                    "{name: gd, params: {lr: {values: [0.1, 0.2, 0.3]}}}", "seeds: 2\n"));
  REQUIRE(grid.cells.size() == 4 * 2 * 3 * 2);
  // Order: problem axes in the order written (kappa, then n), optimizer axes, then seeds.
  CHECK(grid.cells[0].seed == 0);
  CHECK(grid.cells[1].seed == 1);
  CHECK(real(grid.cells[1].optimizer, "lr") == 0.1);
  CHECK(real(grid.cells[2].optimizer, "lr") == 0.2);
  CHECK(real(grid.cells[5].optimizer, "lr") == 0.3);
  CHECK(real(grid.cells[5].problem, "n") == 8);
  CHECK(real(grid.cells[6].problem, "n") == 16);
  CHECK(real(grid.cells[11].problem, "kappa") == 1);
  CHECK(real(grid.cells[12].problem, "kappa") == 10);
  CHECK(real(grid.cells[47].problem, "kappa") == 1000);
  // Every combination appears exactly once.
  std::set<std::string> ids;
  for (const CellConfig& cell : grid.cells) ids.insert(cell.id);
  CHECK(ids.size() == grid.cells.size());
  CHECK(grid.name == "test");
  CHECK(grid.cells[0].problem.kind == PluginKind::Problem);
  CHECK(grid.cells[0].optimizer.kind == PluginKind::Optimizer);
}

TEST_CASE("grid: lists of alternatives are a union, ordered problem first", "[grid]") {
  const Grid grid = parse(R"(name: union
problem:
  - {name: toy, params: {kappa: {values: [2, 4]}}}
  - {name: quad, params: {dim: 3}}
optimizer:
  - name: gd
    params: {lr: {values: [0.1, 0.2, 0.3]}}
  - name: muon
)");
  // (2 toy cells + 1 quad cell) x (3 gd + 1 muon) = 12.
  REQUIRE(grid.cells.size() == 12);
  const std::vector<std::string> expected_optimizers = {"gd", "gd", "gd", "muon"};
  for (std::size_t i = 0; i < 12; ++i) {
    CHECK(grid.cells[i].problem.name == (i < 8 ? "toy" : "quad"));
    CHECK(grid.cells[i].optimizer.name == expected_optimizers[i % 4]);
  }
  // Problem axis values vary slower than optimizer alternatives.
  CHECK(real(grid.cells[3].problem, "kappa") == 2);
  CHECK(real(grid.cells[4].problem, "kappa") == 4);
}

TEST_CASE("grid: logspace and linspace give exact values", "[grid]") {
  const Grid grid = parse(grid_with("{name: toy, params: {kappa: {logspace: [1, 1000, 4]}, n: {linspace: [8, 32, 4]}}}",
                                    "{name: muon, params: {decay: {linspace: [0.25, 1, 4]}}}"));
  std::set<double> kappas, ns, decays;
  for (const CellConfig& cell : grid.cells) {
    kappas.insert(real(cell.problem, "kappa"));
    ns.insert(real(cell.problem, "n"));
    decays.insert(real(cell.optimizer, "decay"));
  }
  // logspace endpoints are values: 1, 10, 100, 1000, exact (decades are exact doubles).
  CHECK(kappas == std::set<double>{1, 10, 100, 1000});
  CHECK(ns == std::set<double>{8, 16, 24, 32});
  // Quarter steps are exact binary fractions and each is one correctly rounded division
  // (0.75 * k / 3), so equality is the right test.
  CHECK(decays == std::set<double>{0.25, 0.5, 0.75, 1.0});
  CHECK(grid.cells[0].problem.params.at("n").type == ParamType::Integer);

  SECTION("a count of one gives the first value") {
    const Grid one = parse(grid_with("{name: toy, params: {kappa: {logspace: [5, 50, 1]}}}", "{name: gd}"));
    REQUIRE(one.cells.size() == 1);
    CHECK(real(one.cells[0].problem, "kappa") == 5);
  }
  SECTION("logspace endpoints must be positive") {
    const std::string yaml = grid_with("{name: toy, params: {kappa: {logspace: [0, 10, 3]}}}", "{name: gd}");
    CHECK_THAT(error_of(yaml), StartsWith(place_of(yaml, "[0, 10, 3]")) && Contains("must be > 0"));
  }
  SECTION("an integer parameter rejects non-integer generated values") {
    const std::string yaml = grid_with("{name: toy, params: {n: {linspace: [1, 2, 3]}}}", "{name: gd}");
    CHECK_THAT(error_of(yaml), StartsWith(place_of(yaml, "[1, 2, 3]")) && Contains("1.5 is not an integer"));
  }
  SECTION("generated values are range-checked") {
    const std::string yaml = grid_with("{name: toy, params: {kappa: {linspace: [0.5, 2, 4]}}}", "{name: gd}");
    CHECK_THAT(error_of(yaml), Contains("kappa' = 0.5 is out of range [1, inf)"));
  }
  SECTION("a misspelled sweep is named") {
    const std::string yaml = grid_with("{name: toy, params: {kappa: {logspce: [1, 10, 2]}}}", "{name: gd}");
    CHECK_THAT(error_of(yaml), StartsWith(place_of(yaml, "logspce")) && Contains("did you mean 'logspace'?"));
  }
}

TEST_CASE("grid: zip pairs axes instead of crossing them", "[grid]") {
  const std::string yaml = R"(name: zipped
problem: {name: toy, params: {kappa: {logspace: [1, 100, 3]}}}
optimizer:
  - {name: gd, params: {lr: {values: [0.1, 0.2, 0.3]}}}
  - {name: muon, params: {lr: 0.5}}
zip: [[problem.params.kappa, optimizer.lr]]
)";
  const Grid grid = parse(yaml);
  // gd: 3 zipped cells; muon has no lr axis, so the zip only binds kappa there: 3 cells.
  REQUIRE(grid.cells.size() == 6);
  std::vector<std::pair<double, double>> gd_pairs;
  for (const CellConfig& cell : grid.cells) {
    if (cell.optimizer.name == "gd") gd_pairs.emplace_back(real(cell.problem, "kappa"), real(cell.optimizer, "lr"));
  }
  CHECK(gd_pairs == std::vector<std::pair<double, double>>{{1, 0.1}, {10, 0.2}, {100, 0.3}});
  // Order: kappa value, then the optimizer alternative.
  CHECK(grid.cells[0].optimizer.name == "gd");
  CHECK(grid.cells[1].optimizer.name == "muon");
  CHECK(real(grid.cells[1].problem, "kappa") == 1);
  CHECK(real(grid.cells[2].problem, "kappa") == 10);

  SECTION("zipped axes of different lengths are an error at the zip entry") {
    const std::string bad = R"(name: zipped
problem: {name: toy, params: {kappa: {logspace: [1, 100, 3]}}}
optimizer: {name: gd, params: {lr: {values: [0.1, 0.2]}}}
zip: [[problem.kappa, optimizer.lr]]
)";
    CHECK_THAT(error_of(bad), StartsWith(place_of(bad, "[problem.kappa")) && Contains("different lengths") &&
                                  Contains("problem.kappa has 3 values, optimizer.lr has 2 values"));
  }
  SECTION("a zip name that is no axis is an error with a suggestion") {
    const std::string bad = R"(name: zipped
problem: {name: toy, params: {kappa: {logspace: [1, 100, 3]}}}
optimizer: {name: gd, params: {lr: {values: [0.1, 0.2, 0.3]}}}
zip: [[problem.kapa, optimizer.lr]]
)";
    CHECK_THAT(error_of(bad), StartsWith(place_of(bad, "problem.kapa")) && Contains("did you mean 'problem.kappa'?"));
  }
  SECTION("a zip name of a fixed parameter says so") {
    const std::string bad = R"(name: zipped
problem: {name: toy, params: {kappa: {logspace: [1, 100, 3]}, n: 4}}
optimizer: {name: gd}
zip: [[problem.kappa, problem.n]]
)";
    CHECK_THAT(error_of(bad), StartsWith(place_of(bad, "problem.n]")) && Contains("has a single value"));
  }
}

TEST_CASE("grid: seeds are a list or a count", "[grid]") {
  const auto seeds_of = [](const std::string& line) {
    std::vector<std::int64_t> out;
    for (const CellConfig& cell : parse(grid_with("{name: toy}", "{name: gd}", line)).cells) out.push_back(cell.seed);
    return out;
  };
  CHECK(seeds_of("") == std::vector<std::int64_t>{0});
  CHECK(seeds_of("seeds: [3, 7]\n") == std::vector<std::int64_t>{3, 7});
  CHECK(seeds_of("seeds: 3\n") == std::vector<std::int64_t>{0, 1, 2});
  CHECK_THAT(error_of(grid_with("{name: toy}", "{name: gd}", "seeds: 0\n")), StartsWith("grid.yaml:4:8: "));
  CHECK_THAT(error_of(grid_with("{name: toy}", "{name: gd}", "seeds: [1, 1]\n")), Contains("listed twice"));
  CHECK_THAT(error_of(grid_with("{name: toy}", "{name: gd}", "seeds: [a]\n")),
             Contains("expected an integer, got 'a'"));
}

// ---- ids and seeds -----------------------------------------------------------------------

TEST_CASE("grid: stable_hash is FNV-1a 64 and mix_seed is the splitmix64 finalizer", "[grid]") {
  // Published FNV-1a 64-bit test vectors.
  CHECK(stable_hash("") == 0xcbf29ce484222325ULL);
  CHECK(stable_hash("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(stable_hash("foobar") == 0x85944171f73967e8ULL);
  // splitmix64 seeded with 0 first outputs 0xe220a8397b1dcdaf: the finalizer of the golden
  // ratio increment, which is mix_seed(1, 0).
  CHECK(mix_seed(1, 0) == 0xe220a8397b1dcdafULL);
  CHECK(mix_seed(0, 1) != mix_seed(1, 0));
}

TEST_CASE("grid: cell ids and seeds do not depend on the other cells", "[grid]") {
  const Grid alone = parse(
      grid_with("{name: toy, params: {kappa: {values: [2, 8]}}}", "{name: gd, params: {lr: 0.5}}", "seeds: [0, 1]\n"));
  const Grid more = parse(grid_with("{name: toy, params: {kappa: {values: [2, 8]}}}",
                                    "[{name: muon}, {name: gd, params: {lr: 0.5}}, {name: gd, params: {lr: 0.25}}]",
                                    "seeds: [0, 1]\n"));
  REQUIRE(alone.cells.size() == 4);
  REQUIRE(more.cells.size() == 12);
  for (const CellConfig& cell : alone.cells) {
    const auto same = std::find_if(more.cells.begin(), more.cells.end(),
                                   [&](const CellConfig& other) { return other.id == cell.id; });
    REQUIRE(same != more.cells.end());
    CHECK(same->canonical == cell.canonical);
    CHECK(same->seed == cell.seed);
    CHECK(same->problem_seed == cell.problem_seed);
    CHECK(same->optimizer_seed == cell.optimizer_seed);
  }
  const CellConfig& first = alone.cells[0];
  REQUIRE(first.id.size() == 13);
  CHECK(first.id[0] == 'c');
  CHECK(first.id.find_first_not_of("0123456789abcdef", 1) == std::string::npos);
  // The id is the leading 12 hex digits of FNV-1a of the canonical text.
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(stable_hash(first.canonical)));
  CHECK(first.id == "c" + std::string(hex, 12));
  CHECK(first.canonical ==
        "{\"optimizer\":{\"name\":\"gd\",\"params\":{\"lr\":0.5}},"
        "\"problem\":{\"name\":\"toy\",\"params\":{\"kappa\":2,\"n\":16,\"shape\":\"geometric\"}},\"seed\":0}");
  CHECK(first.problem_seed == mix_seed(0, stable_hash("toy")));
  CHECK(first.optimizer_seed == mix_seed(0, stable_hash(first.id)));
}

TEST_CASE("grid: ids differ when any parameter or the seed differs", "[grid]") {
  const Grid grid =
      parse(grid_with("{name: toy, params: {kappa: {values: [2, 8]}, shape: {values: [geometric, two_level]}}}",
                      "{name: gd, params: {lr: {values: [0.5, 0.25]}}}", "seeds: 2\n"));
  std::set<std::string> ids, optimizer_seeds;
  for (const CellConfig& cell : grid.cells) {
    ids.insert(cell.id);
    optimizer_seeds.insert(std::to_string(cell.optimizer_seed));
  }
  CHECK(ids.size() == 16);
  CHECK(optimizer_seeds.size() == 16);
}

TEST_CASE("grid: problem seeds are common random numbers across optimizers and sweeps", "[grid]") {
  const Grid grid =
      parse(grid_with("{name: toy, params: {kappa: {logspace: [1, 100, 3]}}}",
                      "[{name: gd, params: {lr: {values: [0.5, 0.25]}}}, {name: muon}]", "seeds: [4, 9]\n"));
  std::map<std::int64_t, std::set<std::uint64_t>> problem_seeds;
  for (const CellConfig& cell : grid.cells) problem_seeds[cell.seed].insert(cell.problem_seed);
  REQUIRE(problem_seeds.size() == 2);
  CHECK(problem_seeds[4].size() == 1);
  CHECK(problem_seeds[9].size() == 1);
  CHECK(*problem_seeds[4].begin() != *problem_seeds[9].begin());
}

// ---- validation --------------------------------------------------------------------------

TEST_CASE("grid: missing parameters are filled from the plugin defaults", "[grid]") {
  const Grid grid = parse(grid_with("{name: toy}", "{name: muon}"));
  REQUIRE(grid.cells.size() == 1);
  const CellConfig& cell = grid.cells[0];
  CHECK(real(cell.problem, "n") == 16);
  CHECK(real(cell.problem, "kappa") == 10);
  CHECK(cell.problem.params.at("shape").text == "geometric");
  CHECK(real(cell.optimizer, "lr") == 0.02);
  CHECK(real(cell.optimizer, "decay") == 1);
  const ParamData& orth = cell.optimizer.params.at("orthogonalizer");
  REQUIRE(orth.component);
  CHECK(orth.component->kind == PluginKind::Orthogonalizer);
  CHECK(orth.component->name == "svd");
  CHECK(orth.text == "svd");
  CHECK(real(*orth.component, "rank_threshold") == 1e-12);

  const Grid quad = parse(grid_with("{name: quad, params: {dim: 1e3}}", "{name: gd}"));
  CHECK(real(quad.cells[0].problem, "dim") == 1000);
  CHECK(quad.cells[0].problem.params.at("spectrum").list == std::vector<double>{1, 2});
  CHECK(quad.cells[0].problem.params.at("normalize").number == 1.0);

  SECTION("a required parameter without a value is named") {
    const std::string yaml = grid_with("{name: quad}", "{name: gd}");
    CHECK_THAT(error_of(yaml), StartsWith(place_of(yaml, "{name: quad}")) &&
                                   Contains("problem 'quad' needs parameter 'dim' (an integer in [1, inf))"));
  }
  SECTION("a default naming a missing plugin is reported as the plugin's default") {
    std::vector<PluginDescriptor> without_svd;
    for (const PluginDescriptor& p : kAllPlugins) {
      if (std::string(p.name) != "svd") without_svd.push_back(p);
    }
    const FakeSchemas partial(without_svd);
    const std::string yaml = grid_with("{name: toy}", "{name: muon}");
    try {
      parse_grid(yaml, "grid.yaml", {}, partial);
      FAIL("expected an InputError");
    } catch (const InputError& error) {
      CHECK_THAT(error.what(), StartsWith(place_of(yaml, "{name: muon}")) &&
                                   Contains("default of optimizer 'muon' parameter 'orthogonalizer'") &&
                                   Contains("unknown orthogonalizer 'svd'") && Contains("available: ns5"));
    }
  }
}

TEST_CASE("grid: a misspelled parameter is located and corrected", "[grid]") {
  const std::string yaml = R"(name: typo
problem: {name: toy}
optimizer:
  name: muon
  params: {lr: 0.1, decy: 0.9}
)";
  const std::string message = error_of(yaml);
  CHECK(place_of(yaml, "decy") == "grid.yaml:5:21: ");
  CHECK_THAT(message, StartsWith("grid.yaml:5:21: "));
  CHECK_THAT(message, Contains("optimizer 'muon' has no parameter 'decy'; did you mean 'decay'? "
                               "(see `muonlab describe muon`)"));
  const std::string far = grid_with("{name: toy}", "{name: gd, params: {momentum: 0.9}}");
  CHECK_THAT(error_of(far), Contains("has no parameter 'momentum'; its parameters are: lr"));
}

TEST_CASE("grid: an unknown plugin lists the available ones", "[grid]") {
  const std::string yaml = grid_with("{name: toy}", "{name: muom}");
  CHECK_THAT(error_of(yaml), StartsWith(place_of(yaml, "muom")) &&
                                 Contains("unknown optimizer 'muom'; did you mean 'muon'? available: gd, muon"));
  const std::string far = grid_with("{name: sphere}", "{name: gd}");
  CHECK_THAT(error_of(far),
             Contains("unknown problem 'sphere'") && Contains("available: quad, toy") && !Contains("did you mean"));
}

TEST_CASE("grid: values are checked for type, range and choice", "[grid]") {
  const auto check = [](const std::string& problem, const std::string& optimizer, const std::string& token,
                        const std::string& expected) {
    const std::string yaml = grid_with(problem, optimizer);
    const std::string message = error_of(yaml);
    CHECK_THAT(message, StartsWith(place_of(yaml, token)));
    CHECK_THAT(message, Contains(expected));
  };
  check("{name: toy}", "{name: gd, params: {lr: abc}}", "abc",
        "optimizer 'gd' parameter 'lr': expected a real number, got 'abc'");
  check("{name: toy}", "{name: gd, params: {lr: 0}}", "0}",
        "'lr' = 0 is out of range (0, inf): it must be > 0 (the bound itself is excluded)");
  check("{name: toy}", "{name: muon, params: {decay: 1.5}}", "1.5",
        "'decay' = 1.5 is out of range (0, 1]: it must be <= 1");
  check("{name: toy, params: {kappa: 0.5}}", "{name: gd}", "0.5",
        "'kappa' = 0.5 is out of range [1, inf): it must be >= 1");
  check("{name: toy, params: {n: 2.5}}", "{name: gd}", "2.5", "parameter 'n': expected an integer, got '2.5'");
  check("{name: toy, params: {shape: geometrik}}", "{name: gd}", "geometrik",
        "'geometrik' is not one of the choices; did you mean 'geometric'? (choices: geometric, two_level)");
  check("{name: quad, params: {dim: 2, normalize: yes}}", "{name: gd}", "yes", "expected true or false, got 'yes'");
  check("{name: quad, params: {dim: 2, spectrum: [1, -2]}}", "{name: gd}", "-2",
        "'spectrum' = -2 is out of range (0, inf)");
  check("{name: toy, params: {kappa: [1, 2]}}", "{name: gd}", "[1, 2]",
        "a plain list is only a value for real-list parameters, to sweep these values write {values: [...]}");
  check("{name: toy, params: {kappa: .inf}}", "{name: gd}", ".inf", "expected a real number, got '.inf'");
  check("{name: toy, params: {kappa: }}", "{name: gd}", "kappa", "no value given");

  const Grid quad =
      parse(grid_with("{name: quad, params: {dim: 2, spectrum: [1, 4.5], normalize: false}}", "{name: gd}"));
  CHECK(quad.cells[0].problem.params.at("spectrum").list == std::vector<double>{1, 4.5});
  CHECK(quad.cells[0].problem.params.at("normalize").number == 0.0);
  const Grid lists =
      parse(grid_with("{name: quad, params: {dim: 2, spectrum: {values: [[1], [2, 3]]}}}", "{name: gd}"));
  REQUIRE(lists.cells.size() == 2);
  CHECK(lists.cells[1].problem.params.at("spectrum").list == std::vector<double>{2, 3});
}

TEST_CASE("grid: nested orthogonalizers are validated against their own schema", "[grid]") {
  const Grid grid = parse(
      grid_with("{name: toy}",
                "{name: muon, params: {lr: 0.5, orthogonalizer: {values: [svd, {name: ns5, params: {steps: 3}}]}}}"));
  REQUIRE(grid.cells.size() == 2);
  CHECK(ortho_name(grid.cells[0]) == "svd");
  CHECK(ortho_name(grid.cells[1]) == "ns5");
  CHECK(real(*grid.cells[1].optimizer.params.at("orthogonalizer").component, "steps") == 3);
  CHECK(component_json(grid.cells[1].optimizer, JsonNumbers::Digits17) ==
        "{\"name\":\"muon\",\"params\":{\"decay\":1,\"lr\":0.5,"
        "\"orthogonalizer\":{\"name\":\"ns5\",\"params\":{\"steps\":3}}}}");
  CHECK(grid.cells[0].id != grid.cells[1].id);

  const auto fails_at = [](const std::string& orthogonalizer, const std::string& token, const std::string& expected) {
    const std::string yaml = grid_with("{name: toy}", "{name: muon, params: {orthogonalizer: " + orthogonalizer + "}}");
    const std::string message = error_of(yaml);
    CHECK_THAT(message, StartsWith(place_of(yaml, token)));
    CHECK_THAT(message, Contains(expected));
  };
  fails_at("{name: ns5, params: {steps: 0}}", "0}",
           "orthogonalizer 'ns5' parameter 'steps' = 0 is out of range [1, 100]");
  fails_at("{name: ns5, params: {stepz: 3}}", "stepz",
           "orthogonalizer 'ns5' has no parameter 'stepz'; did you mean 'steps'?");
  fails_at("nss5", "nss5", "unknown orthogonalizer 'nss5'; did you mean 'ns5'? available: ns5, svd");
  fails_at("{name: ns5, params: {steps: {values: [3, 5]}}}", "{values", "a sweep is not allowed here");
  fails_at("{nam: ns5}", "nam:", "did you mean 'name'?");
}

TEST_CASE("grid: duplicate cells are an error", "[grid]") {
  const std::string yaml = grid_with("{name: toy}", "[{name: gd, params: {lr: 0.1}}, {name: gd}]");
  // The second alternative's default lr is 0.1: the same cell twice.
  CHECK_THAT(error_of(yaml), StartsWith(place_of(yaml, "{name: gd}")) && Contains("duplicate cell") &&
                                 Contains(location_of(yaml, "{name: gd, params")));
  CHECK_THAT(error_of(grid_with("{name: toy}", "{name: gd, params: {lr: {values: [0.5, 0.5]}}}")),
             Contains("duplicate cell"));
}

// ---- overrides ---------------------------------------------------------------------------

TEST_CASE("grid: --set overrides scalars, sweeps and single alternatives", "[grid]") {
  const std::string yaml = R"(name: base
stop: {max_iters: 100}
problem: {name: toy, params: {n: 8}}
optimizer:
  - {name: gd, params: {lr: 0.5}}
  - {name: muon}
)";
  SECTION("a scalar") {
    const Grid grid = parse(yaml, {"problem.params.n=64", "stop.max_iters=1e4", "seeds=2"});
    REQUIRE(grid.cells.size() == 4);
    CHECK(real(grid.cells[0].problem, "n") == 64);
    CHECK(grid.stop.max_iters == 10000);
    CHECK(grid.overrides == std::vector<std::string>{"problem.params.n=64", "stop.max_iters=1e4", "seeds=2"});
  }
  SECTION("a sweep, applied to every alternative") {
    const Grid grid = parse(yaml, {"optimizer.params.lr={values: [1, 2]}"});
    REQUIRE(grid.cells.size() == 4);
    CHECK(grid.cells[0].optimizer.name == "gd");
    CHECK(real(grid.cells[1].optimizer, "lr") == 2);
    CHECK(grid.cells[3].optimizer.name == "muon");
    CHECK(real(grid.cells[3].optimizer, "lr") == 2);
  }
  SECTION("one alternative by index") {
    const Grid grid = parse(yaml, {"optimizer[1].params.lr=0.25", "record.every=5"});
    REQUIRE(grid.cells.size() == 2);
    CHECK(real(grid.cells[0].optimizer, "lr") == 0.5);
    CHECK(real(grid.cells[1].optimizer, "lr") == 0.25);
    CHECK(grid.record.every == 5);
  }
  SECTION("errors in an override's value name the override") {
    CHECK_THAT(error_of(yaml, {"optimizer.params.lr=-1"}),
               StartsWith("--set optimizer.params.lr=-1: ") && Contains("out of range"));
    CHECK_THAT(error_of(yaml, {"optimizer[1].params.decy=0.5"}),
               StartsWith("--set optimizer[1].params.decy=0.5: ") && Contains("did you mean 'decay'?"));
    CHECK_THAT(error_of(yaml, {"stop.max_iter=5"}),
               StartsWith("--set stop.max_iter=5: ") && Contains("did you mean 'max_iters'?"));
  }
  SECTION("malformed overrides") {
    CHECK_THAT(error_of(yaml, {"problem.params.n"}), StartsWith("--set problem.params.n: ") && Contains("key=value"));
    CHECK_THAT(error_of(yaml, {"=3"}), StartsWith("--set =3: ") && Contains("missing key"));
    CHECK_THAT(error_of(yaml, {"problem.params.n="}), Contains("missing value"));
    CHECK_THAT(error_of(yaml, {"problem..n=3"}), Contains("malformed key part"));
    CHECK_THAT(error_of(yaml, {"optimizer[x].params.lr=3"}), Contains("malformed"));
    CHECK_THAT(error_of(yaml, {"optimizer[2].params.lr=3"}), Contains("does not exist") && Contains("has 2 entries"));
    CHECK_THAT(error_of(yaml, {"optimizer.params.lr=[1,"}), Contains("not valid YAML"));
    CHECK_THAT(error_of(yaml, {"name.x=3"}), StartsWith("--set name.x=3: ") && Contains("not a map"));
  }
}

// ---- grid settings -----------------------------------------------------------------------

TEST_CASE("grid: stop and record settings", "[grid]") {
  const Grid defaults = parse(grid_with("{name: toy}", "{name: gd}"));
  CHECK(defaults.stop.max_iters == 1000);
  CHECK(defaults.stop.tol == 0.0);
  CHECK(defaults.stop.metric == "rel_error");
  CHECK(defaults.stop.divergence_factor == 1e8);
  CHECK(defaults.record.spectra == SpectraSchedule::Log);
  CHECK(defaults.record.final_iterates);
  CHECK_FALSE(defaults.record.spectra_exact);
  CHECK(defaults.record.spectra_of_iterate);
  CHECK(defaults.record.spectra_of_grad);
  CHECK(defaults.record.spectra_of_update);

  const Grid grid = parse(grid_with("{name: toy}", "{name: gd}", R"(description: a test
output: out.h5
stop: {max_iters: 1e3, tol: 1.0e-6, metric: loss, max_seconds: 5, divergence_factor: 100}
record: {every: 10, spectra: every, spectra_every: 5, spectra_per_decade: 7, final: false, spectra_exact: true}
)"));
  CHECK(grid.description == "a test");
  CHECK(grid.output == "out.h5");
  CHECK(grid.stop.max_iters == 1000);
  CHECK(grid.stop.tol == 1e-6);
  CHECK(grid.stop.metric == "loss");
  CHECK(grid.stop.max_seconds == 5);
  CHECK(grid.stop.divergence_factor == 100);
  CHECK(grid.record.every == 10);
  CHECK(grid.record.spectra == SpectraSchedule::Every);
  CHECK(grid.record.spectra_every == 5);
  CHECK(grid.record.spectra_per_decade == 7);
  CHECK_FALSE(grid.record.final_iterates);
  CHECK(grid.record.spectra_exact);
  CHECK(parse(grid_with("{name: toy}", "{name: gd}", "record: {spectra: off}\n")).record.spectra ==
        SpectraSchedule::Off);
  const RecordRule iterates_and_updates =
      parse(grid_with("{name: toy}", "{name: gd}", "record: {spectra_of: [update, iterate]}\n")).record;
  CHECK(iterates_and_updates.spectra_of_iterate);
  CHECK_FALSE(iterates_and_updates.spectra_of_grad);
  CHECK(iterates_and_updates.spectra_of_update);
  const RecordRule gradients = parse(grid_with("{name: toy}", "{name: gd}", "record: {spectra_of: grad}\n")).record;
  CHECK_FALSE(gradients.spectra_of_iterate);
  CHECK(gradients.spectra_of_grad);
  CHECK_FALSE(gradients.spectra_of_update);

  const auto fails = [](const std::string& extra, const std::string& token, const std::string& expected) {
    const std::string yaml = grid_with("{name: toy}", "{name: gd}", extra);
    const std::string message = error_of(yaml);
    CHECK_THAT(message, StartsWith(place_of(yaml, token)));
    CHECK_THAT(message, Contains(expected));
  };
  fails("stop: {max_iters: 0}\n", "0}", "stop.max_iters must be > 0");
  fails("stop: {max_iters: 2.5}\n", "2.5", "stop.max_iters: expected an integer");
  fails("stop: {tol: -1}\n", "-1", "stop.tol must be >= 0");
  fails("stop: {divergence_factor: 1}\n", "1}", "stop.divergence_factor must be > 1");
  fails("stop: {metric: ''}\n", "''", "stop.metric must name");
  fails("stop: {max_itres: 5}\n", "max_itres", "unknown key 'max_itres' in stop; did you mean 'max_iters'?");
  fails("record: {evry: 5}\n", "evry", "unknown key 'evry' in record; did you mean 'every'?");
  fails("record: {every: 0}\n", "0}", "record.every must be >= 1, got 0");
  fails("record: {spectra: lg}\n", "lg", "expected off, every or log, got 'lg'; did you mean 'log'?");
  fails("record: {final: maybe}\n", "maybe", "record.final: expected true or false");
  fails("record: {spectra_of: [iterate, grads]}\n", "grads",
        "record.spectra_of: expected iterate, grad or update, got 'grads'; did you mean 'grad'?");
  fails("record: {spectra_of: []}\n", "[]",
        "record.spectra_of: expected a non-empty list drawn from iterate, grad, update");
  fails("optimiser: {name: gd}\n", "optimiser", "unknown key 'optimiser' in the grid file; did you mean 'optimizer'?");
  fails("record: [1]\n", "[1]", "record must be a map");
  // An empty value is reported at its key (yaml-cpp places it at the next token).
  fails("record:\nseeds: 1\n", "record", "record must be a map (key: value), got nothing");
}

TEST_CASE("grid: file-level errors", "[grid]") {
  CHECK_THAT(error_of("name: x\nproblem: {name: toy\n"), StartsWith("grid.yaml:") && Contains("YAML syntax error"));
  CHECK_THAT(error_of("name: x\noptimizer: {name: gd}\n"), StartsWith("grid.yaml:1:1: ") && Contains("'problem'"));
  CHECK_THAT(error_of(""), StartsWith("grid.yaml:1:1: ") && Contains("empty"));
  CHECK_THAT(error_of("- a\n- b\n"), StartsWith("grid.yaml:1:1: ") && Contains("map of settings"));
  CHECK_THAT(error_of("name: x\nproblem: toy\noptimizer: {name: gd}\n"), StartsWith("grid.yaml:2:10: "));

  try {
    load_grid("/nonexistent/grid.yaml", {}, schemas());
    FAIL("expected an InputError");
  } catch (const InputError& error) {
    CHECK_THAT(error.what(), StartsWith("/nonexistent/grid.yaml: ") && Contains("No such file"));
  }
}

TEST_CASE("grid: load_grid reads a file and keeps its text", "[grid]") {
  const std::string path = "/tmp/muonlab_test_grid_" + std::to_string(::getpid()) + ".yaml";
  const std::string text = grid_with("{name: toy}", "{name: gd, params: {lr: decay}}");
  {
    std::ofstream out(path);
    out << text;
  }
  try {
    load_grid(path, {}, schemas());
    FAIL("expected an InputError");
  } catch (const InputError& error) {
    CHECK_THAT(error.what(), StartsWith(path + ":3:"));
  }
  const Grid grid = load_grid(path, {"optimizer.params.lr=0.5"}, schemas());
  std::remove(path.c_str());
  CHECK(grid.source_path == path);
  CHECK(grid.yaml_text == text);
  REQUIRE(grid.cells.size() == 1);
  CHECK(real(grid.cells[0].optimizer, "lr") == 0.5);
}

// ---- single components and names ---------------------------------------------------------

TEST_CASE("grid: resolve_component validates one component without sweeps", "[grid]") {
  const ComponentConfig muon =
      resolve_component(PluginKind::Optimizer, "muon", "{lr: 0.5, orthogonalizer: ns5}", schemas());
  CHECK(muon.kind == PluginKind::Optimizer);
  CHECK(real(muon, "lr") == 0.5);
  CHECK(real(muon, "decay") == 1);
  CHECK(muon.params.at("orthogonalizer").component->name == "ns5");
  CHECK(real(*muon.params.at("orthogonalizer").component, "steps") == 5);
  CHECK(resolve_component(PluginKind::Orthogonalizer, "svd", "", schemas()).params.size() == 1);

  const auto message = [](const std::string& name, const std::string& params) {
    try {
      resolve_component(PluginKind::Optimizer, name, params, schemas());
    } catch (const InputError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message("muon", "{lr: {values: [1, 2]}}"), Contains("a sweep is not allowed here"));
  CHECK_THAT(message("muon", "{decy: 1}"), StartsWith("<optimizer params>:1:2: ") && Contains("did you mean 'decay'?"));
  CHECK_THAT(message("adamw", "{}"), Contains("unknown optimizer 'adamw'") && Contains("available: gd, muon"));
}

TEST_CASE("grid: closest_name suggests only close names", "[grid]") {
  CHECK(closest_name("decy", {"lr", "decay", "orthogonalizer"}) == "decay");
  CHECK(closest_name("orthogonaliser", {"lr", "decay", "orthogonalizer"}) == "orthogonalizer");
  CHECK(closest_name("momentum", {"lr", "decay"}).empty());
  CHECK(closest_name("x", {}).empty());
}
