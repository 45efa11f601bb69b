// The reference's edge cases (golden/arkv-ref/README.md, section 6), each
// checked through the cache with counts worked out by hand: a prompt of
// T <= W tokens, a 1-token prompt, --prefill-chunk 1, layers whose observation
// probabilities are all 0 or 1, and budgets C <= 2W.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_cache.h"
#include "core/thread_pool.h"
#include "kv/scoring.h"
#include "test_util.h"

namespace arkv::kv {
namespace {

using testing::RandomVector;

constexpr CacheShape kShape{3, 4, 2, 16};
constexpr int kHeads = 2;  // KV heads

// Fills q, k, v of one layer for the tokens at `pos` of a batch.
using Gen = std::function<void(int layer, const std::vector<int32_t>& pos, std::vector<float>& q,
                               std::vector<float>& k)>;

struct Feeder {
  SequenceCache& cache;
  Gen gen;
  ThreadPool threads{2};
  std::mt19937 rng{11};
  int32_t next = 0;

  void Batch(int n, BatchKind kind) {
    const int d = kShape.head_dim;
    std::vector<int32_t> pos(n);
    for (int t = 0; t < n; ++t) pos[t] = next++;
    for (int l = 0; l < kShape.n_layers; ++l) {
      std::vector<float> q(static_cast<size_t>(n) * kShape.n_heads * d);
      std::vector<float> k(static_cast<size_t>(n) * kShape.n_kv_heads * d);
      gen(l, pos, q, k);
      const std::vector<float> v = RandomVector(k.size(), rng);
      std::vector<float> out(q.size());
      cache.Attend(l, q.data(), k.data(), v.data(), pos.data(), n, 0.25f, out.data(), threads);
      for (float x : out) ASSERT_TRUE(std::isfinite(x));
    }
    cache.EndBatch(kind);
  }
  void Prompt(int n, int chunk) {
    for (int done = 0; done < n; done += chunk) {
      const int m = std::min(chunk, n - done);
      Batch(m, done + m == n ? BatchKind::kPromptEnd : BatchKind::kPromptChunk);
    }
  }
};

Gen RandomGen(uint32_t seed) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return [rng](int, const std::vector<int32_t>&, std::vector<float>& q, std::vector<float>& k) {
    q = RandomVector(q.size(), *rng, -2, 2);
    k = RandomVector(k.size(), *rng, -2, 2);
  };
}

CacheConfig Arkv(int64_t c, int w) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.budget = Budget::Tokens(c);
  config.window = w;
  return config;
}

// T <= W: the whole prompt is the observation window, every OQ score is 0,
// and the reference's budgets fall back to C - W, then are clipped to
// max(T - W, 0) = 0. With C = 128, W = 32 the first decode compression comes
// at n = 129: past 97, keep floor(0.75 * 97) = 72, o = clip(0 - 32, 0, 72) =
// 0, so 72 Quantized and the 32 window tokens Original per KV head. (Without
// the clip the budget would be 96 and o = 64: only 8 Quantized.)
void ExpectShortPromptDecode(int prompt_tokens) {
  auto cache = CreateSequenceCache(kShape, Arkv(128, 32));
  Feeder feed{*cache, RandomGen(3)};
  feed.Prompt(prompt_tokens, prompt_tokens);
  for (const LayerStats& ls : cache->Stats().layers) {
    EXPECT_EQ(ls.oq_ratio, 1.0) << "all scores 0: every ratio falls back to 1";
  }
  while (feed.next < 128) feed.Batch(1, BatchKind::kDecode);
  EXPECT_EQ(cache->Stats().quantized_tokens, 0) << "no compression up to C";
  feed.Batch(1, BatchKind::kDecode);  // n = 129
  for (const LayerStats& ls : cache->Stats().layers) {
    EXPECT_EQ(ls.quantized_tokens, 72 * kHeads);
    EXPECT_EQ(ls.original_tokens, 32 * kHeads);
  }
}

TEST(EdgeCases, PromptNoLongerThanTheWindowGetsOriginalBudgetZero) {
  ExpectShortPromptDecode(20);
  ExpectShortPromptDecode(32);
}

TEST(EdgeCases, OneTokenPromptGetsOriginalBudgetZero) { ExpectShortPromptDecode(1); }

// --prefill-chunk 1: every prompt batch has one observation query, whose OQ
// score is 0, so every ratio is 1 and every Original budget min(C - W, T -
// W) = min(32, 84) = 32 (C = 48, W = 16, T = 100). Each 1-token chunk over C
// evicts one past token: 48 tokens, all Original, the window among them. The
// first decode step (n = 49): past 33, keep 24, o = clip(32 - 16, 0, 24) =
// 16: 8 Quantized, 16 + 16 Original.
TEST(EdgeCases, PrefillChunkOfOneToken) {
  auto cache = CreateSequenceCache(kShape, Arkv(48, 16));
  Feeder feed{*cache, RandomGen(5)};
  feed.Prompt(100, 1);
  for (int l = 0; l < kShape.n_layers; ++l) {
    const LayerStats ls = cache->Stats().layers[l];
    EXPECT_EQ(ls.oq_ratio, 1.0);
    EXPECT_EQ(ls.original_tokens, 48 * kHeads);
    EXPECT_EQ(ls.quantized_tokens, 0);
    for (int h = 0; h < kHeads; ++h) {
      const auto tokens = cache->Tokens(l, h);
      ASSERT_EQ(tokens.size(), 48u);
      for (int i = 0; i < 16; ++i) EXPECT_EQ(tokens[48 - 16 + i].position, 100 - 16 + i);
    }
  }
  feed.Batch(1, BatchKind::kDecode);
  for (const LayerStats& ls : cache->Stats().layers) {
    EXPECT_EQ(ls.quantized_tokens, 8 * kHeads);
    EXPECT_EQ(ls.original_tokens, 32 * kHeads);
  }
}

// Layer 0: every observation query attends to past token 5 alone
// (probability 1, all else 0: logit 250 against 0). Layer 1: the observation
// queries attend to the window alone (every past probability 0). Layer 2:
// random. Layers 0 and 1 have no spread over the queries, so their OQ score
// is 0 (one-hot rows give an entropy of about -1e-10, which must count as 0,
// not turn the score NaN): ratios 0, 0, 1. C = 48, W = 8, T = 100: the first
// decode compression (n = 49: past 41, keep 30) keeps o = 0 Original past
// tokens in layers 0 and 1 (budget 0) and o = clip(40 - 8, 0, 30) = 30 in
// layer 2: 30, 30 and 0 Quantized per KV head.
TEST(EdgeCases, ObservationProbabilitiesAllZeroOrAllOneScoreZeroNotNaN) {
  const int d = kShape.head_dim;
  const int prompt = 100, window = 8;
  auto rng = std::make_shared<std::mt19937>(9);
  Gen gen = [=](int layer, const std::vector<int32_t>& pos, std::vector<float>& q,
                std::vector<float>& k) {
    q = RandomVector(q.size(), *rng, -2, 2);
    k = RandomVector(k.size(), *rng, -2, 2);
    if (layer == 2) return;
    std::fill(q.begin(), q.end(), 0.0f);
    std::fill(k.begin(), k.end(), 0.0f);
    for (size_t t = 0; t < pos.size(); ++t) {
      for (int h = 0; h < kShape.n_heads; ++h) q[(t * kShape.n_heads + h) * d] = 100.0f;
      const bool heavy = layer == 0 ? pos[t] == 5 : pos[t] >= prompt - window;
      if (!heavy) continue;
      for (int h = 0; h < kShape.n_kv_heads; ++h) k[(t * kShape.n_kv_heads + h) * d] = 10.0f;
    }
  };
  auto cache = CreateSequenceCache(kShape, Arkv(48, window));
  Feeder feed{*cache, gen};
  feed.Prompt(prompt, prompt);
  const CacheStats st = cache->Stats();
  for (const LayerStats& ls : st.layers) ASSERT_TRUE(std::isfinite(ls.oq_ratio));
  EXPECT_EQ(st.layers[0].oq_ratio, 0.0);
  EXPECT_EQ(st.layers[1].oq_ratio, 0.0);
  EXPECT_EQ(st.layers[2].oq_ratio, 1.0);
  feed.Batch(1, BatchKind::kDecode);
  const CacheStats after = cache->Stats();
  EXPECT_EQ(after.layers[0].quantized_tokens, 30 * kHeads);
  EXPECT_EQ(after.layers[1].quantized_tokens, 30 * kHeads);
  EXPECT_EQ(after.layers[2].quantized_tokens, 0);
}

// The same degenerate attention straight through the scorers.
TEST(EdgeCases, OneHotAndZeroAttentionScoreZeroInEveryScorer) {
  // 2 heads, 3 queries, 4 keys: one-hot on key 1; then all zeros.
  std::vector<float> one_hot(2 * 3 * 4, 0.0f), zeros(2 * 3 * 4, 0.0f);
  for (int r = 0; r < 6; ++r) one_hot[r * 4 + 1] = 1.0f;
  for (const std::vector<float>* a : {&one_hot, &zeros}) {
    const AttentionView<float> view{a->data(), 2, 3, 4, 12, 4};
    const OqScore per_head = ComputeOqScore(view);
    EXPECT_EQ(per_head.score, 0.0);
    const OqScore heads[2] = {per_head, per_head};
    const OqScore summed = SumOqScores(heads, OqTemperatures{});
    EXPECT_EQ(summed.score, 0.0) << "entropy " << summed.entropy;
  }
  const std::vector<double> scores{0.0, 0.0, 2.5};
  for (const LayerBudget& b : ComputeOriginalBudgets(scores, 48, 8, 100)) {
    ASSERT_TRUE(std::isfinite(b.ratio));
  }
}

// C <= 2W: the decode Original budget subtracts W a second time, so with
// Original budgets <= C - W <= W no past token stays Original at decode. At
// n = C + 1 (W = 32, T = 100): C = 48: past 17, keep 12, all Quantized;
// C = 64: past 33, keep 24, all Quantized. C = 65: past 34, keep 25, and a
// budget of at most 33 leaves o <= 1: the layer of ratio 1 (budget 33) keeps
// one past token Original (24 Quantized), the others 0 or 1.
TEST(EdgeCases, BudgetsOfAtMostTwiceTheWindowQuantizeEveryKeptPastTokenAtDecode) {
  const struct {
    int64_t c;
    int64_t keep;
  } cases[] = {{48, 12}, {64, 24}, {65, 25}};
  for (const auto& tc : cases) {
    auto cache = CreateSequenceCache(kShape, Arkv(tc.c, 32));
    Feeder feed{*cache, RandomGen(13)};
    feed.Prompt(100, 100);
    feed.Batch(1, BatchKind::kDecode);
    for (const LayerStats& ls : cache->Stats().layers) {
      const int64_t o = ls.original_tokens / kHeads - 32;
      EXPECT_EQ(ls.original_tokens % kHeads, 0);
      EXPECT_EQ(ls.quantized_tokens, (tc.keep - o) * kHeads) << "C = " << tc.c;
      if (tc.c == 65 && ls.oq_ratio == 1.0) {
        EXPECT_EQ(o, 1) << "the layer of ratio 1";
      }
      EXPECT_GE(o, 0);
      EXPECT_LE(o, tc.c == 65 ? 1 : 0) << "C = " << tc.c;
    }
  }
}

}  // namespace
}  // namespace arkv::kv
