// Policies over the whole cache: the invariants (budget, window Original,
// no promotion, bytes held, bounded pool while decoding 10x the budget), the
// heavy-token test, ARKV's prompt selection and OQ ratios against an
// independent double-precision computation, chunked prefill, byte budgets and
// configuration parsing.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_cache.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kv/policy.h"
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

// Fixed q, k, v of every layer for positions 0..n-1, so that a cache and the
// independent reference below see the same inputs however the prompt is cut.
struct PromptData {
  int n = 0;
  std::vector<std::vector<float>> q, k, v;  // per layer: [n][heads][d], [n][kv heads][d]
};

// q uniform in (-q_range_l, q_range_l): q_first for layer 0, q_rest for the
// others (a flat first layer gets different OQ ratios); k in (-2, 2).
PromptData MakePromptData(int n, uint32_t seed, float q_first, float q_rest) {
  std::mt19937 rng(seed);
  PromptData data;
  data.n = n;
  const size_t d = kShape.head_dim;
  for (int l = 0; l < kShape.n_layers; ++l) {
    const float r = l == 0 ? q_first : q_rest;
    data.q.push_back(RandomVector(n * kShape.n_heads * d, rng, -r, r));
    data.k.push_back(RandomVector(n * kShape.n_kv_heads * d, rng, -2, 2));
    data.v.push_back(RandomVector(n * kShape.n_kv_heads * d, rng));
  }
  return data;
}

Driver::Gen DataGen(const PromptData& data) {
  return [&data](int layer, const std::vector<int32_t>& pos, std::vector<float>& q,
                 std::vector<float>& k, std::vector<float>& v) {
    const size_t d = kShape.head_dim;
    const size_t qs = kShape.n_heads * d, ks = kShape.n_kv_heads * d;
    for (size_t t = 0; t < pos.size(); ++t) {
      ASSERT_LT(pos[t], data.n);
      std::copy_n(&data.q[layer][pos[t] * qs], qs, &q[t * qs]);
      std::copy_n(&data.k[layer][pos[t] * ks], ks, &k[t * ks]);
      std::copy_n(&data.v[layer][pos[t] * ks], ks, &v[t * ks]);
    }
  };
}

// Independent double-precision ARKV prompt scoring (ARKV.md, Prefill 1-5) of
// the first T tokens of `data` with budget C and window W: the kept sets of a
// one-shot prompt compression and each layer's OQ score.
struct PromptReference {
  std::vector<std::set<int32_t>> kept;  // per (layer, kv head)
  std::vector<double> oq;               // per layer
};

PromptReference ReferencePrompt(const CacheConfig& c, const PromptData& data, int T) {
  const int d = kShape.head_dim, H = kShape.n_heads, Hkv = kShape.n_kv_heads, G = H / Hkv;
  const int W = c.window, w = std::min(T, W), C = static_cast<int>(c.budget.value);
  PromptReference ref;
  for (int l = 0; l < kShape.n_layers; ++l) {
    const std::vector<float>& q = data.q[l];
    const std::vector<float>& k = data.k[l];
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

std::vector<double> Ratios(const std::vector<double>& oq) {
  const double mx = *std::max_element(oq.begin(), oq.end());
  std::vector<double> r;
  for (double x : oq) r.push_back(x / mx);
  return r;
}

// Bytes of one token of one KV head: K and V, scales when quantized, and the
// stored position (4 bytes).
size_t SlotBytesOf(bool quantized, const CacheConfig& c, int d) {
  if (!quantized) return 2 * d * (c.original == OriginalType::kF16 ? 2 : 4) + 4;
  const size_t row = c.quant == QuantType::kInt4 ? (d + 1) / 2 : d;
  return 2 * row + 8 + 4;
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
        if (seen.count(p)) {
          ASSERT_TRUE(q) << "Quantized token " << p << " promoted";
        }
        if (q) seen.insert(p);
      }
    }
  }
  ASSERT_EQ(cache.BytesHeld(), bytes);
  ASSERT_EQ(cache.Stats().bytes, static_cast<int64_t>(bytes));
  // The cache is alone on its pool: its pages are the pool's pages in use.
  const int64_t pool_bytes = static_cast<int64_t>(pool.pages_in_use() * pool.page_bytes());
  ASSERT_EQ(cache.Stats().pool_bytes, pool_bytes);
  ASSERT_GE(pool.pages_in_use() * pool.page_bytes(), bytes);
  // At most one partly filled page per store (2 per layer and KV head).
  ASSERT_LE(pool.pages_in_use() * pool.page_bytes(),
            bytes + 2 * kShape.n_layers * kShape.n_kv_heads * pool.page_bytes());
  if (config.budget.unit == Budget::Unit::kBytes) {
    ASSERT_LE(pool_bytes, config.budget.value) << "pages over the byte budget";
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
  // arkv quantizes only layers whose OQ ratio is low: give it one such layer
  // (nearly uniform attention in layer 0).
  const PromptData flat_first = MakePromptData(600, 3, 0.05f, 3.0f);
  Driver drv{*cache, kShape,
             config.policy == PolicyKind::kArkv ? DataGen(flat_first) : RandomGen(3)};
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

// Layers with different attention sharpness get different OQ ratios; at decode
// compression a layer keeps o = clip(original_budget - W, 0, keep) past tokens
// Original and quantizes keep - o (ARKV.md, Decoding 2-5).
TEST(Policies, ArkvSplitsDecodeCompressionByLayerRatio) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.budget = Budget::Tokens(48);
  config.window = 8;
  const PromptData data = MakePromptData(101, 4, 0.05f, 3.0f);
  // The ratios from the independent reference, not from the cache.
  const std::vector<double> ratio = Ratios(ReferencePrompt(config, data, 100).oq);
  auto cache = CreateSequenceCache(kShape, config);
  Driver drv{*cache, kShape, DataGen(data)};
  drv.Prompt(100, 100);
  const CacheStats prompt = cache->Stats();
  EXPECT_EQ(prompt.quantized_tokens, 0) << "prompt compression keeps tokens Original";
  drv.Batch(1, BatchKind::kDecode);
  const CacheStats st = cache->Stats();
  int quantizing_layers = 0;
  for (int l = 0; l < kShape.n_layers; ++l) {
    const int64_t original_budget = std::llround(ratio[l] * (48 - 8));  // T - W = 92: no clip
    // n = 49 > C: past 41, keep floor(0.75 * 41) = 30.
    const int64_t o = std::clamp<int64_t>(original_budget - 8, 0, 30);
    EXPECT_EQ(st.layers[l].quantized_tokens, (30 - o) * kShape.n_kv_heads) << "layer " << l;
    EXPECT_EQ(st.layers[l].original_tokens, (o + 8) * kShape.n_kv_heads) << "layer " << l;
    quantizing_layers += st.layers[l].quantized_tokens > 0;
  }
  EXPECT_GT(quantizing_layers, 0);
}

// Under a byte budget every layer holds its window, and the bytes beyond the
// windows are shared in proportion to the layers' OQ ratios: a layer the OQ
// score calls more sensitive (ratio near 1) gets more tokens and more of them
// Original. Each layer's capacity is the largest whose worst case in whole
// pages fits its share, and the worst case over all layers stays within the
// budget.
TEST(Policies, ArkvByteBudgetSharesBytesByOqRatio) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.window = 8;
  const int64_t orig = static_cast<int64_t>(SlotBytesOf(false, config, kShape.head_dim));  // 68
  const int64_t quant = static_cast<int64_t>(SlotBytesOf(true, config, kShape.head_dim));  // 44
  const int64_t budget = 3 * 2 * 48 * orig;  // 48 Original tokens a layer
  config.budget = Budget::Bytes(budget);
  const PromptData data = MakePromptData(240, 4, 0.05f, 3.0f);
  // The ratios from the independent reference, not from the cache.
  const std::vector<double> ratio = Ratios(ReferencePrompt(config, data, 200).oq);
  auto cache = CreateSequenceCache(kShape, config);
  Driver drv{*cache, kShape, DataGen(data)};
  drv.Prompt(200, 200);
  for (int step = 0; step < 40; ++step) drv.Batch(1, BatchKind::kDecode);
  const CacheStats st = cache->Stats();
  for (int l = 0; l < kShape.n_layers; ++l) {
    EXPECT_NEAR(st.layers[l].oq_ratio, ratio[l], 1e-4) << "layer " << l;
  }
  // The private pool's page: 16 Original tokens, 1088 bytes (a multiple of 64).
  ASSERT_EQ(st.page_bytes, 16 * orig);
  const int64_t po = st.page_bytes / orig, pq = st.page_bytes / quant;  // 16, 24
  const int64_t heads = kShape.n_kv_heads;
  // Most pages of a layer of capacity c with at most W + cap Original tokens
  // (brute force over every split).
  auto worst = [&](int64_t c, int64_t cap) {
    int64_t pages = 0;
    for (int64_t x = std::min<int64_t>(c, config.window); x <= config.window + cap && x <= c; ++x) {
      pages = std::max(pages, (x + po - 1) / po + (c - x + pq - 1) / pq);
    }
    return pages * st.page_bytes * heads;
  };
  const int64_t window_bytes = worst(config.window, 0);
  const int64_t spare = budget - kShape.n_layers * window_bytes;
  double ratio_sum = 0;
  for (double r : ratio) ratio_sum += r;
  int64_t worst_total = 0;
  for (int l = 0; l < kShape.n_layers; ++l) {
    const LayerStats& ls = st.layers[l];
    const int64_t c = ls.capacity_tokens;
    auto cap_at = [&](int64_t cc) {
      return std::llround(ratio[l] * static_cast<double>(cc - config.window));
    };
    worst_total += worst(c, cap_at(c));
    EXPECT_LE(ls.original_tokens, heads * (config.window + cap_at(c))) << "layer " << l;
    // The capacity uses the layer's share: one more token would not fit it.
    const double share = window_bytes + ratio[l] / ratio_sum * static_cast<double>(spare);
    EXPECT_GT(static_cast<double>(worst(c + 1, cap_at(c + 1))), share) << "layer " << l;
  }
  EXPECT_LE(worst_total, budget);
  EXPECT_LE(st.pool_bytes, budget);
  int lo = 0, hi = 0;
  for (int l = 1; l < kShape.n_layers; ++l) {
    if (ratio[l] < ratio[lo]) lo = l;
    if (ratio[l] > ratio[hi]) hi = l;
  }
  ASSERT_LT(ratio[lo], ratio[hi] - 0.05);
  EXPECT_GT(st.layers[hi].capacity_tokens, st.layers[lo].capacity_tokens);
}

const CacheConfig kDefaults;
// 18432 bytes: 48 f16 tokens (d = 16) of 3 layers x 2 KV heads without positions.
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

// One-shot and really chunked prompts against the independent reference.
// One chunk (T = 120, C = 40) is the one-shot method: its kept sets and OQ
// ratios. Chunks of 80 then 40 with C = 100: the first chunk (80 <= C) is not
// compressed, so the second sees every key and keeps the one-shot sets of
// T = 120; the ratios come from the running mean of the two chunks' OQ
// scores, i.e. of the reference's scores at T = 80 and T = 120.
TEST(Policies, ArkvPromptSelectionAndRatiosMatchIndependentReference) {
  const int T = 120;
  const PromptData data = MakePromptData(T, 21, 2.0f, 2.0f);
  struct Case {
    int64_t c;
    std::vector<int> chunks;
  };
  for (const Case& tc : {Case{40, {120}}, Case{100, {80, 40}}}) {
    CacheConfig config;
    config.policy = PolicyKind::kArkv;
    config.budget = Budget::Tokens(tc.c);
    config.window = 8;
    const PromptReference ref = ReferencePrompt(config, data, T);
    std::vector<double> oq = ref.oq;
    if (tc.chunks.size() == 2) {
      const PromptReference first = ReferencePrompt(config, data, tc.chunks[0]);
      for (int l = 0; l < kShape.n_layers; ++l) oq[l] = (first.oq[l] + ref.oq[l]) / 2;
    }
    const std::vector<double> ratio = Ratios(oq);
    auto cache = CreateSequenceCache(kShape, config);
    Driver drv{*cache, kShape, DataGen(data)};
    for (size_t i = 0; i < tc.chunks.size(); ++i) {
      drv.Batch(tc.chunks[i],
                i + 1 == tc.chunks.size() ? BatchKind::kPromptEnd : BatchKind::kPromptChunk);
    }
    const CacheStats st = cache->Stats();
    for (int l = 0; l < kShape.n_layers; ++l) {
      EXPECT_NEAR(st.layers[l].oq_ratio, ratio[l], 1e-4) << "C " << tc.c << " layer " << l;
      for (int h = 0; h < kShape.n_kv_heads; ++h) {
        std::set<int32_t> got;
        for (const auto& t : cache->Tokens(l, h)) {
          got.insert(t.position);
          EXPECT_FALSE(t.quantized);
        }
        EXPECT_EQ(got, ref.kept[l * kShape.n_kv_heads + h])
            << "C " << tc.c << " layer " << l << " head " << h;
      }
    }
  }
}

TEST(Policies, ChunkedPrefillKeepsPeakNearBudgetPlusChunk) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.budget = Budget::Tokens(64);
  config.window = 8;
  auto cache = CreateSequenceCache(kShape, config);
  Driver drv{*cache, kShape, RandomGen(8)};
  drv.Prompt(1024, 32);
  const int64_t token_bytes = 2 * kShape.head_dim * 2 + 4;  // K, V, position
  const int64_t streams = kShape.n_layers * kShape.n_kv_heads;
  EXPECT_LE(cache->Stats().peak_bytes, (64 + 32) * token_bytes * streams);
  EXPECT_EQ(cache->Stats().original_tokens, 64 * streams);
}

// StreamingLLM keeps exactly the first `sinks` positions and the most recent
// C - sinks, through chunked prompts and decoding, in every layer and head.
// MayChange() false promises that Decide leaves every state as it is (the
// cache then skips the head's snapshot): every policy, heads below, at and
// over capacity and without one, prompt and decode batches, random states
// and scores. The changes seen where MayChange() is true show the check can
// see one.
TEST(Policies, MayChangeFalseMeansDecideChangesNothing) {
  std::mt19937 rng(11);
  int changed_when_allowed = 0;
  for (PolicyKind kind : {PolicyKind::kFull, PolicyKind::kWindow, PolicyKind::kSnapKV,
                          PolicyKind::kEvict, PolicyKind::kQuant, PolicyKind::kArkv}) {
    CacheConfig config;
    config.policy = kind;
    config.budget = Budget::Tokens(64);
    const std::unique_ptr<Policy> policy = MakePolicy(config);
    for (std::optional<int64_t> capacity : {std::optional<int64_t>(), std::optional<int64_t>(64)}) {
      for (BatchKind batch : {BatchKind::kPromptChunk, BatchKind::kPromptEnd, BatchKind::kDecode}) {
        for (int n : {0, 5, 40, 63, 64, 65, 100}) {
          LayerContext ctx;
          ctx.kind = batch;
          ctx.limits.capacity = capacity;
          ctx.limits.original_budget = 16;
          ctx.window = 32;
          std::vector<int32_t> positions(n);
          std::iota(positions.begin(), positions.end(), 0);
          const int past = std::max(0, n - ctx.window);
          std::vector<TokenState> states(n, TokenState::kOriginal);
          std::bernoulli_distribution quantized(0.3);
          for (int i = 0; i < past; ++i) {
            if (quantized(rng)) states[i] = TokenState::kQuantized;
          }
          std::vector<double> scores(past);
          for (double& x : scores) x = std::uniform_real_distribution<double>(0, 1)(rng);
          HeadTokens tokens{positions, states, scores};
          std::vector<TokenState> next = states;
          policy->Decide(ctx, tokens, next);
          const bool changed = next != states;
          if (policy->MayChange(ctx, static_cast<size_t>(n))) {
            changed_when_allowed += changed;
          } else {
            EXPECT_FALSE(changed) << "policy " << static_cast<int>(kind) << " n=" << n << " batch "
                                  << static_cast<int>(batch);
          }
        }
      }
    }
  }
  EXPECT_GT(changed_when_allowed, 0);
}

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
  // 32 tokens of 68 bytes (K, V, position) fill 2 private pages of 16 tokens
  // (1088 bytes) per layer and KV head: 3 x 2 x 2 x 1088 = 13056 bytes.
  config.budget = Budget::Bytes(13056 - 1);  // one byte short of the window
  EXPECT_THROW(CreateSequenceCache(kShape, config), Error);
  config.budget = Budget::Bytes(13056);
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
