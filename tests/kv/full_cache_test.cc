// The full-precision cache (policy `full`) against a double reference:
// batch prefill then token-by-token decode, GQA ratios 1/2/4, head dims 8..128.
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_cache.h"
#include "common/compare.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace arkv::kv {
namespace {

using ::arkv::testing::MaxAbsDiff;
using testing::RandomVector;
using testing::ReferenceAttention;
using testing::RefToken;

// What the cache stores: fp16 rounding (llama.cpp's F16 cache) or exact f32.
double Stored(float x, OriginalType type) {
  return type == OriginalType::kF16 ? F16ToF32(F32ToF16(x)) : x;
}

struct Case {
  int n_heads, n_kv_heads, head_dim;
  OriginalType type;
};

class FullCacheTest : public ::testing::TestWithParam<Case> {};

TEST_P(FullCacheTest, PrefillThenDecodeMatchesDoubleReference) {
  const Case c = GetParam();
  const CacheShape shape{2, c.n_heads, c.n_kv_heads, c.head_dim};
  CacheConfig config;
  config.original = c.type;
  // Small pages and more threads than KV heads: decoding splits each KV
  // head's keys among tasks (split-K) and merges them.
  const size_t token_bytes = 2 * c.head_dim * (c.type == OriginalType::kF16 ? 2 : 4);
  PagePool pool((4 * token_bytes + 63) / 64 * 64);
  auto cache = CreateSequenceCache(shape, config, &pool);
  ThreadPool threads(5);
  std::mt19937 rng(1234 + c.head_dim * 7 + c.n_kv_heads);
  const int d = c.head_dim, hq = c.n_heads, hkv = c.n_kv_heads, group = hq / hkv;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  // Reference tokens per (layer, kv head).
  std::vector<std::vector<RefToken>> ref(2 * hkv);
  MaxAbsDiff max_err;
  int32_t next_pos = 0;
  auto run_batch = [&](int n) {
    std::vector<int32_t> pos(n);
    for (int t = 0; t < n; ++t) pos[t] = next_pos++;
    for (int layer = 0; layer < 2; ++layer) {
      // Keys scaled up so that softmax is far from uniform.
      auto q = RandomVector(static_cast<size_t>(n) * hq * d, rng, -2.0f, 2.0f);
      auto k = RandomVector(static_cast<size_t>(n) * hkv * d, rng, -2.0f, 2.0f);
      auto v = RandomVector(static_cast<size_t>(n) * hkv * d, rng);
      std::vector<float> out(static_cast<size_t>(n) * hq * d, NAN);
      cache->Attend(layer, q.data(), k.data(), v.data(), pos.data(), n, static_cast<float>(scale),
                    out.data(), threads);
      for (int h = 0; h < hkv; ++h) {
        for (int t = 0; t < n; ++t) {
          RefToken tok{pos[t], std::vector<double>(d), std::vector<double>(d)};
          for (int x = 0; x < d; ++x) {
            tok.k[x] = Stored(k[(static_cast<size_t>(t) * hkv + h) * d + x], c.type);
            tok.v[x] = Stored(v[(static_cast<size_t>(t) * hkv + h) * d + x], c.type);
          }
          ref[layer * hkv + h].push_back(std::move(tok));
        }
        for (int t = 0; t < n; ++t) {
          std::vector<double> expect;
          const float* qh = &q[(static_cast<size_t>(t) * hq + h * group) * d];
          ReferenceAttention(ref[layer * hkv + h], qh, group, d, pos[t], scale, expect);
          for (int i = 0; i < group * d; ++i) {
            max_err.Add(out[(static_cast<size_t>(t) * hq + h * group) * d + i], expect[i]);
          }
        }
      }
    }
    cache->EndBatch(n > 1 ? BatchKind::kPromptEnd : BatchKind::kDecode);
  };
  run_batch(37);
  for (int step = 0; step < 12; ++step) run_batch(1);
  EXPECT_TRUE(max_err.Within(2e-5)) << "out vs ref";
  RecordProperty("max_abs_error", std::to_string(max_err.value()));
  // Bytes held: every token Original.
  const size_t elt = c.type == OriginalType::kF16 ? 2 : 4;
  EXPECT_EQ(cache->BytesHeld(), static_cast<size_t>(2) * hkv * 49 * 2 * d * elt);
  const CacheStats st = cache->Stats();
  EXPECT_EQ(st.original_tokens, 2 * hkv * 49);
  EXPECT_EQ(st.quantized_tokens, 0);
  cache->Clear();
  EXPECT_EQ(cache->BytesHeld(), 0u);
  EXPECT_EQ(cache->Stats().pages_held, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, FullCacheTest,
    ::testing::Values(Case{4, 4, 8, OriginalType::kF16}, Case{4, 2, 16, OriginalType::kF16},
                      Case{8, 2, 64, OriginalType::kF16}, Case{8, 2, 128, OriginalType::kF16},
                      Case{4, 1, 32, OriginalType::kF16}, Case{4, 4, 8, OriginalType::kF32},
                      Case{8, 4, 128, OriginalType::kF32}, Case{6, 3, 24, OriginalType::kF32}));

TEST(FullCache, RejectsBadShapesAndInputs) {
  CacheConfig config;
  EXPECT_THROW(CreateSequenceCache({0, 4, 4, 8}, config), Error);
  EXPECT_THROW(CreateSequenceCache({1, 4, 3, 8}, config), Error);
  EXPECT_THROW(CreateSequenceCache({1, 4, 4, 0}, config), Error);
  auto cache = CreateSequenceCache({1, 2, 1, 8}, config);
  ThreadPool threads(1);
  float buf[16] = {};
  int32_t pos = 0;
  EXPECT_THROW(cache->Attend(1, buf, buf, buf, &pos, 1, 1.0f, buf, threads), Error);
  EXPECT_THROW(cache->Attend(-1, buf, buf, buf, &pos, 1, 1.0f, buf, threads), Error);
}

TEST(FullCache, SharedPoolReusesPagesAcrossSequences) {
  PagePool pool(1024);
  const CacheShape shape{1, 2, 2, 16};
  ThreadPool threads(1);
  std::mt19937 rng(5);
  auto fill = [&](SequenceCache& c, int n) {
    std::vector<int32_t> pos(n);
    for (int t = 0; t < n; ++t) pos[t] = t;
    auto q = RandomVector(n * 2 * 16, rng), k = RandomVector(n * 2 * 16, rng),
         v = RandomVector(n * 2 * 16, rng);
    std::vector<float> out(q.size());
    c.Attend(0, q.data(), k.data(), v.data(), pos.data(), n, 0.25f, out.data(), threads);
  };
  auto a = CreateSequenceCache(shape, CacheConfig{}, &pool);
  fill(*a, 100);  // 64 bytes per token and head: 16 tokens per page -> 7 pages per head
  EXPECT_EQ(pool.pages_in_use(), 14u);
  a->Clear();
  EXPECT_EQ(pool.pages_in_use(), 0u);
  auto b = CreateSequenceCache(shape, CacheConfig{}, &pool);
  fill(*b, 100);
  EXPECT_EQ(pool.pages_allocated(), 14u) << "pages freed by one sequence are reused";
  EXPECT_EQ(pool.peak_pages_in_use(), 14u);
}

// A pool with a page limit: the batch that needs one page too many fails with
// a clear error, the pages stay accounted for, and after Clear() the pool and
// a cache on it work again.
TEST(FullCache, ExhaustedPoolIsAClearErrorAndRecoverable) {
  PagePool pool(1024, /*max_pages=*/6);  // 16 tokens a page: 48 per KV head
  const CacheShape shape{1, 2, 2, 16};
  ThreadPool threads(2);
  std::mt19937 rng(9);
  auto cache = CreateSequenceCache(shape, CacheConfig{}, &pool);
  int32_t next = 0;
  auto attend = [&](int n) {
    std::vector<int32_t> pos(n);
    for (int t = 0; t < n; ++t) pos[t] = next + t;
    auto q = RandomVector(n * 2 * 16, rng), k = RandomVector(n * 2 * 16, rng),
         v = RandomVector(n * 2 * 16, rng);
    std::vector<float> out(q.size(), NAN);
    cache->Attend(0, q.data(), k.data(), v.data(), pos.data(), n, 0.25f, out.data(), threads);
    cache->EndBatch(n > 1 ? BatchKind::kPromptEnd : BatchKind::kDecode);
    next += n;
    for (float x : out) ASSERT_TRUE(std::isfinite(x));
  };
  attend(40);
  for (int i = 0; i < 8; ++i) attend(1);
  EXPECT_EQ(pool.pages_in_use(), 6u);
  try {
    attend(1);  // token 49 needs a fourth page per KV head
    ADD_FAILURE() << "no error when the pool is exhausted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exhausted"), std::string::npos) << e.what();
  }
  EXPECT_LE(pool.pages_in_use(), 6u);
  cache->Clear();
  EXPECT_EQ(pool.pages_in_use(), 0u);
  EXPECT_EQ(cache->BytesHeld(), 0u);
  next = 0;
  attend(48);
  EXPECT_EQ(pool.pages_in_use(), 6u);
  EXPECT_EQ(cache->Stats().original_tokens, 2 * 48);
}

}  // namespace
}  // namespace arkv::kv
