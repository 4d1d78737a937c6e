// The parameter builders of muonlab/param_spec.hpp: each produces exactly the plain
// ParamSpec a positional literal did, at compile time; and the built-in plugins, whose
// tables are written with the builders, declare field by field what their literals declared.
#include <catch2/catch.hpp>

#include <muonlab/param_spec.hpp>

#include <cstring>
#include <string>

#include "test_support.hpp"

namespace {

using muonlab::kParamHighExclusive;
using muonlab::kParamLowExclusive;
using muonlab::kUnbounded;
using muonlab::ParamSpec;
using muonlab::ParamType;

constexpr bool same_text(const char* a, const char* b) {
  if (a == nullptr || b == nullptr) return a == b;
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

constexpr bool same_spec(const ParamSpec& a, const ParamSpec& b) {
  return same_text(a.name, b.name) && a.type == b.type && same_text(a.default_value, b.default_value) &&
         a.low == b.low && a.high == b.high && a.flags == b.flags && same_text(a.choices, b.choices) &&
         same_text(a.doc, b.doc);
}

// Evaluated by the compiler: the builders are usable in constant expressions.
static_assert(same_spec(muonlab::real("lr", "0.1").above(0.0).doc("step"),
                        ParamSpec{"lr", ParamType::Real, "0.1", 0.0, kUnbounded, kParamLowExclusive, nullptr, "step"}));
static_assert(same_spec(muonlab::real("beta", "0.9").at_least(0.0).below(1.0).doc("b"),
                        ParamSpec{"beta", ParamType::Real, "0.9", 0.0, 1.0, kParamHighExclusive, nullptr, "b"}));
static_assert(same_spec(muonlab::real("q", "0.5").above(0.0).below(1.0).doc("q"),
                        ParamSpec{"q", ParamType::Real, "0.5", 0.0, 1.0, kParamLowExclusive | kParamHighExclusive,
                                  nullptr, "q"}));
static_assert(same_spec(muonlab::integer("n", muonlab::kRequired).at_least(1).doc("size"),
                        ParamSpec{"n", ParamType::Integer, nullptr, 1.0, kUnbounded, 0, nullptr, "size"}));
static_assert(same_spec(muonlab::boolean("flag", "true").doc("f"),
                        ParamSpec{"flag", ParamType::Boolean, "true", -kUnbounded, kUnbounded, 0, nullptr, "f"}));
static_assert(same_spec(muonlab::choice("kind", "a", "a|b").doc("k"),
                        ParamSpec{"kind", ParamType::Choice, "a", -kUnbounded, kUnbounded, 0, "a|b", "k"}));
static_assert(same_spec(muonlab::real_list("xs", "[]").at_least(0.0).doc("x"),
                        ParamSpec{"xs", ParamType::RealList, "[]", 0.0, kUnbounded, 0, nullptr, "x"}));
static_assert(same_spec(muonlab::orthogonalizer("o", "svd").doc("o"),
                        ParamSpec{"o", ParamType::Orthogonalizer, "svd", -kUnbounded, kUnbounded, 0, nullptr, "o"}));
static_assert(same_spec(muonlab::text("label", "").doc("l"),
                        ParamSpec{"label", ParamType::String, "", -kUnbounded, kUnbounded, 0, nullptr, "l"}));
// The last bound wins, with its own exclusivity; an undocumented parameter has an empty doc.
static_assert(same_spec(muonlab::real("x", "1").above(0.0).at_least(2.0).below(5.0).at_most(4.0),
                        ParamSpec{"x", ParamType::Real, "1", 2.0, 4.0, 0, nullptr, ""}));

const ParamSpec& declared(const std::string& kind, const std::string& plugin, const char* parameter) {
  const muonlab::PluginDescriptor* d = muonlab::testing::registry().find(*muonlab::parse_plugin_kind(kind), plugin);
  REQUIRE(d != nullptr);
  for (std::uint32_t i = 0; i < d->num_params; ++i) {
    if (std::strcmp(d->params[i].name, parameter) == 0) return d->params[i];
  }
  FAIL(kind << " '" << plugin << "' declares no parameter '" << parameter << "'");
  return d->params[0];
}

void check_declared(const std::string& kind, const std::string& plugin, const ParamSpec& expected) {
  CAPTURE(kind, plugin, expected.name);
  const ParamSpec& got = declared(kind, plugin, expected.name);
  CHECK(got.type == expected.type);
  CHECK(same_text(got.default_value, expected.default_value));
  CHECK(got.low == expected.low);
  CHECK(got.high == expected.high);
  CHECK(got.flags == expected.flags);
  CHECK(same_text(got.choices, expected.choices));
  CHECK(std::string(got.doc) == expected.doc);
}

}  // namespace

// The expected values are the positional literals these plugins declared before they were
// written with the builders, copied verbatim.
TEST_CASE("builder-declared plugin parameters equal their former literals field by field", "[param_spec]") {
  check_declared(
      "optimizer", "gd",
      {"lr", ParamType::Real, "0.1", 0.0, kUnbounded, kParamLowExclusive, nullptr, "constant step size eta"});
  check_declared("orthogonalizer", "svd",
                 {"rank_threshold", ParamType::Real, "1.0e-12", 0.0, 1.0, kParamHighExclusive, nullptr,
                  "keep singular values s_i > rank_threshold * s_1; the rest count as zero (their "
                  "directions get 0, not 1). 0 keeps every nonzero singular value"});
  check_declared("problem", "matrix_factorization",
                 {"n", ParamType::Integer, "200", 1, kUnbounded, 0, nullptr, "rows of M (and of X)"});
  check_declared("problem", "matrix_factorization",
                 {"scale", ParamType::Real, "1", 0, kUnbounded, kParamLowExclusive, nullptr,
                  "largest singular value sigma_1 of M"});
  check_declared(
      "problem", "matrix_factorization",
      {"init", ParamType::Choice, "small_random", -kUnbounded, kUnbounded, 0, "small_random|aligned|balanced",
       "small_random: X0 = alpha G, G_ij ~ N(0, 1/n) (Y0 likewise with 1/m); "
       "aligned: X0 = alpha [U*, 0] (Y0 = alpha [V*, 0]); "
       "balanced: X0 = U* D0 R, Y0 = V* D0 R, D0 = alpha [I_r, 0], R Haar-random k x k orthogonal"});
  check_declared("problem", "matrix_factorization",
                 {"symmetric", ParamType::Boolean, "true", -kUnbounded, kUnbounded, 0, nullptr,
                  "true: f(X) = 1/4 ||X X^T - M||_F^2 with M = U* diag(sigma) U*^T (n x n); "
                  "false: f(X, Y) = 1/2 ||X Y^T - M||_F^2 with M = U* diag(sigma) V*^T (n x m)"});
  check_declared("problem", "icl_linear_transformer",
                 {"value_init", ParamType::Real, "1", 0, kUnbounded, kParamLowExclusive, nullptr,
                  "u_0, the corner entry of W_PV at initialization (separate parametrization)"});
  check_declared("problem", "icl_linear_transformer",
                 {"init_scale", ParamType::Real, "0.1", 0, kUnbounded, 0, nullptr,
                  "scale of the commuting and small_random inits"});
}

// The shared declarations of optim/param_specs.hpp, as the literals of that header read.
TEST_CASE("shared optimizer parameters equal their former literals field by field", "[param_spec]") {
  check_declared("optimizer", "muon",
                 {"lr", ParamType::Real, "0.1", 0.0, kUnbounded, kParamLowExclusive, nullptr,
                  "base step size eta_0 (constant, geometric and cosine schedules)"});
  check_declared(
      "optimizer", "muon",
      {"schedule", ParamType::Choice, "geometric", -kUnbounded, kUnbounded, 0, "constant|geometric|cosine|list",
       "eta_t = lr, lr * decay^t, cosine from lr to final_fraction * lr over horizon steps, or "
       "lr_list[t] (last value held); after warmup"});
  check_declared(
      "optimizer", "muon",
      {"decay", ParamType::Real, "0.9", 0.0, 1.0, kParamLowExclusive, nullptr, "ratio q of the geometric schedule"});
  check_declared("optimizer", "muon",
                 {"horizon", ParamType::Integer, "1000", 1.0, kUnbounded, 0, nullptr,
                  "cosine schedule: steps (after warmup) from lr down to final_fraction * lr, held after"});
  check_declared("optimizer", "muon",
                 {"final_fraction", ParamType::Real, "0", 0.0, 1.0, 0, nullptr,
                  "cosine schedule: final step size as a fraction of lr"});
  check_declared("optimizer", "muon",
                 {"warmup", ParamType::Integer, "0", 0.0, kUnbounded, 0, nullptr,
                  "linear warmup steps: eta_t = base(0) (t+1)/(warmup+1) for t < warmup, then base(t - warmup)"});
  check_declared("optimizer", "muon",
                 {"lr_list", ParamType::RealList, "[]", 0.0, kUnbounded, 0, nullptr,
                  "explicit step sizes eta_0, eta_1, ... for schedule: list"});
  check_declared("optimizer", "muon",
                 {"momentum", ParamType::Real, "0", 0.0, 1.0, kParamHighExclusive, nullptr,
                  "EMA factor beta of M_t = beta M_{t-1} + (1-beta) G_t; 0 = simplified Muon"});
  check_declared("optimizer", "muon",
                 {"nesterov", ParamType::Boolean, "false", -kUnbounded, kUnbounded, 0, nullptr,
                  "orthogonalize (1-beta) G_t + beta M_t instead of M_t"});
  check_declared("optimizer", "muon",
                 {"orthogonalizer", ParamType::Orthogonalizer, "svd", -kUnbounded, kUnbounded, 0, nullptr,
                  "polar-factor routine applied to each block"});
  check_declared("optimizer", "muon",
                 {"scaling", ParamType::Choice, "none", -kUnbounded, kUnbounded, 0, "none|shape|rms",
                  "update factor s: 1, sqrt(max(1, m/n)), or 0.2 sqrt(max(m, n))"});
  check_declared("optimizer", "muon",
                 {"weight_decay", ParamType::Real, "0", 0.0, kUnbounded, 0, nullptr,
                  "decoupled: W <- (1 - eta_t * weight_decay) W"});
  check_declared(
      "optimizer", "adam",
      {"beta2", ParamType::Real, "0.999", 0.0, 1.0, kParamHighExclusive, nullptr, "second-moment EMA factor"});
  check_declared(
      "optimizer", "adam",
      {"eps", ParamType::Real, "1e-8", 0.0, kUnbounded, 0, nullptr, "added to sqrt(v_hat) in the denominator"});
  check_declared("optimizer", "normuon",
                 {"eps", ParamType::Real, "1e-10", 0.0, kUnbounded, kParamLowExclusive, nullptr,
                  "added to sqrt(v) and to ||P||_F"});
}
