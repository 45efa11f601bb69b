// The baselines on small cases whose kept token sets are worked out by hand
// below (not by the code under test): `window` (StreamingLLM), `snapkv`
// (SnapKV's own score, with and without decode compression), `evict` (the
// paper's Origin) and `quant` (the paper's Quant), plus SnapKV's score itself.
#include <cmath>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_cache.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kv/scoring.h"

namespace arkv::kv {
namespace {

// One layer, one query head, one KV head of dim 2: every logit is a dot
// product the comments can evaluate.
constexpr CacheShape kTiny{1, 1, 1, 2};

struct Token {
  float q[2];
  float k[2];
};

// Runs one batch of tokens at positions first.. through the cache (scale 1).
void Feed(SequenceCache& cache, const std::vector<Token>& batch, int32_t first, BatchKind kind) {
  ThreadPool threads(1);
  const int n = static_cast<int>(batch.size());
  std::vector<float> q, k, v;
  std::vector<int32_t> pos;
  for (int t = 0; t < n; ++t) {
    q.insert(q.end(), batch[t].q, batch[t].q + 2);
    k.insert(k.end(), batch[t].k, batch[t].k + 2);
    v.insert(v.end(), {static_cast<float>(t), 1.0f});
    pos.push_back(first + t);
  }
  std::vector<float> out(q.size());
  cache.Attend(0, q.data(), k.data(), v.data(), pos.data(), n, 1.0f, out.data(), threads);
  cache.EndBatch(kind);
}

struct Held {
  std::set<int32_t> original, quantized;
};

Held HeldTokens(const SequenceCache& cache) {
  Held h;
  for (const CachedToken& t : cache.Tokens(0, 0)) {
    (t.quantized ? h.quantized : h.original).insert(t.position);
  }
  return h;
}

std::set<int32_t> Range(int32_t from, int32_t to) {  // [from, to)
  std::set<int32_t> s;
  for (int32_t p = from; p < to; ++p) s.insert(p);
  return s;
}

std::set<int32_t> Union(std::set<int32_t> a, const std::set<int32_t>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

// ---------------------------------------------------------------------------
// window: StreamingLLM keeps the first `sinks` tokens and the last C - sinks.

TEST(Baselines, WindowKeepsSinksAndTheMostRecentTokens) {
  CacheConfig config;
  config.policy = PolicyKind::kWindow;
  config.budget = Budget::Tokens(6);
  config.window = 4;
  config.sinks = 2;
  config.original = OriginalType::kF32;
  for (int chunk : {10, 3, 1}) {
    auto cache = CreateSequenceCache(kTiny, config);
    std::vector<Token> prompt(10, Token{{0.5f, 0.0f}, {1.0f, 0.0f}});
    for (int done = 0; done < 10; done += chunk) {
      const int m = std::min(chunk, 10 - done);
      Feed(*cache, std::vector<Token>(prompt.begin() + done, prompt.begin() + done + m), done,
           done + m == 10 ? BatchKind::kPromptEnd : BatchKind::kPromptChunk);
    }
    // 10 tokens, C = 6: sinks {0, 1} and the last 6 - 2 = 4, {6, 7, 8, 9}.
    EXPECT_EQ(HeldTokens(*cache).original, (std::set<int32_t>{0, 1, 6, 7, 8, 9}))
        << "chunk " << chunk;
    // Token 10 arrives: sinks {0, 1} and {7, 8, 9, 10}.
    Feed(*cache, {Token{{0.5f, 0.0f}, {1.0f, 0.0f}}}, 10, BatchKind::kDecode);
    EXPECT_EQ(HeldTokens(*cache).original, (std::set<int32_t>{0, 1, 7, 8, 9, 10}));
    EXPECT_TRUE(HeldTokens(*cache).quantized.empty());
  }
  config.sinks = 0;  // no sinks: the last 6 tokens
  auto cache = CreateSequenceCache(kTiny, config);
  Feed(*cache, std::vector<Token>(10, Token{{0.5f, 0.0f}, {1.0f, 0.0f}}), 0, BatchKind::kPromptEnd);
  EXPECT_EQ(HeldTokens(*cache).original, Range(4, 10));
}

// ---------------------------------------------------------------------------
// The scored baselines share one prompt of T = 16 tokens, W = 4, C = 7: the
// window is {12..15}, the past {0..11}, and C - W = 3 past tokens are kept.
// Keys (x, y) and the window's queries, scale 1:
//   k0 = (-30, 0); kj = (ln j, 0) for j = 1, 3..11; k2 = (ln 2, 30);
//   k12 = (-30, 5); k13..k15 = (-30, -30).
//   query 12 = (0, 1): logit 30 on token 2, <= 5 elsewhere, so it attends to
//     token 2 alone (1 - 2e-11).
//   queries 13, 14, 15 = (1, 0): weight j on past token j >= 1 and e^-30 on
//     token 0 and the window, so each gives token j the probability j / 66.
// Per past token j, over the four window queries:
//   SnapKV's sum s_j (units of 1/66): 3j, plus 66 for j = 2:
//     s = 0 3 72 9 12 15 18 21 24 27 30 33
//   pooled with kernel 5 (zero padding counted; x 5 / 66):
//     p = 75 84 96 111 126 75 90 105 120 135 114 90
//   top 3: p9 = 135, p4 = 126, p8 = 120 (next p10 = 114): keeps {4, 8, 9}.
//   ARKV's mean + gamma * var (gamma 263.8, unbiased var over 4 queries): for
//     j != 2 the values are (0, a, a, a), a = j / 66: .75a + 66a^2 <= 1.96;
//     token 2's are (1, b, b, b), b = 2 / 66: .27 + 263.8 * .235 = 62.3. The
//     pooled scores of 0..4 all hold token 2; their other terms grow with j,
//     so top 3 are 4 (tokens 2..6), 3 (1..5) and 2 (0..4): keeps {2, 3, 4}.
std::vector<Token> ScoredPrompt() {
  std::vector<Token> t(16);
  for (int j = 0; j < 16; ++j) {
    t[j].q[0] = 0.0f;
    t[j].q[1] = 0.0f;
    t[j].k[0] = j >= 1 && j <= 11 ? std::log(static_cast<float>(j)) : -30.0f;
    t[j].k[1] = j <= 11 ? 0.0f : -30.0f;
  }
  t[2].k[1] = 30.0f;
  t[12].k[1] = 5.0f;
  t[12].q[1] = 1.0f;
  for (int j = 13; j < 16; ++j) t[j].q[0] = 1.0f;
  return t;
}

// The decode step at position 16: query (0, 1), key (-30, -30). Its attention
// goes by the keys' y: 1 for y = 0, e^5 = 148.4 for token 12, e^30 for token
// 2, e^-30 for the window.
const Token kDecodeToken{{0.0f, 1.0f}, {-30.0f, -30.0f}};

std::unique_ptr<SequenceCache> PromptCache(PolicyKind policy, SnapKvDecode snapkv_decode) {
  CacheConfig config;
  config.policy = policy;
  config.budget = Budget::Tokens(7);
  config.window = 4;
  config.original = OriginalType::kF32;
  config.snapkv_decode = snapkv_decode;
  auto cache = CreateSequenceCache(kTiny, config);
  Feed(*cache, ScoredPrompt(), 0, BatchKind::kPromptEnd);
  return cache;
}

TEST(Baselines, SnapKvKeepsTheTopOfItsOwnPooledSumScore) {
  for (SnapKvDecode mode : {SnapKvDecode::kEvict, SnapKvDecode::kNone}) {
    auto cache = PromptCache(PolicyKind::kSnapKV, mode);
    const Held prompt = HeldTokens(*cache);
    // {4, 8, 9} by SnapKV's score (ARKV's score would keep {2, 3, 4}).
    EXPECT_EQ(prompt.original, Union({4, 8, 9}, Range(12, 16))) << SnapKvDecodeName(mode);
    EXPECT_TRUE(prompt.quantized.empty());
    Feed(*cache, {kDecodeToken}, 16, BatchKind::kDecode);
    const Held decoded = HeldTokens(*cache);
    if (mode == SnapKvDecode::kNone) {
      // SnapKV compresses the prompt only: token 16 is simply added.
      EXPECT_EQ(decoded.original, Union({4, 8, 9}, Range(12, 17)));
      continue;
    }
    // [ours] evict: 8 > C tokens; past {4, 8, 9, 12} (the window is now
    // {13..16}) with attention 1 1 1 148.4; pooled in position order (sums of
    // entries 0..2, 0..3, 0..3, 1..3): 3, 151.4, 151.4, 150.4: token 4 goes.
    EXPECT_EQ(decoded.original, Union({8, 9, 12}, Range(13, 17)));
  }
}

TEST(Baselines, SnapKvWithoutDecodeCompressionRejectsByteBudgets) {
  CacheConfig config;
  config.policy = PolicyKind::kSnapKV;
  config.snapkv_decode = SnapKvDecode::kNone;
  config.budget = Budget::Bytes(64 * 1024);
  try {
    ValidateConfig(config);
    FAIL() << "accepted --snapkv-decode none with a byte budget";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("snapkv_decode: none never compresses"), std::string::npos)
        << e.what();
  }
  config.budget = Budget::Tokens(64);
  EXPECT_NO_THROW(ValidateConfig(config));
  EXPECT_EQ(ParseSnapKvDecode("none"), SnapKvDecode::kNone);
  EXPECT_EQ(ParseSnapKvDecode("evict"), SnapKvDecode::kEvict);
  EXPECT_EQ(CacheConfig{}.snapkv_decode, SnapKvDecode::kEvict);
  EXPECT_THROW(ParseSnapKvDecode("keep"), Error);
}

TEST(Baselines, EvictKeepsArkvsTopTokensOriginal) {
  auto cache = PromptCache(PolicyKind::kEvict, SnapKvDecode::kEvict);
  // {2, 3, 4} by ARKV's score (see ScoredPrompt), all Original.
  EXPECT_EQ(HeldTokens(*cache).original, Union({2, 3, 4}, Range(12, 16)));
  EXPECT_TRUE(HeldTokens(*cache).quantized.empty());
  // Decode: 8 > C; past {2, 3, 4, 12}, keep floor(0.75 * 4) = 3. Attention
  // ~1 on token 2, e^-30 on 3 and 4, 1.4e-11 on 12; pooled: ~1, ~1, ~1 and
  // 1.4e-11 (entries 1..3): token 12 goes.
  Feed(*cache, {kDecodeToken}, 16, BatchKind::kDecode);
  EXPECT_EQ(HeldTokens(*cache).original, Union({2, 3, 4}, Range(13, 17)));
  EXPECT_TRUE(HeldTokens(*cache).quantized.empty());
}

TEST(Baselines, QuantQuantizesEveryKeptPastTokenAtEachCompression) {
  // Below C nothing is quantized.
  {
    CacheConfig config;
    config.policy = PolicyKind::kQuant;
    config.budget = Budget::Tokens(7);
    config.window = 4;
    config.original = OriginalType::kF32;
    auto cache = CreateSequenceCache(kTiny, config);
    std::vector<Token> six = ScoredPrompt();
    six.resize(6);
    Feed(*cache, six, 0, BatchKind::kPromptEnd);
    EXPECT_EQ(HeldTokens(*cache).original, Range(0, 6));
    EXPECT_TRUE(HeldTokens(*cache).quantized.empty());
  }
  auto cache = PromptCache(PolicyKind::kQuant, SnapKvDecode::kEvict);
  // The same choice as evict, {2, 3, 4}, now Quantized; the window Original.
  EXPECT_EQ(HeldTokens(*cache).quantized, (std::set<int32_t>{2, 3, 4}));
  EXPECT_EQ(HeldTokens(*cache).original, Range(12, 16));
  // Decode as for evict (fp8 keeps these y values: 30 and 0 are exact):
  // token 12 goes, {2, 3, 4} stay Quantized.
  Feed(*cache, {kDecodeToken}, 16, BatchKind::kDecode);
  EXPECT_EQ(HeldTokens(*cache).quantized, (std::set<int32_t>{2, 3, 4}));
  EXPECT_EQ(HeldTokens(*cache).original, Range(13, 17));
}

// SnapKV's score on numbers small enough to check by hand: 2 query heads of
// one KV head, 2 observation queries, 3 keys, kernel 3.
TEST(Baselines, SnapKvScoreSumsPoolsPerHeadAndAveragesTheGroup) {
  const std::vector<double> a = {
      0.5, 0.3, 0.2, 0.1, 0.1, 0.8,  // head 0: sums .6 .4 1.0
      0.0, 0.0, 1.0, 1.0, 0.0, 0.0,  // head 1: sums 1 0 1
  };
  const AttentionView<double> view{a.data(), 2, 2, 3, 6, 3};
  std::vector<double> out(3);
  ComputeSnapKvScore(view, 1, out, 3);
  // head 0 pooled: (0 + .6 + .4) / 3, (.6 + .4 + 1) / 3, (.4 + 1 + 0) / 3
  //             = .3333, .6667, .4667; head 1: 1/3, 2/3, 1/3; mean of both:
  const double expected[3] = {1.0 / 3, 2.0 / 3, 0.4};
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(out[j], expected[j], 1e-12) << j;
  // Two KV heads (one query head each) are scored separately.
  std::vector<double> two(6);
  ComputeSnapKvScore(view, 2, two, 3);
  EXPECT_NEAR(two[2], 1.4 / 3, 1e-12);
  EXPECT_NEAR(two[5], 1.0 / 3, 1e-12);
}

}  // namespace
}  // namespace arkv::kv
