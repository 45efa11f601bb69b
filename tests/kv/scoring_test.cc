// Tests of src/kv/scoring against shared/ARKV.md. Expected values come either
// from tests/kv/reference/scoring_ref.py (an independent NumPy float64
// implementation; its output is scoring_expected.inc) or are worked by hand.
#include "kv/scoring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace arkv::kv {
namespace {

#include "reference/scoring_expected.inc"

// Both sides compute in float64. Every compared value is a sum of at most a few
// hundred non-negative terms (or a product of powers of such sums), so a
// different summation order moves it by ~1e-14 relative; 1e-12 leaves margin
// while still catching any formula difference (those are >= 1e-6 here).
constexpr double kRelTol = 1e-12;

void ExpectClose(double actual, double expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, kRelTol * std::abs(expected)) << what;
}

void ExpectAllClose(std::span<const double> actual, std::span<const double> expected,
                    const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t k = 0; k < actual.size(); ++k) {
    ExpectClose(actual[k], expected[k], what + " [" + std::to_string(k) + "]");
  }
}

// A contiguous [heads][queries][keys] view.
template <typename T>
AttentionView<T> Dense(const std::vector<T>& a, size_t heads, size_t queries, size_t keys) {
  return {a.data(), heads, queries, keys, queries * keys, keys};
}

// The past-key slice of a reference prompt's window attention, stored [H][w][T].
AttentionView<double> PrefillPast(const double* attention) {
  const size_t w = ObservationWindow(kPrefillLen, kPrefillWindow);
  return {attention,       kPrefillHeads, w, ObservationPastKeys(kPrefillLen, kPrefillWindow),
          w * kPrefillLen, kPrefillLen};
}

std::string StatesToString(const std::vector<TokenState>& states) {
  std::string s;
  for (TokenState t : states) {
    s += t == TokenState::kOriginal ? 'O' : t == TokenState::kQuantized ? 'Q' : 'E';
  }
  return s;
}

// ---------------------------------------------------------------- windows

TEST(ObservationWindowTest, LongAndShortPrompts) {
  EXPECT_EQ(ObservationWindow(12, 4), 4u);
  EXPECT_EQ(ObservationPastKeys(12, 4), 8u);
  EXPECT_EQ(ObservationWindow(3, 4), 3u);
  EXPECT_EQ(ObservationPastKeys(3, 4), 0u);
  EXPECT_EQ(ObservationPastKeys(4, 4), 0u);
}

// ---------------------------------------------------------------- OQ score

TEST(OqScoreTest, MatchesNumpyReference) {
  const double* attention[] = {kPrefillAttention0, kPrefillAttention1, kPrefillAttention2};
  const double* expected[] = {kOq0, kOq1, kOq2};
  for (int l = 0; l < 3; ++l) {
    const OqScore oq = ComputeOqScore(PrefillPast(attention[l]));
    const std::string layer = "layer " + std::to_string(l);
    ExpectClose(oq.entropy, expected[l][0], layer + " entropy");
    ExpectClose(oq.variance, expected[l][1], layer + " variance");
    ExpectClose(oq.kurtosis, expected[l][2], layer + " kurtosis");
    ExpectClose(oq.score, expected[l][3], layer + " score");
  }
}

TEST(OqScoreTest, FloatInputMatchesDoubleInput) {
  // Round the reference input to float, then score the same values both ways.
  const size_t size = std::size(kPrefillAttention1);
  std::vector<float> as_float(kPrefillAttention1, kPrefillAttention1 + size);
  std::vector<double> widened(as_float.begin(), as_float.end());
  AttentionView<double> wide_view = PrefillPast(widened.data());
  AttentionView<float> float_view{as_float.data(),       wide_view.num_heads,
                                  wide_view.num_queries, wide_view.num_keys,
                                  wide_view.head_stride, wide_view.query_stride};
  const OqScore from_float = ComputeOqScore(float_view);
  const OqScore from_double = ComputeOqScore(wide_view);
  EXPECT_EQ(from_float.score, from_double.score);
  EXPECT_EQ(from_float.kurtosis, from_double.kurtosis);
  EXPECT_GT(from_float.score, 0);
}

TEST(OqScoreTest, FloatRowsInVectorsMatchDoubleInput) {
  // Enough keys for the vectorized float rows (and odd counts for their
  // tails): the moments must be the double path's bits, the entropy (summed
  // in lanes, Highway's log) equal to the last bits.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (const size_t keys : {size_t{16}, size_t{83}, size_t{517}}) {
    const size_t heads = 3, queries = 5;
    std::vector<float> as_float(heads * queries * keys);
    for (float& x : as_float) x = uniform(rng) * uniform(rng);
    as_float[keys + 2] = 0.0f;  // log(0 + eps) in a vector lane
    std::vector<double> widened(as_float.begin(), as_float.end());
    const AttentionView<float> float_view{as_float.data(), heads, queries, keys,
                                          queries * keys,  keys};
    const AttentionView<double> wide_view{widened.data(), heads,          queries,
                                          keys,           queries * keys, keys};
    const OqScore from_float = ComputeOqScore(float_view);
    const OqScore from_double = ComputeOqScore(wide_view);
    const std::string what = std::to_string(keys) + " keys";
    EXPECT_EQ(from_float.variance, from_double.variance) << what;
    EXPECT_EQ(from_float.kurtosis, from_double.kurtosis) << what;
    EXPECT_GT(from_double.entropy, 1.0) << what;
    EXPECT_NEAR(from_float.entropy, from_double.entropy, 1e-13 * from_double.entropy) << what;

    std::vector<double> hh_float(keys), hh_double(keys);
    ComputePrefillHeavyHitter(float_view, 1, std::span<double>(hh_float), 0.5, 1);
    ComputePrefillHeavyHitter(wide_view, 1, std::span<double>(hh_double), 0.5, 1);
    EXPECT_EQ(hh_float, hh_double) << what;
  }
}

TEST(OqScoreTest, TwoQueriesOneKeyByHand) {
  // Queries 0.2 and 0.6: mean 0.4, unbiased variance (0.04 + 0.04) / 1 = 0.08,
  // m2 = 0.04, m4 = 0.0016, Pearson kurtosis 0.0016 / 0.04^2 = 1.
  const std::vector<double> a = {0.2, 0.6};
  const OqScore oq = ComputeOqScore(Dense(a, 1, 2, 1));
  const double entropy = -(0.2 * std::log(0.2 + 1e-10) + 0.6 * std::log(0.6 + 1e-10));
  ExpectClose(oq.entropy, entropy, "entropy");
  ExpectClose(oq.variance, 0.08, "variance");
  ExpectClose(oq.kurtosis, 1.0, "kurtosis");
  ExpectClose(oq.score, std::pow(entropy, 1 / kDefaultTau1) * std::pow(0.08, 1 / kDefaultTau2),
              "score");
}

TEST(OqScoreTest, CustomTemperatures) {
  const std::vector<double> a = {0.2, 0.6};
  const OqScore oq = ComputeOqScore(Dense(a, 1, 2, 1), {1.0, 1.0, 1.0});
  ExpectClose(oq.score, oq.entropy * 0.08 * 1.0, "score with tau = 1");
}

TEST(OqScoreTest, QueriesThatAgreeHaveNoVarianceOrKurtosis) {
  // Two heads, three queries, four past keys; every query row the same.
  std::vector<double> a;
  for (int h = 0; h < 2; ++h) {
    for (int i = 0; i < 3; ++i) {
      a.insert(a.end(), {0.1, 0.2, 0.3, 0.25});
    }
  }
  const OqScore oq = ComputeOqScore(Dense(a, 2, 3, 4));
  EXPECT_EQ(oq.variance, 0.0);
  EXPECT_EQ(oq.kurtosis, 0.0);  // m4 = 0 over the floored m2
  EXPECT_EQ(oq.score, 0.0);
  double row_entropy = 0;
  for (double p : {0.1, 0.2, 0.3, 0.25}) {
    row_entropy -= p * std::log(p + 1e-10);
  }
  ExpectClose(oq.entropy, 6 * row_entropy, "entropy");
}

TEST(OqScoreTest, KurtosisFloorsTheSecondMoment) {
  // Deviations +-1e-5: m2 = 1e-10 is floored to 1e-8, m4 = 1e-20, so the
  // kurtosis is 1e-20 / 1e-16 = 1e-4 (unfloored it would be 1).
  const std::vector<double> a = {0.5 - 1e-5, 0.5 + 1e-5};
  const OqScore oq = ComputeOqScore(Dense(a, 1, 2, 1));
  EXPECT_NEAR(oq.kurtosis, 1e-4, 1e-4 * 1e-9);  // inputs are not exact in binary
  EXPECT_NEAR(oq.variance, 2e-10, 2e-10 * 1e-6);
}

TEST(OqScoreTest, SingleQueryScoresZero) {
  // w == 1: the unbiased variance is undefined; defined here as 0.
  const std::vector<double> a = {0.1, 0.5, 0.4};
  const OqScore oq = ComputeOqScore(Dense(a, 1, 1, 3));
  EXPECT_EQ(oq.variance, 0.0);
  EXPECT_EQ(oq.kurtosis, 0.0);
  EXPECT_EQ(oq.score, 0.0);
  EXPECT_GT(oq.entropy, 0.0);
}

TEST(OqScoreTest, NoPastKeysScoresZero) {
  const AttentionView<float> empty{nullptr, 4, 3, 0, 0, 0};
  const OqScore oq = ComputeOqScore(empty);
  EXPECT_EQ(oq.entropy, 0.0);
  EXPECT_EQ(oq.variance, 0.0);
  EXPECT_EQ(oq.kurtosis, 0.0);
  EXPECT_EQ(oq.score, 0.0);
}

TEST(OqScoreTest, AllZeroAttentionScoresZero) {
  const std::vector<double> a(size_t{2} * 3 * 4, 0.0);
  const OqScore oq = ComputeOqScore(Dense(a, 2, 3, 4));
  EXPECT_EQ(oq.entropy, 0.0);
  EXPECT_EQ(oq.score, 0.0);
}

TEST(OqScoreTest, OneHotRowsGiveZeroNotNan) {
  // Entropy is -2 * log(1 + 1e-10) ~ -2e-10 because of the epsilon.
  const std::vector<double> a = {1.0, 0.0, 0.0, 1.0};
  const OqScore oq = ComputeOqScore(Dense(a, 1, 2, 2));
  EXPECT_LT(oq.entropy, 0.0);
  EXPECT_GT(oq.entropy, -1e-9);
  EXPECT_EQ(oq.score, 0.0);
}

TEST(OqScoreTest, RejectsBadArguments) {
  const std::vector<double> a(12, 0.1);
  EXPECT_THROW(ComputeOqScore(AttentionView<double>{nullptr, 1, 2, 3, 6, 3}), Error);
  EXPECT_THROW(ComputeOqScore(AttentionView<double>{a.data(), 1, 2, 3, 6, 2}),
               Error);  // rows overlap
  EXPECT_THROW(ComputeOqScore(AttentionView<double>{a.data(), 2, 2, 3, 5, 3}),
               Error);  // heads overlap
  EXPECT_THROW(ComputeOqScore(Dense(a, 2, 2, 3), {0.0, 1.0, 1.0}), Error);
  EXPECT_THROW(ComputeOqScore(Dense(a, 2, 2, 3), {1.0, -1.0, 1.0}), Error);
  EXPECT_THROW(ComputeOqScore(Dense(a, 2, 2, 3), {1.0, 1.0, std::nan("")}), Error);
}

// ---------------------------------------------------------------- budgets

TEST(OriginalBudgetTest, MatchesNumpyReference) {
  const std::vector<double> oq = {kOq0[3], kOq1[3], kOq2[3]};
  const double* ratios[] = {kRatiosC10, kRatiosC7};
  const double* budgets[] = {kBudgetsC10, kBudgetsC7};
  const size_t caches[] = {10, 7};
  for (int c = 0; c < 2; ++c) {
    const auto result = ComputeOriginalBudgets(oq, caches[c], kPrefillWindow, kPrefillLen);
    ASSERT_EQ(result.size(), 3u);
    for (size_t l = 0; l < 3; ++l) {
      ExpectClose(result[l].ratio, ratios[c][l], "ratio");
      ExpectClose(result[l].quant_ratio, 1 - ratios[c][l], "quant ratio");
      EXPECT_EQ(static_cast<double>(result[l].original_budget), budgets[c][l]) << "C " << caches[c];
    }
  }
}

TEST(OriginalBudgetTest, RatiosAndHalfToEvenRounding) {
  const std::vector<double> oq = {4, 2, 1};
  // C - W = 6: 6, 3, round(1.5) = 2.
  auto b = ComputeOriginalBudgets(oq, 8, 2, 100);
  EXPECT_EQ(b[0].original_budget, 6u);
  EXPECT_EQ(b[1].original_budget, 3u);
  EXPECT_EQ(b[2].original_budget, 2u);
  EXPECT_EQ(b[1].ratio, 0.5);
  EXPECT_EQ(b[2].quant_ratio, 0.75);
  // C - W = 10: 10, 5, round(2.5) = 2 (Python rounds half to even).
  b = ComputeOriginalBudgets(oq, 12, 2, 100);
  EXPECT_EQ(b[0].original_budget, 10u);
  EXPECT_EQ(b[1].original_budget, 5u);
  EXPECT_EQ(b[2].original_budget, 2u);
}

TEST(OriginalBudgetTest, ClippedByPromptLength) {
  const std::vector<double> oq = {4, 2, 1};
  // T - W = 4 < C - W = 10: 10 -> 4, 5 -> 4, 2.
  auto b = ComputeOriginalBudgets(oq, 12, 2, 6);
  EXPECT_EQ(b[0].original_budget, 4u);
  EXPECT_EQ(b[1].original_budget, 4u);
  EXPECT_EQ(b[2].original_budget, 2u);
  // A prompt shorter than the window has no past at all.
  b = ComputeOriginalBudgets(oq, 12, 8, 5);
  for (const auto& layer : b) {
    EXPECT_EQ(layer.original_budget, 0u);
  }
  // C == W leaves nothing for the past.
  b = ComputeOriginalBudgets(oq, 8, 8, 100);
  for (const auto& layer : b) {
    EXPECT_EQ(layer.original_budget, 0u);
  }
}

TEST(OriginalBudgetTest, AllZeroScoresKeepEverythingOriginal) {
  const std::vector<double> oq = {0, 0};
  for (const auto& layer : ComputeOriginalBudgets(oq, 10, 2, 100)) {
    EXPECT_EQ(layer.ratio, 1.0);
    EXPECT_EQ(layer.quant_ratio, 0.0);
    EXPECT_EQ(layer.original_budget, 8u);
  }
}

TEST(OriginalBudgetTest, NonFiniteScoreKeepsThatLayerOriginal) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> oq = {std::nan(""), 2, 1, inf};
  const auto b = ComputeOriginalBudgets(oq, 10, 2, 100);
  EXPECT_EQ(b[0].ratio, 1.0);
  EXPECT_EQ(b[0].original_budget, 8u);
  EXPECT_EQ(b[1].ratio, 1.0);  // the maximum is over the finite scores
  EXPECT_EQ(b[2].ratio, 0.5);
  EXPECT_EQ(b[2].original_budget, 4u);
  EXPECT_EQ(b[3].ratio, 1.0);
}

TEST(OriginalBudgetTest, RejectsBadArguments) {
  const std::vector<double> oq = {1, -0.5};
  EXPECT_THROW(ComputeOriginalBudgets(oq, 10, 2, 100), Error);
  const std::vector<double> ok = {1, 0.5};
  EXPECT_THROW(ComputeOriginalBudgets(ok, 4, 8, 100), Error);
  EXPECT_TRUE(ComputeOriginalBudgets({}, 10, 2, 100).empty());
}

// ---------------------------------------------------------------- pooling

TEST(AveragePoolTest, ZeroPaddingCountsAtTheBorders) {
  const std::vector<double> in = {1, 2, 3, 4, 5, 6};
  std::vector<double> out(6);
  AveragePool1d(in, 5, out);
  // (0+0+1+2+3)/5, (0+1+2+3+4)/5, 15/5, 20/5, (3+4+5+6+0)/5, (4+5+6+0+0)/5
  const std::vector<double> expected = {1.2, 2.0, 3.0, 4.0, 3.6, 3.0};
  ExpectAllClose(out, expected, "kernel 5");
}

TEST(AveragePoolTest, OtherKernels) {
  const std::vector<double> in = {3, 6, 9};
  std::vector<double> out(3);
  AveragePool1d(in, 1, out);
  EXPECT_EQ(out, in);
  AveragePool1d(in, 3, out);
  ExpectAllClose(out, std::vector<double>{3, 6, 5}, "kernel 3");
  AveragePool1d(in, 7, out);  // wider than the input: every tap in range, / 7
  ExpectAllClose(out, std::vector<double>{18.0 / 7, 18.0 / 7, 18.0 / 7}, "kernel 7");
  std::vector<double> none;
  AveragePool1d(none, 5, none);
}

TEST(AveragePoolTest, RejectsBadArguments) {
  std::vector<double> in = {1, 2, 3};
  std::vector<double> out(3);
  EXPECT_THROW(AveragePool1d(in, 4, out), Error);
  EXPECT_THROW(AveragePool1d(in, 0, out), Error);
  EXPECT_THROW(AveragePool1d(in, 3, std::span<double>(out).first(2)), Error);
  EXPECT_THROW(AveragePool1d(in, 3, in), Error);
}

// ---------------------------------------------------------------- heavy hitters

TEST(HeavyHitterTest, PrefillMatchesNumpyReference) {
  std::vector<double> out(kPrefillKvHeads * ObservationPastKeys(kPrefillLen, kPrefillWindow));
  ComputePrefillHeavyHitter(PrefillPast(kPrefillAttention1), kPrefillKvHeads, out);
  ExpectAllClose(out, kHeavyHitterDefault, "default gamma, kernel 5");
  ComputePrefillHeavyHitter(PrefillPast(kPrefillAttention2), kPrefillKvHeads, out, 2.0, 3);
  ExpectAllClose(out, kHeavyHitterGamma2Kernel3, "gamma 2, kernel 3");
}

TEST(HeavyHitterTest, PrefillByHand) {
  // Head 0 varies over the queries, head 1 does not; both in KV head 0.
  const std::vector<double> a = {0.1, 0.2, 0.3, 0.3, 0.2, 0.1,   // head 0
                                 0.2, 0.2, 0.2, 0.2, 0.2, 0.2};  // head 1
  // s0 = 0.2 + 10 * [0.02, 0, 0.02] = [0.4, 0.2, 0.4]; s1 = 0.2; mean [0.3, 0.2, 0.3].
  std::vector<double> out(3);
  ComputePrefillHeavyHitter(Dense(a, 2, 2, 3), 1, out, 10.0, 1);
  ExpectAllClose(out, std::vector<double>{0.3, 0.2, 0.3}, "kernel 1");
  ComputePrefillHeavyHitter(Dense(a, 2, 2, 3), 1, out, 10.0, 3);
  ExpectAllClose(out, std::vector<double>{0.5 / 3, 0.8 / 3, 0.5 / 3}, "kernel 3");
}

TEST(HeavyHitterTest, PrefillSingleQueryHasNoVarianceTerm) {
  const std::vector<double> a = {0.1, 0.7, 0.2};
  std::vector<double> out(3);
  ComputePrefillHeavyHitter(Dense(a, 1, 1, 3), 1, out, 1e6, 1);
  ExpectAllClose(out, a, "mean only");
}

TEST(HeavyHitterTest, QueryHeadsGroupByDivision) {
  // 4 query heads, 2 KV heads: heads 0, 1 -> KV 0 and heads 2, 3 -> KV 1
  // (h / G), not the interleaved h % Hkv.
  const std::vector<double> a = {1, 3, 10, 30};  // one query, one key per head
  std::vector<double> out(2);
  ComputePrefillHeavyHitter(Dense(a, 4, 1, 1), 2, out, 0.0, 1);
  ExpectAllClose(out, std::vector<double>{2, 20}, "groups");
}

TEST(HeavyHitterTest, DecodeMatchesNumpyReference) {
  const size_t n = 14, window = 4, heads = 4, kv_heads = 2;
  std::vector<double> out(kv_heads * (n - window));
  ComputeDecodeHeavyHitter(kDecodeProbs, heads, n, n - window, kv_heads, out);
  ExpectAllClose(out, kDecodeHeavyHitter, "decode");
}

TEST(HeavyHitterTest, DecodeIgnoresTheWindowByHand) {
  // Two heads, 3 past tokens then a window of 2 with large values that must
  // not leak into the pooled scores.
  const std::vector<float> probs = {0.1f, 0.2f, 0.3f, 100, 100,  //
                                    0.3f, 0.2f, 0.1f, 100, 100};
  std::vector<double> out(3);
  ComputeDecodeHeavyHitter(probs.data(), 2, 5, 3, 1, out, 3);
  // Group mean [0.2, 0.2, 0.2] (in float), pooled with kernel 3.
  const double m0 = (double{0.1f} + double{0.3f}) / 2;
  const double m1 = double{0.2f};
  ExpectAllClose(out, std::vector<double>{(m0 + m1) / 3, (2 * m0 + m1) / 3, (m0 + m1) / 3},
                 "kernel 3");
}

TEST(HeavyHitterTest, RejectsBadArguments) {
  const std::vector<double> a(12, 0.1);
  std::vector<double> out(6);
  EXPECT_THROW(ComputePrefillHeavyHitter(Dense(a, 3, 1, 4), 2, out), Error);  // 3 heads, 2 groups
  EXPECT_THROW(ComputePrefillHeavyHitter(Dense(a, 2, 2, 3), 0, out), Error);
  EXPECT_THROW(ComputePrefillHeavyHitter(Dense(a, 2, 2, 3), 1, out), Error);  // out size 6 != 3
  EXPECT_THROW(ComputePrefillHeavyHitter(Dense(a, 2, 2, 3), 2, out, 1.0, 2), Error);
  EXPECT_THROW(ComputePrefillHeavyHitter(Dense(a, 2, 2, 3), 2, out, std::nan("")), Error);
  EXPECT_THROW(ComputeDecodeHeavyHitter(a.data(), 2, 2, 3, 2, out), Error);  // heads overlap
  EXPECT_THROW(ComputeDecodeHeavyHitter<double>(nullptr, 2, 3, 3, 2, out), Error);
}

// ---------------------------------------------------------------- selection

// The one-pass OQ and heavy-hitter scores equal the two separate calls bit
// for bit, for float and double views, 1 and 2 KV heads, one query (no
// variance term) and several, odd key counts.
template <typename T>
void CheckOneScorePass(size_t num_kv_heads, size_t queries, size_t keys, std::mt19937& rng) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const size_t heads = 2 * num_kv_heads;
  std::vector<T> a(heads * queries * keys);
  for (T& x : a) x = static_cast<T>(uniform(rng) * uniform(rng));
  const AttentionView<T> view{a.data(), heads, queries, keys, queries * keys, keys};
  const OqTemperatures taus{0.7, 1.3, 2.0};
  std::vector<double> separate(num_kv_heads * keys, -1.0), one_pass(num_kv_heads * keys, -2.0);
  const OqScore oq = ComputeOqScore(view, taus);
  ComputePrefillHeavyHitter(view, num_kv_heads, std::span<double>(separate), 0.4, 3);
  const OqScore both = ComputeOqScoreAndPrefillHeavyHitter(view, taus, num_kv_heads,
                                                           std::span<double>(one_pass), 0.4, 3);
  const std::string what = std::to_string(num_kv_heads) + " KV heads, " + std::to_string(queries) +
                           " queries, " + std::to_string(keys) + " keys";
  EXPECT_GT(oq.entropy, 0.0) << what;
  if (queries > 1) {  // one query has no spread
    EXPECT_GT(oq.kurtosis, 0.0) << what;
  }
  EXPECT_EQ(both.entropy, oq.entropy) << what;
  EXPECT_EQ(both.variance, oq.variance) << what;
  EXPECT_EQ(both.kurtosis, oq.kurtosis) << what;
  EXPECT_EQ(both.score, oq.score) << what;
  EXPECT_EQ(one_pass, separate) << what;
}

TEST(OqScoreTest, OnePassWithTheHeavyHitterMatchesTheSeparateCalls) {
  std::mt19937 rng(23);
  for (size_t kv : {1, 2}) {
    for (size_t queries : {1, 6}) {
      for (size_t keys : {1, 37, 130}) {
        CheckOneScorePass<float>(kv, queries, keys, rng);
        CheckOneScorePass<double>(kv, queries, keys, rng);
      }
    }
  }
  // No keys: both give nothing; a bad temperature is refused as by ComputeOqScore.
  const AttentionView<float> empty{nullptr, 4, 3, 0, 0, 0};
  const OqScore none = ComputeOqScoreAndPrefillHeavyHitter(empty, {}, 1, std::span<double>());
  EXPECT_EQ(none.score, 0.0);
  EXPECT_EQ(none.entropy, 0.0);
  std::vector<float> a(8, 0.25f);
  std::vector<double> out(4);
  EXPECT_THROW(ComputeOqScoreAndPrefillHeavyHitter(AttentionView<float>{a.data(), 1, 2, 4, 8, 4},
                                                   {0.0, 1.0, 1.0}, 1, std::span<double>(out)),
               Error);
}

using Split = std::pair<std::vector<size_t>, std::vector<size_t>>;

// TopKSplit(s, k, split) as two sorted classes: the best `split`, then the
// rest of the best k.
Split Classes(const std::vector<double>& s, size_t k, size_t split) {
  std::vector<size_t> top = TopKSplit(s, k, split);
  EXPECT_EQ(top.size(), k);
  std::vector<size_t> best(top.begin(), top.begin() + static_cast<ptrdiff_t>(split));
  std::vector<size_t> rest(top.begin() + static_cast<ptrdiff_t>(split), top.end());
  std::sort(best.begin(), best.end());
  std::sort(rest.begin(), rest.end());
  return {best, rest};
}

TEST(TopKTest, BestFirstTiesToLowerIndex) {
  const std::vector<double> s = {0.5, 0.9, 0.5, 0.9, 0.1};
  EXPECT_EQ(Classes(s, 3, 2), (Split{{1, 3}, {0}}));
  EXPECT_EQ(Classes(s, 3, 1), (Split{{1}, {0, 3}}));     // 1 before 3: the lower index
  EXPECT_EQ(Classes(s, 4, 3), (Split{{0, 1, 3}, {2}}));  // 0 before 2
  EXPECT_EQ(Classes(s, 5, 4), (Split{{0, 1, 2, 3}, {4}}));
  EXPECT_EQ(Classes(s, 0, 0), (Split{{}, {}}));
}

TEST(TopKTest, NanRanksLast) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> s = {std::nan(""), -inf, 0.0, std::nan(""), 2.0};
  EXPECT_EQ(Classes(s, 3, 1), (Split{{4}, {1, 2}}));  // -inf above NaN
  EXPECT_EQ(Classes(s, 5, 3), (Split{{1, 2, 4}, {0, 3}}));
  EXPECT_EQ(Classes(s, 4, 3), (Split{{1, 2, 4}, {0}}));  // NaNs tie: the lower index
}

TEST(TopKTest, RejectsKLargerThanInput) {
  const std::vector<double> s = {1, 2};
  EXPECT_THROW(TopKSplit(s, 3, 0), Error);
}

// TopKSplit: the same sets as a full sort on (NaN last, higher score, lower
// index), the best `split` first, over random scores with ties and NaNs.
TEST(TopKTest, SplitSelectsTheSameClassesAsASort) {
  const std::vector<double> hand = {0.5, 0.9, 0.5, 0.9, 0.1};
  std::vector<size_t> got = TopKSplit(hand, 3, 1);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], 1u);
  std::sort(got.begin() + 1, got.end());
  EXPECT_EQ(got, (std::vector<size_t>{1, 0, 3}));
  std::mt19937 rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = std::uniform_int_distribution<size_t>(0, 40)(rng);
    std::vector<double> s(n);
    for (double& x : s) {
      const int r = std::uniform_int_distribution<int>(0, 9)(rng);
      x = r == 0 ? std::nan("") : static_cast<double>(r % 4);  // many ties
    }
    std::vector<size_t> sorted(n);
    for (size_t i = 0; i < n; ++i) sorted[i] = i;
    std::sort(sorted.begin(), sorted.end(), [&](size_t a, size_t b) {
      const bool na = std::isnan(s[a]), nb = std::isnan(s[b]);
      if (na != nb) return nb;
      if (!na && s[a] != s[b]) return s[a] > s[b];
      return a < b;
    });
    const size_t k = std::uniform_int_distribution<size_t>(0, n)(rng);
    const size_t split = std::uniform_int_distribution<size_t>(0, k)(rng);
    std::vector<size_t> top = TopKSplit(s, k, split);
    ASSERT_EQ(top.size(), k);
    std::sort(top.begin(), top.begin() + static_cast<ptrdiff_t>(split));
    std::sort(top.begin() + static_cast<ptrdiff_t>(split), top.end());
    std::vector<size_t> want(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(k));
    std::sort(want.begin(), want.begin() + static_cast<ptrdiff_t>(split));
    std::sort(want.begin() + static_cast<ptrdiff_t>(split), want.end());
    EXPECT_EQ(top, want) << "n " << n << " k " << k << " split " << split;
  }
  EXPECT_THROW(TopKSplit(hand, 6, 0), Error);
  EXPECT_THROW(TopKSplit(hand, 2, 3), Error);
}

TEST(DecodeSplitTest, Counts) {
  // n = 14, W = 4: past 10, keep floor(7.5) = 7, o = clip(9 - 4, 0, 7) = 5.
  DecodeSplit s = ComputeDecodeSplit(14, 4, 9);
  EXPECT_EQ(s.past, 10u);
  EXPECT_EQ(s.keep, 7u);
  EXPECT_EQ(s.original, 5u);
  EXPECT_EQ(s.quantized, 2u);
  EXPECT_EQ(s.evicted, 3u);
  // A budget within the window leaves no Original past token.
  s = ComputeDecodeSplit(14, 4, 3);
  EXPECT_EQ(s.original, 0u);
  EXPECT_EQ(s.quantized, 7u);
  // A large budget is capped by keep.
  s = ComputeDecodeSplit(14, 4, 100);
  EXPECT_EQ(s.original, 7u);
  EXPECT_EQ(s.quantized, 0u);
  // Keeping everything evicts nothing.
  s = ComputeDecodeSplit(14, 4, 9, 1.0);
  EXPECT_EQ(s.keep, 10u);
  EXPECT_EQ(s.evicted, 0u);
}

TEST(DecodeSplitTest, StatesByHand) {
  // Ranking: 1 (0.9), 7 (0.8), 5 (0.7), 2 (0.5), 3 (0.5, tie -> after 2), 4, 6, 0.
  // past 8, keep 6, o = 5 - 2 = 3: O = {1, 7, 5}, Q = {2, 3, 4}, E = {6, 0}.
  const std::vector<double> scores = {0.1, 0.9, 0.5, 0.5, 0.3, 0.7, 0.2, 0.8};
  EXPECT_EQ(StatesToString(SplitDecodeStates(scores, 2, 5)), "EOQQQOEOOO");
}

TEST(DecodeSplitTest, StatesMatchNumpyReference) {
  const size_t past = 10;
  const std::span<const double> hh(kDecodeHeavyHitter);
  EXPECT_EQ(StatesToString(SplitDecodeStates(hh.subspan(0, past), 4, 9)), kDecodeStatesKv0);
  EXPECT_EQ(StatesToString(SplitDecodeStates(hh.subspan(past, past), 4, 9)), kDecodeStatesKv1);
}

TEST(DecodeSplitTest, OnlyTheWindow) {
  EXPECT_EQ(StatesToString(SplitDecodeStates({}, 3, 10)), "OOO");
}

TEST(DecodeSplitTest, RejectsBadArguments) {
  EXPECT_THROW(ComputeDecodeSplit(3, 4, 9), Error);
  EXPECT_THROW(ComputeDecodeSplit(14, 4, 9, 1.5), Error);
  EXPECT_THROW(ComputeDecodeSplit(14, 4, 9, -0.1), Error);
  EXPECT_THROW(ComputeDecodeSplit(14, 4, 9, std::nan("")), Error);
}

}  // namespace
}  // namespace arkv::kv
