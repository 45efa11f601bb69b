// The Original cap of byte budgets (policy.h, EnforceOriginalCap): which
// tokens it quantizes and down to which mark, against hand-worked cases, and
// over a whole cache, that decode steps quantize in bursts W + 1 steps apart
// (amortized like ARKV's decode compression), scored by the step's attention.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_cache.h"
#include "core/thread_pool.h"
#include "kv/policy.h"
#include "test_util.h"

namespace arkv::kv {
namespace {

constexpr TokenState O = TokenState::kOriginal;
constexpr TokenState Q = TokenState::kQuantized;

// 16 tokens with a window of 4: past tokens 0..4 Quantized, 5..11 Original.
struct CapCase {
  std::vector<int32_t> positions;
  std::vector<TokenState> states{Q, Q, Q, Q, Q, O, O, O, O, O, O, O, O, O, O, O};
  // Past scores: the Quantized tokens lowest, so that counting them would
  // show; the Originals 0.9, 0.1, 0.5, 0.3, 0.3 (a tie), 0.8, 0.2.
  std::vector<double> scores{0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.1, 0.5, 0.3, 0.3, 0.8, 0.2};
  CapCase() {
    for (int32_t p = 0; p < 16; ++p) positions.push_back(p);
  }
  std::vector<TokenState> Enforce(BatchKind kind, int64_t cap, bool scored = true) const {
    LayerContext ctx;
    ctx.kind = kind;
    ctx.window = 4;
    ctx.limits.capacity = 100;
    ctx.limits.original_budget = cap;
    ctx.limits.original_cap = cap;
    HeadTokens tokens{positions, states, {}};
    if (scored) tokens.past_scores = scores;
    std::vector<TokenState> next = states;
    EnforceOriginalCap(ctx, tokens, next);
    return next;
  }
};

TEST(OriginalCap, DecodeQuantizesTheLowestDownToTheCapLessTheWindow) {
  const CapCase c;
  // 7 Original past tokens over a cap of 6: the mark is 6 - 4 = 2, so the
  // two best (0.9 at 5, 0.8 at 10) stay Original and the other 5 go.
  EXPECT_EQ(c.Enforce(BatchKind::kDecode, 6),
            (std::vector<TokenState>{Q, Q, Q, Q, Q, O, Q, Q, Q, Q, O, Q, O, O, O, O}));
  // At the cap nothing changes.
  EXPECT_EQ(c.Enforce(BatchKind::kDecode, 7), c.states);
}

TEST(OriginalCap, PromptBatchesKeepExactlyTheCapLowestScoresAndOldestTiesFirst) {
  const CapCase c;
  // Cap 6: only the lowest (0.1 at 6) goes.
  EXPECT_EQ(c.Enforce(BatchKind::kPromptEnd, 6),
            (std::vector<TokenState>{Q, Q, Q, Q, Q, O, Q, O, O, O, O, O, O, O, O, O}));
  // Cap 4: 0.1 at 6, 0.2 at 11, then of the tie 0.3 at 8 and 9 the older, 8.
  EXPECT_EQ(c.Enforce(BatchKind::kPromptChunk, 4),
            (std::vector<TokenState>{Q, Q, Q, Q, Q, O, Q, O, Q, O, O, Q, O, O, O, O}));
}

TEST(OriginalCap, UnscoredHeadsQuantizeTheOldestAndACapWithinTheWindowTakesAll) {
  const CapCase c;
  // Prompt, cap 5, no scores: the two oldest Originals (5, 6) go.
  EXPECT_EQ(c.Enforce(BatchKind::kPromptEnd, 5, false),
            (std::vector<TokenState>{Q, Q, Q, Q, Q, Q, Q, O, O, O, O, O, O, O, O, O}));
  // Decode, cap 3 <= W: the mark is 0, every Original past token goes,
  // scored or not.
  const std::vector<TokenState> all{Q, Q, Q, Q, Q, Q, Q, Q, Q, Q, Q, Q, O, O, O, O};
  EXPECT_EQ(c.Enforce(BatchKind::kDecode, 3, false), all);
  EXPECT_EQ(c.Enforce(BatchKind::kDecode, 3, true), all);
}

TEST(OriginalCap, DemandSaysWhenTheCapBindsAndWhenScoresChoose) {
  LayerLimits limits;
  limits.capacity = 100;
  EXPECT_FALSE(OriginalCapDemand(limits, 50).binds);  // no cap
  limits.original_cap = 6;
  EXPECT_FALSE(OriginalCapDemand(limits, 6).binds);
  EXPECT_FALSE(OriginalCapDemand(limits, 6).needs_scores);
  EXPECT_TRUE(OriginalCapDemand(limits, 7).binds);
  EXPECT_TRUE(OriginalCapDemand(limits, 7).needs_scores);
  limits.original_cap = 0;
  EXPECT_TRUE(OriginalCapDemand(limits, 1).binds);
  EXPECT_FALSE(OriginalCapDemand(limits, 1).needs_scores);
}

constexpr CacheShape kShape{3, 4, 2, 16};
constexpr int kWindow = 8;
constexpr int kPrompt = 100;
constexpr int kSteps = 40;

// An arkv cache under a byte budget that holds the whole run in every layer
// (no eviction), so that only the Original cap changes states while decoding.
std::unique_ptr<SequenceCache> MakeCappedCache() {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.window = kWindow;
  config.budget = Budget::Bytes(130000);
  return CreateSequenceCache(kShape, config);
}

size_t QueryValues(int n) { return static_cast<size_t>(n) * kShape.n_heads * kShape.head_dim; }
size_t KeyValues(int n) { return static_cast<size_t>(n) * kShape.n_kv_heads * kShape.head_dim; }

// Random tokens whose queries are scaled per layer (2, 2, 0.05f): the last
// layer's attention is nearly flat, so its OQ score, and its Original cap,
// are small.
void LayeredBatch(SequenceCache& cache, int32_t first, int n, BatchKind kind, std::mt19937& rng,
                  ThreadPool& threads) {
  testing::AttendBatch(cache, kShape, first, n, kind, threads,
                       [&](int l, const std::vector<int32_t>&, auto& q, auto& k, auto& v) {
                         const float scale = l + 1 < kShape.n_layers ? 2.0f : 0.2f;
                         q = testing::RandomVector(QueryValues(n), rng, -scale, scale);
                         k = testing::RandomVector(KeyValues(n), rng, -2, 2);
                         v = testing::RandomVector(k.size(), rng);
                       });
}

// One early token (position 10) takes the attention of every query.
void HeavyTokenBatch(SequenceCache& cache, int32_t first, int n, BatchKind kind, std::mt19937& rng,
                     ThreadPool& threads) {
  const int d = kShape.head_dim;
  testing::AttendBatch(cache, kShape, first, n, kind, threads,
                       [&](int, const std::vector<int32_t>& pos, auto& q, auto& k, auto& v) {
                         q = testing::RandomVector(QueryValues(n), rng, -0.1f, 0.1f);
                         k = testing::RandomVector(KeyValues(n), rng, -0.1f, 0.1f);
                         v = testing::RandomVector(k.size(), rng);
                         for (size_t i = 0; i < q.size(); i += d) q[i] += 4.0f;
                         for (int t = 0; t < n; ++t) {
                           if (pos[t] != 10) continue;
                           for (int h = 0; h < kShape.n_kv_heads; ++h)
                             k[(t * kShape.n_kv_heads + h) * d] = 8.0f;
                         }
                       });
}

// After the prompt, a layer of cap c holds W + c Original tokens per KV head
// (the prompt is under its capacity, and c <= T - W: the cap binds at the
// prompt or, at c = T - W, at the first decode step). Each
// decode step moves one token out of the window; the step that takes the
// Original past to c + 1 quantizes it down to the mark m = c - min(c, W):
// span = min(c, W) + 1 tokens per KV head at once, then span - 1 quiet steps.
// So at decode step s (from 1): quantizations span * heads when (s - 1) %
// span == 0, else 0; Original tokens heads * (W + m + (s - 1) % span).
TEST(OriginalCap, DecodeStepsQuantizeInBurstsAWindowApart) {
  auto cache = MakeCappedCache();
  std::mt19937 rng(3);
  ThreadPool threads(2);
  LayeredBatch(*cache, 0, kPrompt, BatchKind::kPromptEnd, rng, threads);
  const CacheStats after_prompt = cache->Stats();
  const int64_t heads = kShape.n_kv_heads;
  std::vector<int64_t> cap(kShape.n_layers);
  int bursting_layers = 0;
  for (int l = 0; l < kShape.n_layers; ++l) {
    const LayerStats& ls = after_prompt.layers[l];
    ASSERT_GE(ls.capacity_tokens, kPrompt + kSteps) << "layer " << l << " would evict";
    ASSERT_EQ(ls.original_tokens % heads, 0);
    cap[l] = ls.original_tokens / heads - kWindow;
    ASSERT_LE(cap[l], kPrompt - kWindow) << "layer " << l;  // ARKV's T - W bound
    bursting_layers += cap[l] > kWindow;
  }
  // The budget gives the layers caps beyond the window (bursts of W + 1),
  // one of them below T - W (bound at the prompt: 92, 92, 56 here).
  ASSERT_EQ(bursting_layers, kShape.n_layers);
  ASSERT_LT(cap.back(), kPrompt - kWindow);
  std::vector<int64_t> quantizations(kShape.n_layers);
  for (int l = 0; l < kShape.n_layers; ++l) quantizations[l] = after_prompt.layers[l].quantizations;
  for (int s = 1; s <= kSteps; ++s) {
    LayeredBatch(*cache, kPrompt + s - 1, 1, BatchKind::kDecode, rng, threads);
    const CacheStats st = cache->Stats();
    for (int l = 0; l < kShape.n_layers; ++l) {
      const LayerStats& ls = st.layers[l];
      const int64_t span = std::min<int64_t>(cap[l], kWindow) + 1;
      const int64_t mark = cap[l] - (span - 1);
      const bool burst = (s - 1) % span == 0;
      EXPECT_EQ(ls.quantizations - quantizations[l], burst ? span * heads : 0)
          << "layer " << l << " (cap " << cap[l] << ") step " << s;
      EXPECT_EQ(ls.original_tokens, heads * (kWindow + mark + (s - 1) % span))
          << "layer " << l << " step " << s;
      EXPECT_EQ(ls.evictions, 0) << "layer " << l;
      quantizations[l] = ls.quantizations;
    }
  }
}

// The decode steps at which the cap binds are scored by that step's
// attention: a token every query attends to (position 10, among the oldest)
// stays Original through every burst where the mark leaves any Original past
// token; quantizing the oldest first would take it at the first burst.
TEST(OriginalCap, DecodeBurstsKeepTheTokenTheQueriesAttendTo) {
  auto cache = MakeCappedCache();
  std::mt19937 rng(5);
  ThreadPool threads(2);
  HeavyTokenBatch(*cache, 0, kPrompt, BatchKind::kPromptEnd, rng, threads);
  const CacheStats after_prompt = cache->Stats();
  for (int s = 0; s < kSteps; ++s) {
    HeavyTokenBatch(*cache, kPrompt + s, 1, BatchKind::kDecode, rng, threads);
  }
  int checked = 0;
  for (int l = 0; l < kShape.n_layers; ++l) {
    const int64_t cap = after_prompt.layers[l].original_tokens / kShape.n_kv_heads - kWindow;
    if (cap <= kWindow) continue;  // mark 0: every Original past token goes
    ASSERT_GT(cache->Stats().layers[l].quantizations, after_prompt.layers[l].quantizations);
    for (int h = 0; h < kShape.n_kv_heads; ++h) {
      bool seen = false;
      for (const CachedToken& t : cache->Tokens(l, h)) {
        if (t.position != 10) continue;
        seen = true;
        EXPECT_FALSE(t.quantized) << "layer " << l << " KV head " << h;
      }
      EXPECT_TRUE(seen) << "layer " << l << " KV head " << h;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace arkv::kv
