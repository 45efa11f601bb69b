// Policies over the whole cache: the invariants (budget, window Original,
// no promotion, bytes held, bounded pool while decoding 10x the budget), the
// heavy-token test, ARKV's prompt selection and OQ ratios against an
// independent double-precision computation, chunked prefill, byte budgets and
// configuration parsing.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_cache.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace arkv::kv {
namespace {

using testing::RandomVector;

constexpr CacheShape kShape{3, 4, 2, 16};

// Feeds a cache q/k/v batches; `gen` fills q, k, v for the given positions.
struct Driver {
  using Gen = std::function<void(int layer, const std::vector<int32_t>& pos, std::vector<float>& q,
                                 std::vector<float>& k, std::vector<float>& v)>;
  SequenceCache& cache;
  CacheShape shape;
  Gen gen;
  ThreadPool threads{2};
  int32_t next_pos = 0;

  void Batch(int n, BatchKind kind) {
    std::vector<int32_t> pos(n);
    for (int t = 0; t < n; ++t) pos[t] = next_pos++;
    const int d = shape.head_dim;
    for (int l = 0; l < shape.n_layers; ++l) {
      std::vector<float> q(static_cast<size_t>(n) * shape.n_heads * d);
      std::vector<float> k(static_cast<size_t>(n) * shape.n_kv_heads * d), v(k.size());
      gen(l, pos, q, k, v);
      std::vector<float> out(q.size());
      cache.Attend(l, q.data(), k.data(), v.data(), pos.data(), n,
                   1.0f / std::sqrt(static_cast<float>(d)), out.data(), threads);
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

Driver::Gen RandomGen(uint32_t seed) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return [rng](int, const std::vector<int32_t>&, std::vector<float>& q, std::vector<float>& k,
               std::vector<float>& v) {
    q = RandomVector(q.size(), *rng, -2, 2);
    k = RandomVector(k.size(), *rng, -2, 2);
    v = RandomVector(v.size(), *rng);
  };
}

// Layer 0 gets nearly uniform attention (small queries), the other layers
// sharp attention, so their OQ ratios differ.
Driver::Gen FlatFirstLayerGen(uint32_t seed) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return [rng](int layer, const std::vector<int32_t>&, std::vector<float>& q, std::vector<float>& k,
               std::vector<float>& v) {
    const float sharp = layer == 0 ? 0.05f : 3.0f;
    q = RandomVector(q.size(), *rng, -sharp, sharp);
    k = RandomVector(k.size(), *rng, -2, 2);
    v = RandomVector(v.size(), *rng);
  };
}

size_t SlotBytesOf(bool quantized, const CacheConfig& c, int d) {
  if (!quantized) return 2 * d * (c.original == OriginalType::kF16 ? 2 : 4);
  const size_t row = c.quant == QuantType::kInt4 ? (d + 1) / 2 : d;
  return 2 * row + 8;
}

// Checks the invariants after an EndBatch; `quantized_seen` remembers every
// position ever seen Quantized per (layer, head).
void CheckInvariants(const SequenceCache& cache, const CacheConfig& config, const PagePool& pool,
                     int32_t next_pos, std::map<int, std::set<int32_t>>& quantized_seen) {
  size_t bytes = 0;
  for (int l = 0; l < kShape.n_layers; ++l) {
    for (int h = 0; h < kShape.n_kv_heads; ++h) {
      const auto tokens = cache.Tokens(l, h);
      if (config.budget.unit == Budget::Unit::kTokens && config.policy != PolicyKind::kFull) {
        ASSERT_LE(static_cast<int64_t>(tokens.size()), config.budget.value)
            << "layer " << l << " over budget";
      }
      std::map<int32_t, bool> held;
      for (const auto& t : tokens) {
        held[t.position] = t.quantized;
        bytes += SlotBytesOf(t.quantized, config, kShape.head_dim);
      }
      for (int32_t p = std::max(0, next_pos - config.window); p < next_pos; ++p) {
        ASSERT_TRUE(held.count(p)) << "window token " << p << " evicted";
        ASSERT_FALSE(held[p]) << "window token " << p << " quantized";
      }
      auto& seen = quantized_seen[l * 100 + h];
      for (const auto& [p, q] : held) {
        if (seen.count(p)) ASSERT_TRUE(q) << "Quantized token " << p << " promoted";
        if (q) seen.insert(p);
      }
    }
  }
  ASSERT_EQ(cache.BytesHeld(), bytes);
  ASSERT_EQ(cache.Stats().bytes, static_cast<int64_t>(bytes));
  ASSERT_GE(pool.pages_in_use() * pool.page_bytes(), bytes);
  // At most one partly filled page per store (2 per layer and KV head).
  ASSERT_LE(pool.pages_in_use() * pool.page_bytes(),
            bytes + 2 * kShape.n_layers * kShape.n_kv_heads * pool.page_bytes());
  if (config.budget.unit == Budget::Unit::kBytes) {
    ASSERT_LE(static_cast<int64_t>(bytes), config.budget.value);
  }
}

struct PolicyCase {
  PolicyKind policy;
  Budget budget;
  QuantType quant;
};

class PolicyInvariantTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(PolicyInvariantTest, HoldDuringPromptAndTenTimesTheBudgetOfDecoding) {
  CacheConfig config;
  config.policy = GetParam().policy;
  config.budget = GetParam().budget;
  config.quant = GetParam().quant;
  config.window = 8;
  PagePool pool(1024);
  auto cache = CreateSequenceCache(kShape, config, &pool);
  // arkv quantizes only layers whose OQ ratio is low: give it one such layer.
  Driver drv{*cache, kShape,
             config.policy == PolicyKind::kArkv ? FlatFirstLayerGen(3) : RandomGen(3)};
  std::map<int, std::set<int32_t>> seen;
  const int budget_tokens = 48;
  for (int chunk = 0; chunk < 4; ++chunk) {
    drv.Batch(30, chunk == 3 ? BatchKind::kPromptEnd : BatchKind::kPromptChunk);
    CheckInvariants(*cache, config, pool, drv.next_pos, seen);
  }
  size_t peak_pages_decode = 0;
  for (int step = 0; step < 10 * budget_tokens; ++step) {
    drv.Batch(1, BatchKind::kDecode);
    CheckInvariants(*cache, config, pool, drv.next_pos, seen);
    if (::testing::Test::HasFatalFailure()) return;
    peak_pages_decode = std::max(peak_pages_decode, pool.pages_in_use());
  }
  // Pool memory is bounded by the budget (plus a partial page per store), not
  // by the 600 tokens seen.
  const size_t full_token = SlotBytesOf(false, config, kShape.head_dim);
  const size_t bound = kShape.n_layers * kShape.n_kv_heads *
                       ((budget_tokens + 1) * full_token / pool.page_bytes() + 3);
  EXPECT_LE(peak_pages_decode, bound);
  const CacheStats st = cache->Stats();
  EXPECT_GT(st.evictions, 0);
  // Every quantizing case holds Quantized tokens at the end, so the byte
  // checks above covered its codec's slots.
  if (config.policy == PolicyKind::kQuant || config.policy == PolicyKind::kArkv) {
    EXPECT_GT(st.quantizations, 0);
    EXPECT_GT(st.quantized_tokens, 0);
  } else {
    EXPECT_EQ(st.quantized_tokens, 0);
  }
}

// Under a byte budget every layer holds its window, and the bytes beyond the
// windows are shared in proportion to the layers' OQ ratios: a layer the OQ
// score calls more sensitive (ratio near 1) gets more tokens and more of them
// Original. Each layer's capacity is the largest its share allows, and the
// worst case over all layers stays within the budget.
TEST(Policies, ArkvByteBudgetSharesBytesByOqRatio) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.window = 8;
  const int64_t orig = static_cast<int64_t>(SlotBytesOf(false, config, kShape.head_dim));
  const int64_t quant = static_cast<int64_t>(SlotBytesOf(true, config, kShape.head_dim));
  const int64_t budget = 3 * 2 * 48 * orig;  // 48 Original tokens a layer
  config.budget = Budget::Bytes(budget);
  auto cache = CreateSequenceCache(kShape, config);
  Driver drv{*cache, kShape, FlatFirstLayerGen(4)};
  drv.Prompt(200, 200);
  for (int step = 0; step < 40; ++step) drv.Batch(1, BatchKind::kDecode);
  const CacheStats st = cache->Stats();
  const int64_t heads = kShape.n_kv_heads;
  const int64_t window_bytes = config.window * orig * heads;
  const int64_t spare = budget - kShape.n_layers * window_bytes;
  double ratio_sum = 0;
  for (const LayerStats& ls : st.layers) ratio_sum += ls.oq_ratio;
  int64_t worst_total = 0;
  for (int l = 0; l < kShape.n_layers; ++l) {
    const LayerStats& ls = st.layers[l];
    const int64_t c = ls.capacity_tokens;
    const int64_t cap = std::llround(ls.oq_ratio * static_cast<double>(c - config.window));
    const int64_t worst = heads * ((config.window + cap) * orig + (c - config.window - cap) * quant);
    worst_total += worst;
    EXPECT_LE(ls.original_tokens, heads * (config.window + cap)) << "layer " << l;
    // The capacity uses the layer's share: one more Original token would not fit.
    const double share = window_bytes + ls.oq_ratio / ratio_sum * static_cast<double>(spare);
    EXPECT_GT(static_cast<double>(worst + heads * orig), share) << "layer " << l;
  }
  EXPECT_LE(worst_total, budget);
  EXPECT_LE(st.bytes, budget);
  int lo = 0, hi = 0;
  for (int l = 1; l < kShape.n_layers; ++l) {
    if (st.layers[l].oq_ratio < st.layers[lo].oq_ratio) lo = l;
    if (st.layers[l].oq_ratio > st.layers[hi].oq_ratio) hi = l;
  }
  ASSERT_LT(st.layers[lo].oq_ratio, st.layers[hi].oq_ratio - 0.05);
  EXPECT_GT(st.layers[hi].capacity_tokens, st.layers[lo].capacity_tokens);
}

const CacheConfig kDefaults;
// Bytes of 48 tokens all Original in 3 layers x 2 KV heads (f16, d = 16): 18432.
INSTANTIATE_TEST_SUITE_P(
    Policies, PolicyInvariantTest,
    ::testing::Values(PolicyCase{PolicyKind::kWindow, Budget::Tokens(48), QuantType::kFp8E4M3},
                      PolicyCase{PolicyKind::kSnapKV, Budget::Tokens(48), QuantType::kFp8E4M3},
                      PolicyCase{PolicyKind::kEvict, Budget::Tokens(48), QuantType::kFp8E4M3},
                      PolicyCase{PolicyKind::kQuant, Budget::Tokens(48), QuantType::kFp8E4M3},
                      PolicyCase{PolicyKind::kArkv, Budget::Tokens(48), QuantType::kFp8E4M3},
                      PolicyCase{PolicyKind::kArkv, Budget::Tokens(48), QuantType::kInt4},
                      PolicyCase{PolicyKind::kArkv, Budget::Bytes(18432), QuantType::kFp8E4M3},
                      PolicyCase{PolicyKind::kQuant, Budget::Bytes(18432), QuantType::kInt8},
                      PolicyCase{PolicyKind::kEvict, Budget::Bytes(18432), QuantType::kFp8E4M3}));

// One early token (position 10) carries all the attention: every query points
// along its key.
Driver::Gen HeavyTokenGen(uint32_t seed) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return [rng](int, const std::vector<int32_t>& pos, std::vector<float>& q, std::vector<float>& k,
               std::vector<float>& v) {
    const int d = kShape.head_dim;
    q = RandomVector(q.size(), *rng, -0.1f, 0.1f);
    k = RandomVector(k.size(), *rng, -0.1f, 0.1f);
    v = RandomVector(v.size(), *rng);
    for (size_t i = 0; i < q.size(); i += d) q[i] += 4.0f;
    for (size_t t = 0; t < pos.size(); ++t) {
      if (pos[t] != 10) continue;
      for (int h = 0; h < kShape.n_kv_heads; ++h) k[(t * kShape.n_kv_heads + h) * d] = 8.0f;
    }
  };
}

TEST(Policies, HeavyEarlyTokenIsKeptByScoredPoliciesAndDroppedByWindow) {
  for (PolicyKind kind : {PolicyKind::kArkv, PolicyKind::kEvict, PolicyKind::kSnapKV,
                          PolicyKind::kQuant, PolicyKind::kWindow}) {
    CacheConfig config;
    config.policy = kind;
    config.budget = Budget::Tokens(40);
    config.window = 8;
    auto cache = CreateSequenceCache(kShape, config);
    Driver drv{*cache, kShape, HeavyTokenGen(5)};
    drv.Prompt(300, 300);
    auto holds_heavy = [&] {
      bool all = true;
      for (int l = 0; l < kShape.n_layers; ++l) {
        for (int h = 0; h < kShape.n_kv_heads; ++h) {
          const auto t = cache->Tokens(l, h);
          all &= std::any_of(t.begin(), t.end(), [](auto& x) { return x.position == 10; });
        }
      }
      return all;
    };
    const bool keeps = kind != PolicyKind::kWindow;
    EXPECT_EQ(holds_heavy(), keeps) << PolicyName(kind) << " after the prompt";
    for (int step = 0; step < 100; ++step) drv.Batch(1, BatchKind::kDecode);
    EXPECT_EQ(holds_heavy(), keeps) << PolicyName(kind) << " after decoding";
  }
}

// Independent double-precision ARKV prompt scoring (ARKV.md, Prefill 1-5) for
// the inputs of RandomGen (or, with q_range per layer, FlatFirstLayerGen), to
// compare the cache's selection and OQ ratios.
struct PromptReference {
  std::vector<std::set<int32_t>> kept;  // per (layer, kv head)
  std::vector<double> oq;               // per layer
};

PromptReference ReferencePrompt(const CacheConfig& c, int T, uint32_t seed,
                                std::vector<float> q_range = {2.0f, 2.0f, 2.0f}) {
  const int d = kShape.head_dim, H = kShape.n_heads, Hkv = kShape.n_kv_heads, G = H / Hkv;
  const int W = c.window, w = std::min(T, W), C = static_cast<int>(c.budget.value);
  std::mt19937 rng(seed);
  PromptReference ref;
  for (int l = 0; l < kShape.n_layers; ++l) {
    auto q = RandomVector(static_cast<size_t>(T) * H * d, rng, -q_range[l], q_range[l]);
    auto k = RandomVector(static_cast<size_t>(T) * Hkv * d, rng, -2, 2);
    auto v = RandomVector(static_cast<size_t>(T) * Hkv * d, rng);
    const int past = T - w;
    double ent = 0, var = 0, kurt = 0;
    for (int kv = 0; kv < Hkv; ++kv) {
      std::vector<double> hh(past, 0.0);
      for (int g = 0; g < G; ++g) {
        const int h = kv * G + g;
        std::vector<std::vector<double>> A(w, std::vector<double>(T, 0.0));
        for (int i = 0; i < w; ++i) {
          const int qi = T - w + i;
          double mx = -INFINITY;
          std::vector<double> s(qi + 1);
          for (int j = 0; j <= qi; ++j) {
            double dot = 0;
            for (int x = 0; x < d; ++x) {
              dot += double(q[(size_t(qi) * H + h) * d + x]) *
                     F16ToF32(F32ToF16(k[(size_t(j) * Hkv + kv) * d + x]));
            }
            s[j] = dot / std::sqrt(double(d));
            mx = std::max(mx, s[j]);
          }
          double sum = 0;
          for (double& e : s) sum += (e = std::exp(e - mx));
          for (int j = 0; j <= qi; ++j) A[i][j] = s[j] / sum;
        }
        for (int j = 0; j < past; ++j) {
          double mean = 0;
          for (int i = 0; i < w; ++i) mean += A[i][j] / w;
          double m2 = 0, m4 = 0;
          for (int i = 0; i < w; ++i) {
            const double dv = A[i][j] - mean;
            m2 += dv * dv;
            m4 += dv * dv * dv * dv;
            ent -= A[i][j] * std::log(A[i][j] + 1e-10);
          }
          var += m2 / (w - 1);
          kurt += (m4 / w) / std::pow(std::max(m2 / w, 1e-8), 2);
          hh[j] += (mean + c.gamma * m2 / (w - 1)) / G;
        }
      }
      // Average pooling, kernel 5, zero padding 2, divided by 5.
      std::vector<double> pooled(past, 0.0);
      for (int j = 0; j < past; ++j) {
        for (int o = -2; o <= 2; ++o) {
          if (j + o >= 0 && j + o < past) pooled[j] += hh[j + o] / 5;
        }
      }
      std::vector<int> idx(past);
      for (int j = 0; j < past; ++j) idx[j] = j;
      std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return pooled[a] > pooled[b]; });
      std::set<int32_t> kept;
      for (int r = 0; r < std::min(past, C - W); ++r) kept.insert(idx[r]);
      for (int j = T - W; j < T; ++j) kept.insert(j);
      ref.kept.push_back(kept);
    }
    ref.oq.push_back(std::pow(ent, 1 / c.tau1) * std::pow(var, 1 / c.tau2) *
                     std::pow(kurt, 1 / c.tau3));
  }
  return ref;
}

TEST(Policies, ArkvPromptSelectionAndRatiosMatchIndependentReference) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.budget = Budget::Tokens(40);
  config.window = 8;
  const int T = 120;
  const PromptReference ref = ReferencePrompt(config, T, 21);
  for (int chunk : {T, 1000}) {  // one chunk == the one-shot method
    auto cache = CreateSequenceCache(kShape, config);
    // The same random stream as the reference: q, k, v per layer.
    auto rng = std::make_shared<std::mt19937>(21);
    Driver drv{*cache, kShape,
               [rng](int, const std::vector<int32_t>&, std::vector<float>& q, std::vector<float>& k,
                     std::vector<float>& v) {
                 q = RandomVector(q.size(), *rng, -2, 2);
                 k = RandomVector(k.size(), *rng, -2, 2);
                 v = RandomVector(v.size(), *rng);
               }};
    drv.Prompt(T, chunk);
    const double max_oq = *std::max_element(ref.oq.begin(), ref.oq.end());
    const CacheStats st = cache->Stats();
    for (int l = 0; l < kShape.n_layers; ++l) {
      EXPECT_NEAR(st.layers[l].oq_ratio, ref.oq[l] / max_oq, 1e-4) << "layer " << l;
      for (int h = 0; h < kShape.n_kv_heads; ++h) {
        std::set<int32_t> got;
        for (const auto& t : cache->Tokens(l, h)) {
          got.insert(t.position);
          EXPECT_FALSE(t.quantized);
        }
        EXPECT_EQ(got, ref.kept[l * kShape.n_kv_heads + h]) << "layer " << l << " head " << h;
      }
    }
  }
}

// Layers with different attention sharpness get different OQ ratios (those of
// the independent reference); at decode compression a layer keeps
// o = clip(original_budget - W, 0, keep) past tokens Original and quantizes
// keep - o (ARKV.md, Decoding 2-5).
TEST(Policies, ArkvSplitsDecodeCompressionByLayerRatio) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.budget = Budget::Tokens(48);
  config.window = 8;
  auto cache = CreateSequenceCache(kShape, config);
  Driver drv{*cache, kShape, FlatFirstLayerGen(4)};
  drv.Prompt(100, 100);
  const CacheStats prompt = cache->Stats();
  EXPECT_EQ(prompt.quantized_tokens, 0) << "prompt compression keeps tokens Original";
  // FlatFirstLayerGen's stream: queries in +-0.05 for layer 0, +-3 above.
  const PromptReference ref = ReferencePrompt(config, 100, 4, {0.05f, 3.0f, 3.0f});
  const double max_oq = *std::max_element(ref.oq.begin(), ref.oq.end());
  drv.Batch(1, BatchKind::kDecode);
  const CacheStats st = cache->Stats();
  int quantizing_layers = 0;
  for (int l = 0; l < kShape.n_layers; ++l) {
    const double ratio = ref.oq[l] / max_oq;
    ASSERT_NEAR(st.layers[l].oq_ratio, ratio, 1e-4) << "layer " << l;
    const int64_t original_budget = std::llround(ratio * (48 - 8));  // T - W = 92 does not clip
    // n = 49 > C: past 41, keep floor(0.75 * 41) = 30.
    const int64_t o = std::clamp<int64_t>(original_budget - 8, 0, 30);
    EXPECT_EQ(st.layers[l].quantized_tokens, (30 - o) * kShape.n_kv_heads) << "layer " << l;
    EXPECT_EQ(st.layers[l].original_tokens, (o + 8) * kShape.n_kv_heads) << "layer " << l;
    quantizing_layers += st.layers[l].quantized_tokens > 0;
  }
  EXPECT_GT(quantizing_layers, 0);
}

TEST(Policies, ChunkedPrefillKeepsPeakNearBudgetPlusChunk) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.budget = Budget::Tokens(64);
  config.window = 8;
  auto cache = CreateSequenceCache(kShape, config);
  Driver drv{*cache, kShape, RandomGen(8)};
  drv.Prompt(1024, 32);
  const int64_t token_bytes = 2 * kShape.head_dim * 2;
  const int64_t streams = kShape.n_layers * kShape.n_kv_heads;
  EXPECT_LE(cache->Stats().peak_bytes, (64 + 32) * token_bytes * streams);
  EXPECT_EQ(cache->Stats().original_tokens, 64 * streams);
  for (const auto& ls : cache->Stats().layers) {
    EXPECT_GE(ls.oq_ratio, 0.0);
    EXPECT_LE(ls.oq_ratio, 1.0);
  }
}

// StreamingLLM keeps exactly the first `sinks` positions and the most recent
// C - sinks, through chunked prompts and decoding, in every layer and head.
TEST(Policies, WindowKeepsTheSinksAndTheMostRecentTokens) {
  for (int sinks : {0, 4, 7}) {
    CacheConfig config;
    config.policy = PolicyKind::kWindow;
    config.budget = Budget::Tokens(20);
    config.window = 8;
    config.sinks = sinks;
    auto cache = CreateSequenceCache(kShape, config);
    Driver drv{*cache, kShape, RandomGen(6)};
    drv.Prompt(100, 30);
    for (int step = 0; step <= 25; ++step) {
      std::set<int32_t> expected;
      for (int32_t p = 0; p < sinks; ++p) expected.insert(p);
      for (int32_t p = drv.next_pos - (20 - sinks); p < drv.next_pos; ++p) expected.insert(p);
      for (int l = 0; l < kShape.n_layers; ++l) {
        for (int h = 0; h < kShape.n_kv_heads; ++h) {
          std::set<int32_t> held;
          for (const auto& t : cache->Tokens(l, h)) held.insert(t.position);
          ASSERT_EQ(held, expected) << "sinks " << sinks << " step " << step << " layer " << l;
        }
      }
      drv.Batch(1, BatchKind::kDecode);
    }
  }
}

TEST(Policies, ByteBudgetTooSmallForTheWindowIsAnError) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.window = 32;
  config.budget = Budget::Bytes(3 * 2 * 32 * 64 - 1);  // one byte short of the window
  EXPECT_THROW(CreateSequenceCache(kShape, config), Error);
  config.budget = Budget::Bytes(3 * 2 * 32 * 64);
  EXPECT_NO_THROW(CreateSequenceCache(kShape, config));
  config.budget = Budget::Tokens(31);
  EXPECT_THROW(CreateSequenceCache(kShape, config), Error);
}

TEST(Config, ParsesBudgetsAndNames) {
  EXPECT_EQ(ParseBudget("512").unit, Budget::Unit::kTokens);
  EXPECT_EQ(ParseBudget("512").value, 512);
  EXPECT_EQ(ParseBudget("64MiB").value, 64 << 20);
  EXPECT_EQ(ParseBudget("64MiB").unit, Budget::Unit::kBytes);
  EXPECT_EQ(ParseBudget("48KiB").value, 48 * 1024);
  EXPECT_EQ(ParseBudget("1.5GB").value, 1500000000);
  EXPECT_EQ(ParseBudget("100kB").value, 100000);
  EXPECT_EQ(ParseBudget("2g").value, int64_t{2} << 30);
  for (const char* bad : {"", "abc", "-5", "0", "1.5", "12XB", "1e3", "MiB", "1..2MiB"}) {
    EXPECT_THROW(ParseBudget(bad), Error) << bad;
  }
  EXPECT_EQ(ParsePolicyKind("ARKV"), PolicyKind::kArkv);
  EXPECT_EQ(ParsePolicyKind("snapkv"), PolicyKind::kSnapKV);
  EXPECT_THROW(ParsePolicyKind("h2o"), Error);
  EXPECT_EQ(ParseQuantType("int4"), QuantType::kInt4);
  EXPECT_THROW(ParseQuantType("fp4"), Error);
  CacheConfig c;
  ParseTaus("1,2.5,3", c);
  EXPECT_EQ(c.tau2, 2.5);
  EXPECT_THROW(ParseTaus("1,2", c), Error);
  EXPECT_THROW(ParseTaus("1,0,2", c), Error);
  try {
    ParsePolicyKind("lru");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lru"), std::string::npos);
  }
}

TEST(Config, RejectsBadParameters) {
  auto bad = [](auto mutate) {
    CacheConfig c;
    c.policy = PolicyKind::kArkv;
    c.budget = Budget::Tokens(512);
    mutate(c);
    EXPECT_THROW(ValidateConfig(c), Error);
  };
  bad([](CacheConfig& c) { c.window = 0; });
  bad([](CacheConfig& c) { c.keep_fraction = 0; });
  bad([](CacheConfig& c) { c.keep_fraction = 1.5; });
  bad([](CacheConfig& c) { c.pool_kernel = 4; });
  bad([](CacheConfig& c) { c.gamma = -1; });
  bad([](CacheConfig& c) { c.tau1 = 0; });
  bad([](CacheConfig& c) { c.budget = Budget::Unlimited(); });
  bad([](CacheConfig& c) { c.budget = Budget::Tokens(16); });
}

}  // namespace
}  // namespace arkv::kv
