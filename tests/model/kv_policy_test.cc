// Every KV policy on a real model (stories260K), run well past its budget:
// a chunked prompt, then greedy decoding for ten times the budget. After every
// batch the cache must satisfy the invariants of issue 3:
//  - every layer and KV head holds at most C tokens;
//  - the last W positions are cached and Original;
//  - a token once Quantized is never Original again;
//  - the bytes reported equal the bytes of the tokens held (f16 Original:
//    2 * d * 2 bytes; fp8 Quantized: 2 * d codes + 2 f32 scales);
//  - the shared page pool stays bounded by what C tokens need.
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"
#include "golden_util.h"
#include "model/model.h"
#include "runtime/logit_scan.h"
#include "runtime/session.h"

namespace arkv {
namespace {

using testing::ReadIds;
using testing::SharedExists;
using testing::SharedPath;

constexpr int kBudget = 64;
constexpr int kWindow = 16;

class KvPolicyOnRealModel : public ::testing::TestWithParam<kv::PolicyKind> {};

TEST_P(KvPolicyOnRealModel, InvariantsHoldWhileDecodingTenTimesTheBudget) {
  if (!SharedExists("models/stories260K.gguf")) GTEST_SKIP() << "shared data absent";
  auto model = Model::Load(SharedPath("models/stories260K.gguf"));
  const kv::CacheShape shape = model->cache_shape();
  kv::CacheConfig cfg;
  cfg.policy = GetParam();
  cfg.budget = kv::Budget::Tokens(kBudget);
  cfg.window = kWindow;
  kv::PagePool pages;
  ThreadPool pool(2);
  Session session(*model, kv::CreateSequenceCache(shape, cfg, &pages), pool, /*prefill_chunk=*/48);

  // A 128-token prompt of real text (the golden ids), in chunks of 48.
  const std::vector<int32_t> prompt = ReadIds(SharedPath("golden/real/stories260K/ids.txt"));
  ASSERT_EQ(prompt.size(), 128u);
  std::span<const float> logits = session.Prefill(prompt);

  const int d = shape.head_dim;
  // K and V, plus scales when quantized, plus the stored position (4 bytes).
  const int64_t orig_token_bytes = 2 * d * 2 + 4;
  const int64_t quant_token_bytes = 2 * d + 2 * 4 + 4;
  // Each layer and KV head keeps an Original and a Quantized store; each may
  // hold one partly used page beyond what its tokens need.
  const int64_t page = static_cast<int64_t>(pages.page_bytes());
  const int64_t per_store_pages = (kBudget * orig_token_bytes + page - 1) / page + 1;
  const int64_t page_bound = int64_t{shape.n_layers} * shape.n_kv_heads * 2 * per_store_pages;

  std::vector<std::set<int32_t>> ever_quantized(shape.n_layers * shape.n_kv_heads);
  int64_t max_pages = 0;
  const int steps = 10 * kBudget;
  for (int step = 0; step <= steps; ++step) {
    const kv::CacheStats st = session.cache().Stats();
    const int n_past = session.n_past();
    int64_t orig = 0, quant = 0;
    for (int l = 0; l < shape.n_layers; ++l) {
      for (int h = 0; h < shape.n_kv_heads; ++h) {
        const std::vector<kv::CachedToken> toks = session.cache().Tokens(l, h);
        ASSERT_LE(static_cast<int>(toks.size()), kBudget) << "layer " << l << " head " << h;
        std::set<int32_t> original_positions;
        for (const kv::CachedToken& t : toks) {
          auto& q = ever_quantized[l * shape.n_kv_heads + h];
          if (t.quantized) {
            q.insert(t.position);
            ++quant;
          } else {
            ASSERT_EQ(q.count(t.position), 0u) << "position " << t.position << " was promoted";
            original_positions.insert(t.position);
            ++orig;
          }
        }
        for (int p = n_past - kWindow; p < n_past; ++p) {
          ASSERT_EQ(original_positions.count(p), 1u)
              << "window position " << p << " not Original in layer " << l << " head " << h;
        }
      }
    }
    ASSERT_EQ(st.original_tokens, orig);
    ASSERT_EQ(st.quantized_tokens, quant);
    ASSERT_EQ(st.bytes, orig * orig_token_bytes + quant * quant_token_bytes);
    ASSERT_EQ(static_cast<int64_t>(session.cache().BytesHeld()), st.bytes);
    // The cache is alone on its pool: its pages are the pool's pages in use.
    ASSERT_EQ(st.pool_bytes, static_cast<int64_t>(pages.pages_in_use() * pages.page_bytes()));
    ASSERT_LE(st.bytes, st.pool_bytes);
    ASSERT_LE(static_cast<int64_t>(pages.pages_in_use()), page_bound);
    max_pages = std::max<int64_t>(max_pages, pages.pages_in_use());
    if (step == steps) break;
    logits = session.Decode(Argmax(logits.data(), static_cast<int>(logits.size())));
  }
  EXPECT_LE(static_cast<int64_t>(pages.peak_pages_in_use()),
            page_bound + int64_t{shape.n_layers} * shape.n_kv_heads * 2);
  if (GetParam() == kv::PolicyKind::kQuant || GetParam() == kv::PolicyKind::kArkv) {
    size_t quantized_ever = 0;
    for (const auto& s : ever_quantized) quantized_ever += s.size();
    EXPECT_GT(quantized_ever, 0u) << "the policy never used its Quantized state";
  } else {
    for (const auto& s : ever_quantized)
      EXPECT_TRUE(s.empty()) << "policy without a Quantized state quantized";
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, KvPolicyOnRealModel,
                         ::testing::Values(kv::PolicyKind::kWindow, kv::PolicyKind::kSnapKV,
                                           kv::PolicyKind::kEvict, kv::PolicyKind::kQuant,
                                           kv::PolicyKind::kArkv),
                         [](const auto& info) { return std::string(kv::PolicyName(info.param)); });

}  // namespace
}  // namespace arkv
