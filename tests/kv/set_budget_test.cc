// SetBudget: a live cache takes a smaller budget and compresses to it at once,
// a larger one compresses nothing, and the new budget holds at every later
// batch (what an engine relies on when it re-shares one pool among sequences).
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_cache.h"
#include "arkv/kv_memory.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace arkv::kv {
namespace {

using testing::RandomVector;

// stories260K's cache shape: 5 layers, 8 query heads, 4 KV heads of dim 8.
constexpr CacheShape kSmall{5, 8, 4, 8};
constexpr size_t kPage = 576;  // a private pool's page for this shape

void Batch(SequenceCache& cache, int32_t first, int n, BatchKind kind, std::mt19937& rng,
           ThreadPool& threads) {
  testing::AttendRandomBatch(cache, kSmall, first, n, kind, rng, threads);
}

std::vector<std::vector<CachedToken>> AllTokens(const SequenceCache& cache) {
  std::vector<std::vector<CachedToken>> all;
  for (int l = 0; l < kSmall.n_layers; ++l) {
    for (int h = 0; h < kSmall.n_kv_heads; ++h) all.push_back(cache.Tokens(l, h));
  }
  return all;
}

bool SameTokens(const std::vector<std::vector<CachedToken>>& a,
                const std::vector<std::vector<CachedToken>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size()) return false;
    for (size_t j = 0; j < a[i].size(); ++j) {
      if (a[i][j].position != b[i][j].position || a[i][j].quantized != b[i][j].quantized) {
        return false;
      }
    }
  }
  return true;
}

const PolicyKind kCompressing[] = {PolicyKind::kWindow, PolicyKind::kSnapKV, PolicyKind::kEvict,
                                   PolicyKind::kQuant, PolicyKind::kArkv};

// Shrink to a third mid-decode, decode on, grow back, decode on: the pages
// are inside the budget of the moment right after SetBudget and after every
// batch, and the grown cache uses more than the small budget again.
TEST(SetBudget, ByteBudgetsShrinkAtOnceAndHoldAfterEveryBatch) {
  const int64_t large = 40 * 1024, small = large / 3;
  for (PolicyKind policy : kCompressing) {
    SCOPED_TRACE(std::string(PolicyName(policy)));
    CacheConfig config;
    config.policy = policy;
    config.window = 8;
    config.budget = Budget::Bytes(large);
    PagePool pool(kPage);
    auto cache = CreateSequenceCache(kSmall, config, &pool);
    std::mt19937 rng(11);
    ThreadPool threads(2);
    int64_t budget = large;
    auto check = [&](const char* when) {
      const CacheStats st = cache->Stats();
      ASSERT_EQ(st.pool_bytes, static_cast<int64_t>(pool.pages_in_use() * kPage)) << when;
      ASSERT_LE(st.pool_bytes, budget) << when;
    };
    int32_t next = 0;
    Batch(*cache, next, 200, BatchKind::kPromptEnd, rng, threads);
    next += 200;
    for (int i = 0; i < 40; ++i) Batch(*cache, next++, 1, BatchKind::kDecode, rng, threads);
    check("before");
    const int64_t held_large = cache->Stats().pool_bytes;
    ASSERT_GT(held_large, small) << "the small budget must bind";
    const int64_t capacity_large = cache->Stats().layers[0].capacity_tokens;

    budget = small;
    cache->SetBudget(Budget::Bytes(small));
    check("right after SetBudget");
    EXPECT_LT(cache->Stats().layers[0].capacity_tokens, capacity_large);
    for (int i = 0; i < 60; ++i) {
      Batch(*cache, next++, 1, BatchKind::kDecode, rng, threads);
      check("decode at the small budget");
      if (HasFatalFailure()) return;
    }

    // Growing compresses nothing: the same tokens in the same states.
    const auto before = AllTokens(*cache);
    budget = large;
    cache->SetBudget(Budget::Bytes(large));
    EXPECT_TRUE(SameTokens(before, AllTokens(*cache)));
    EXPECT_EQ(cache->Stats().layers[0].capacity_tokens, capacity_large);
    for (int i = 0; i < 150; ++i) {
      Batch(*cache, next++, 1, BatchKind::kDecode, rng, threads);
      check("decode at the large budget again");
      if (HasFatalFailure()) return;
    }
    EXPECT_GT(cache->Stats().pool_bytes, small) << "the grown budget is used";
  }
}

// Token budgets: every layer and KV head holds at most the new C at once,
// the newest of the tokens it held (window: the sinks and the newest).
TEST(SetBudget, TokenBudgetsKeepTheNewestTokens) {
  for (PolicyKind policy : kCompressing) {
    SCOPED_TRACE(std::string(PolicyName(policy)));
    CacheConfig config;
    config.policy = policy;
    config.window = 8;
    config.sinks = 4;
    config.budget = Budget::Tokens(64);
    auto cache = CreateSequenceCache(kSmall, config);
    std::mt19937 rng(5);
    ThreadPool threads(1);
    Batch(*cache, 0, 100, BatchKind::kPromptEnd, rng, threads);
    for (int i = 0; i < 20; ++i) Batch(*cache, 100 + i, 1, BatchKind::kDecode, rng, threads);
    const auto before = AllTokens(*cache);
    const size_t c = 24;
    cache->SetBudget(Budget::Tokens(static_cast<int64_t>(c)));
    const auto after = AllTokens(*cache);
    for (size_t i = 0; i < before.size(); ++i) {
      ASSERT_GT(before[i].size(), c);
      ASSERT_EQ(after[i].size(), c) << "head " << i;
      std::vector<int32_t> want;
      if (policy == PolicyKind::kWindow) {
        for (size_t j = 0; j < 4; ++j) want.push_back(before[i][j].position);
      }
      for (size_t j = before[i].size() - (c - want.size()); j < before[i].size(); ++j) {
        want.push_back(before[i][j].position);
      }
      std::vector<int32_t> got;
      for (const CachedToken& t : after[i]) got.push_back(t.position);
      EXPECT_EQ(got, want) << "head " << i;
    }
    EXPECT_EQ(cache->Stats().layers[0].capacity_tokens, static_cast<int64_t>(c));
  }
}

// The same budget again changes nothing; a cache re-set to the budget it was
// created with before any token behaves exactly like one never re-set.
TEST(SetBudget, SettingTheSameBudgetChangesNothing) {
  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.window = 8;
  config.budget = Budget::Bytes(24 * 1024);
  PagePool pool_a(kPage), pool_b(kPage);
  auto a = CreateSequenceCache(kSmall, config, &pool_a);
  auto b = CreateSequenceCache(kSmall, config, &pool_b);
  b->SetBudget(Budget::Bytes(1 << 20));
  b->SetBudget(config.budget);
  std::mt19937 rng_a(3), rng_b(3);
  ThreadPool threads(1);
  Batch(*a, 0, 150, BatchKind::kPromptEnd, rng_a, threads);
  Batch(*b, 0, 150, BatchKind::kPromptEnd, rng_b, threads);
  for (int i = 0; i < 50; ++i) {
    Batch(*a, 150 + i, 1, BatchKind::kDecode, rng_a, threads);
    Batch(*b, 150 + i, 1, BatchKind::kDecode, rng_b, threads);
    if (i == 20) b->SetBudget(config.budget);
  }
  EXPECT_TRUE(SameTokens(AllTokens(*a), AllTokens(*b)));
  EXPECT_EQ(a->Stats().pool_bytes, b->Stats().pool_bytes);
}

TEST(SetBudget, BadBudgetsAreRefusedAndLeaveTheCacheAsItWas) {
  CacheConfig full;
  auto f = CreateSequenceCache(kSmall, full);
  EXPECT_THROW(f->SetBudget(Budget::Tokens(64)), Error);

  CacheConfig config;
  config.policy = PolicyKind::kArkv;
  config.window = 8;
  config.budget = Budget::Bytes(32 * 1024);
  PagePool pool(kPage);
  auto cache = CreateSequenceCache(kSmall, config, &pool);
  std::mt19937 rng(9);
  ThreadPool threads(1);
  Batch(*cache, 0, 120, BatchKind::kPromptEnd, rng, threads);
  const auto before = AllTokens(*cache);
  const int64_t capacity = cache->Stats().layers[2].capacity_tokens;
  auto expect_error = [&](const Budget& budget, const std::string& what) {
    try {
      cache->SetBudget(budget);
      ADD_FAILURE() << "accepted " << FormatBudget(budget);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
    EXPECT_TRUE(SameTokens(before, AllTokens(*cache))) << FormatBudget(budget);
    EXPECT_EQ(cache->Stats().layers[2].capacity_tokens, capacity) << FormatBudget(budget);
  };
  expect_error(Budget::Tokens(64), "unit");
  expect_error(Budget::Bytes(0), "budget");
  expect_error(Budget::Bytes(2048), "cannot hold the window");
  // The smallest byte budget is accepted, one byte less is not.
  const int64_t least = MinByteBudget(kSmall, config, kPage);
  expect_error(Budget::Bytes(least - 1), "cannot hold the window");
  cache->SetBudget(Budget::Bytes(least));
  EXPECT_LE(cache->Stats().pool_bytes, least);
  EXPECT_EQ(cache->Stats().layers[2].capacity_tokens, config.window);
}

}  // namespace
}  // namespace arkv::kv
