// Bytes that are real: what a cache reports against what its pool holds, and
// byte budgets against the pool's whole pages after every batch (prompt
// chunks of every size and decode steps).
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_cache.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace arkv::kv {
namespace {

using testing::RandomVector;

// stories260K's cache shape: 5 layers, 8 query heads, 4 KV heads of dim 8.
constexpr CacheShape kSmall{5, 8, 4, 8};

void Batch(SequenceCache& cache, int32_t first, int n, BatchKind kind, std::mt19937& rng,
           ThreadPool& threads) {
  testing::AttendRandomBatch(cache, kSmall, first, n, kind, rng, threads);
}

// Per token of one KV head: K and V, scales when quantized, the position.
int64_t TokenBytes(bool quantized, int d) { return quantized ? 2 * d + 8 + 4 : 2 * d * 2 + 4; }

TEST(Bytes, PrivatePoolPagesAreSixteenTokensOfTheLargestSlot) {
  CacheConfig config;
  auto cache = CreateSequenceCache(kSmall, config);
  // f16, d = 8: 4 + 32 = 36 bytes; 16 of them = 576 = 9 x 64.
  EXPECT_EQ(cache->Stats().page_bytes, 576);
  config.original = OriginalType::kF32;  // 4 + 64 = 68: 1088 = 17 x 64
  EXPECT_EQ(CreateSequenceCache(kSmall, config)->Stats().page_bytes, 1088);
  // d = 1: fp8 (4 + 8 + 2 = 14) is larger than f16 (4 + 4 = 8): 224 -> 256.
  EXPECT_EQ(CreateSequenceCache({1, 1, 1, 1}, CacheConfig{})->Stats().page_bytes, 256);
  // A shared pool keeps the caller's page size.
  PagePool shared(4096);
  EXPECT_EQ(CreateSequenceCache(kSmall, CacheConfig{}, &shared)->Stats().page_bytes, 4096);
}

// After every batch: BytesHeld() is the tokens' bytes (positions and scales
// included), the pool's pages in use times the page size is Stats().pool_bytes,
// every store has at most one partly used page, and the pages never exceed
// the byte budget.
TEST(Bytes, ByteBudgetBoundsThePagesAfterEveryPromptChunkAndDecodeStep) {
  const int64_t budget = 40 * 1024;
  for (PolicyKind policy : {PolicyKind::kWindow, PolicyKind::kSnapKV, PolicyKind::kEvict,
                            PolicyKind::kQuant, PolicyKind::kArkv}) {
    for (int chunk : {1, 7, 200}) {
      CacheConfig config;
      config.policy = policy;
      config.budget = Budget::Bytes(budget);
      PagePool pool(576);  // the private pool's size for this shape
      auto cache = CreateSequenceCache(kSmall, config, &pool);
      std::mt19937 rng(7);
      ThreadPool threads(2);
      int32_t next = 0;
      auto check = [&](const char* when) {
        const CacheStats st = cache->Stats();
        int64_t bytes = 0;
        for (int l = 0; l < kSmall.n_layers; ++l) {
          for (int h = 0; h < kSmall.n_kv_heads; ++h) {
            for (const CachedToken& t : cache->Tokens(l, h)) {
              bytes += TokenBytes(t.quantized, kSmall.head_dim);
            }
          }
        }
        const int64_t pool_bytes = static_cast<int64_t>(pool.pages_in_use() * pool.page_bytes());
        ASSERT_EQ(static_cast<int64_t>(cache->BytesHeld()), bytes) << when;
        ASSERT_EQ(st.pool_bytes, pool_bytes) << when;
        ASSERT_LE(bytes, pool_bytes) << when;
        ASSERT_LT(pool_bytes, bytes + 2 * kSmall.n_layers * kSmall.n_kv_heads * 576) << when;
        ASSERT_LE(pool_bytes, budget)
            << PolicyName(policy) << " chunk " << chunk << " " << when << " at position " << next;
      };
      const int prompt = 200;
      for (int done = 0; done < prompt; done += chunk) {
        const int m = std::min(chunk, prompt - done);
        Batch(*cache, next, m, done + m == prompt ? BatchKind::kPromptEnd : BatchKind::kPromptChunk,
              rng, threads);
        next += m;
        check("prompt");
        if (HasFatalFailure()) return;
      }
      for (int step = 0; step < 150; ++step) {
        Batch(*cache, next++, 1, BatchKind::kDecode, rng, threads);
        check("decode");
        if (HasFatalFailure()) return;
      }
      // The budget is used, not left idle: more than 3/4 of it in pages.
      EXPECT_GT(cache->Stats().pool_bytes, budget * 3 / 4) << PolicyName(policy);
    }
  }
}

}  // namespace
}  // namespace arkv::kv
