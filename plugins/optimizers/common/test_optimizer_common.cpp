// The shared optimizer pieces (plugins/optimizers/common) against values written out here:
// schedule formulas and warmup composition, momentum forms, shape factors, shape check, and
// the vectorized Adam block pass against the scalar per-element formula.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <muonlab/optim/adam_moments.hpp>
#include <muonlab/optim/optimizer_common.hpp>

namespace optim = muonlab::optim;
using muonlab::Matrix;

namespace {

optim::StepSchedule make_schedule(optim::ScheduleKind kind, double lr) {
  optim::ScheduleSettings s;
  s.kind = kind;
  s.lr = lr;
  return optim::StepSchedule(s, "test");
}

}  // namespace

TEST_CASE("optimizer common: constant and geometric schedules", "[optimizer_common]") {
  const optim::StepSchedule constant = make_schedule(optim::ScheduleKind::Constant, 0.3);
  for (int t = 0; t < 5; ++t) REQUIRE(constant.at(t) == 0.3);

  optim::ScheduleSettings s;
  s.kind = optim::ScheduleKind::Geometric;
  s.lr = 0.8;
  s.decay = 0.5;
  const optim::StepSchedule geometric(s, "test");
  // Powers of two: exact.
  REQUIRE(geometric.at(0) == 0.8);
  REQUIRE(geometric.at(1) == 0.4);
  REQUIRE(geometric.at(3) == 0.1);
}

TEST_CASE("optimizer common: cosine goes from lr to final_fraction * lr in horizon steps, then holds",
          "[optimizer_common]") {
  optim::ScheduleSettings s;
  s.kind = optim::ScheduleKind::Cosine;
  s.lr = 1.0;
  s.horizon = 4;
  s.final_fraction = 0.2;
  const optim::StepSchedule cosine(s, "test");
  // cos(pi t / 4) for t = 0..4: 1, 1/sqrt2, 0, -1/sqrt2, -1; eta = 0.2 + 0.8 (1 + c) / 2.
  const double c = std::sqrt(0.5);
  const double expected[] = {1.0, 0.2 + 0.4 * (1 + c), 0.6, 0.2 + 0.4 * (1 - c), 0.2, 0.2, 0.2};
  for (int t = 0; t < 7; ++t) {
    CAPTURE(t);
    // The plugin evaluates cos(pi t/4) with libm (<= 1 ulp) and the hand values use sqrt:
    // a few ulps of 1.
    REQUIRE(cosine.at(t) == Approx(expected[t]).epsilon(1e-15));
  }
}

TEST_CASE("optimizer common: list schedule holds its last value", "[optimizer_common]") {
  optim::ScheduleSettings s;
  s.kind = optim::ScheduleKind::List;
  s.lr_list = {0.5, 0.25, 0.125};
  const optim::StepSchedule list(s, "test");
  REQUIRE(list.at(0) == 0.5);
  REQUIRE(list.at(2) == 0.125);
  REQUIRE(list.at(100) == 0.125);
}

TEST_CASE("optimizer common: warmup ramps to base(0) and then starts the base schedule", "[optimizer_common]") {
  optim::ScheduleSettings s;
  s.kind = optim::ScheduleKind::Geometric;
  s.lr = 0.6;
  s.decay = 0.5;
  s.warmup = 2;
  const optim::StepSchedule warm(s, "test");
  REQUIRE(warm.at(0) == Approx(0.2).epsilon(1e-15));  // 0.6 * 1/3
  REQUIRE(warm.at(1) == Approx(0.4).epsilon(1e-15));  // 0.6 * 2/3
  REQUIRE(warm.at(2) == 0.6);                         // base(0)
  REQUIRE(warm.at(3) == 0.3);                         // base(1)

  s.kind = optim::ScheduleKind::List;
  s.lr_list = {1.0, 0.5};
  s.warmup = 3;
  const optim::StepSchedule warm_list(s, "test");
  const double expected[] = {0.25, 0.5, 0.75, 1.0, 0.5, 0.5};
  for (int t = 0; t < 6; ++t) REQUIRE(warm_list.at(t) == expected[t]);  // quarters: exact
}

TEST_CASE("optimizer common: invalid schedules are refused with the plugin's name", "[optimizer_common]") {
  optim::ScheduleSettings s;
  s.kind = optim::ScheduleKind::List;
  REQUIRE_THROWS_WITH(optim::StepSchedule(s, "myopt"), Catch::Contains("myopt") && Catch::Contains("lr_list"));
  s.lr_list = {0.1, -1.0};
  REQUIRE_THROWS_WITH(optim::StepSchedule(s, "myopt"), Catch::Contains("lr_list[1]"));
  s = optim::ScheduleSettings{};
  s.kind = optim::ScheduleKind::Cosine;
  s.lr = 0.1;
  s.horizon = 0;
  REQUIRE_THROWS_WITH(optim::StepSchedule(s, "myopt"), Catch::Contains("horizon"));
  REQUIRE_THROWS_WITH(optim::parse_schedule_kind("linear", "myopt"), Catch::Contains("unknown schedule 'linear'"));
}

TEST_CASE("optimizer common: EMA and sum momentum and their Nesterov forms", "[optimizer_common]") {
  Matrix g(2, 3), m0(2, 3);
  g << 1.0, -2.0, 0.5, 4.0, 0.0, -0.125;
  m0 << 0.25, 0.5, -1.0, 2.0, 8.0, -3.0;
  const double beta = 0.75;

  Matrix ema = m0, nesterov(2, 3);
  optim::accumulate_momentum(optim::MomentumForm::Ema, beta, ema, g);
  const Matrix ema_expected = 0.75 * m0 + 0.25 * g;
  REQUIRE(ema == ema_expected);  // dyadic values: exact
  optim::nesterov_direction(optim::MomentumForm::Ema, beta, ema, g, nesterov);
  REQUIRE(nesterov == Matrix(0.25 * g + 0.75 * ema_expected));

  Matrix sum = m0;
  optim::accumulate_momentum(optim::MomentumForm::Sum, beta, sum, g);
  const Matrix sum_expected = 0.75 * m0 + g;
  REQUIRE(sum == sum_expected);
  optim::nesterov_direction(optim::MomentumForm::Sum, beta, sum, g, nesterov);
  REQUIRE(nesterov == Matrix(g + 0.75 * sum_expected));
}

TEST_CASE("optimizer common: shape scale factors", "[optimizer_common]") {
  using optim::ShapeScaling;
  REQUIRE(optim::shape_scale(ShapeScaling::None, 8, 2) == 1.0);
  REQUIRE(optim::shape_scale(ShapeScaling::Shape, 8, 2) == 2.0);
  REQUIRE(optim::shape_scale(ShapeScaling::Shape, 2, 8) == 1.0);
  REQUIRE(optim::shape_scale(ShapeScaling::Rms, 2, 100) == Approx(2.0).epsilon(1e-15));
  REQUIRE(optim::shape_scale(ShapeScaling::Spectral, 2, 8) == 0.5);
  REQUIRE(optim::parse_shape_scaling("rms", "p") == ShapeScaling::Rms);
  REQUIRE_THROWS_WITH(optim::parse_shape_scaling("other", "p"), Catch::Contains("unknown scaling"));
}

TEST_CASE("optimizer common: the shape check names the plugin and the block", "[optimizer_common]") {
  const std::vector<muonlab::BlockSpec> declared = {{"X", 2, 3, ""}};
  Matrix w = Matrix::Zero(3, 2), g = Matrix::Zero(3, 2);
  muonlab::MatrixView pv{w.data(), 3, 2};
  muonlab::MatrixView gv{g.data(), 3, 2};
  REQUIRE_THROWS_WITH(
      optim::check_block_shapes("myopt", declared, muonlab::Blocks(&pv, 1), muonlab::ConstBlocks(&gv, 1)),
      Catch::Contains("myopt") && Catch::Contains("'X'"));
  REQUIRE_THROWS_WITH(
      optim::check_block_shapes("myopt", declared, muonlab::Blocks(&pv, 0), muonlab::ConstBlocks(&gv, 0)),
      Catch::Contains("0 blocks"));
  muonlab::MatrixView pv_ok{w.data(), 2, 3};
  muonlab::MatrixView gv_ok{g.data(), 2, 3};
  REQUIRE_NOTHROW(
      optim::check_block_shapes("myopt", declared, muonlab::Blocks(&pv_ok, 1), muonlab::ConstBlocks(&gv_ok, 1)));
}

namespace {

// Arrays for an Adam block pass with the cases the vectorized path must keep: exact zeros in
// the gradient and the moments (so that m_hat = 0 and, with eps = 0, 0 / 0 would appear),
// negative zeros, and magnitudes over twelve decades.
struct AdamArrays {
  std::vector<double> w, g, m, v;
};

AdamArrays adam_arrays(std::size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(-1.0, 1.0), exponent(-12.0, 0.0);
  AdamArrays a;
  for (std::size_t i = 0; i < size; ++i) {
    const double scale = std::pow(10.0, exponent(rng));
    a.w.push_back(unit(rng));
    a.g.push_back(i % 5 == 0 ? 0.0 : (i % 11 == 0 ? -0.0 : scale * unit(rng)));
    a.m.push_back(i % 5 == 0 || i % 3 == 0 ? 0.0 : 0.1 * scale * unit(rng));
    a.v.push_back(i % 5 == 0 ? 0.0 : scale * scale * std::abs(unit(rng)));
  }
  return a;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// The oracle: element_step one element at a time, weight decay written out as in docs/algorithms.md.
void scalar_adam_pass(const optim::AdamMoments& moments, optim::WeightDecay decay, AdamArrays& a,
                      const optim::AdamStepScalars& s) {
  for (std::size_t i = 0; i < a.w.size(); ++i) {
    if (decay == optim::WeightDecay::Coupled) {
      const double g = a.g[i] + s.decay * a.w[i];
      a.w[i] -= moments.element_step(a.m[i], a.v[i], g, s.lr, s.correction);
    } else {
      const double step = moments.element_step(a.m[i], a.v[i], a.g[i], s.lr, s.correction);
      a.w[i] = a.w[i] * s.decay - step;
    }
  }
}

}  // namespace

TEST_CASE("optimizer common: the Adam block pass equals the scalar formula bit for bit", "[optimizer_common]") {
  for (const double eps : {0.0, 1e-8}) {
    for (const std::size_t size :
         {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{1000}, std::size_t{1001}}) {
      const optim::AdamMoments moments(0.9, 0.999, eps);
      optim::AdamStepScalars s;
      s.lr = 3e-3;
      s.correction = {1.0 - std::pow(0.9, 3.0), 1.0 - std::pow(0.999, 3.0)};
      for (const auto decay : {optim::WeightDecay::Coupled, optim::WeightDecay::Decoupled}) {
        s.decay = decay == optim::WeightDecay::Coupled ? 1e-2 : 1.0 - s.lr * 1e-2;
        CAPTURE(eps, size, decay == optim::WeightDecay::Coupled);
        AdamArrays expected = adam_arrays(size, 17 + static_cast<unsigned>(size));
        AdamArrays got = expected;
        scalar_adam_pass(moments, decay, expected, s);
        if (decay == optim::WeightDecay::Coupled) {
          moments.step_block<optim::WeightDecay::Coupled>(got.w.data(), got.g.data(), got.m.data(), got.v.data(),
                                                          static_cast<Eigen::Index>(size), s);
        } else {
          moments.step_block<optim::WeightDecay::Decoupled>(got.w.data(), got.g.data(), got.m.data(), got.v.data(),
                                                            static_cast<Eigen::Index>(size), s);
        }
        REQUIRE(same_bits(got.m, expected.m));
        REQUIRE(same_bits(got.v, expected.v));
        REQUIRE(same_bits(got.w, expected.w));
        // With eps = 0 the zero moments would give 0 / 0: the pass must leave those W finite.
        for (const double w : got.w) REQUIRE(std::isfinite(w));
      }
    }
  }
}
