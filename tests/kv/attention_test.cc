// The fused attention kernel over Original and Quantized slot stores, against
// a double-precision reference, with every mix of states, shuffled positions
// (the store order is not the position order), causal query blocks and the
// captured probabilities.
#include "kv/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "common/compare.h"
#include "hwy/targets.h"
#include "kv/codecs.h"
#include "kv/token_store.h"
#include "test_util.h"

namespace arkv::kv {
namespace {

using ::arkv::testing::MaxAbsDiff;
using testing::RandomVector;
using testing::ReferenceAttention;
using testing::RefToken;

struct MixCase {
  SlotFormat original, quantized;
  int group, head_dim;
  double quantized_share;  // 0: all Original, 1: all Quantized
};

// Attends a causal block of 13 queries over 150 cached tokens (shuffled
// positions, split between the two states) plus the block itself, capturing the
// probabilities of the last 5 queries, and compares with the reference.
void CheckMix(const MixCase& c, const char* label) {
  const int d = c.head_dim, group = c.group;
  PagePool pool(4096);
  SlotStore orig(&pool, c.original, d), quant(&pool, c.quantized, d);
  std::mt19937 rng(99 + d + group);
  const int n_past = 150, n_new = 13;  // cached tokens, then a causal block
  std::vector<int32_t> positions(n_past);
  std::iota(positions.begin(), positions.end(), 0);
  std::shuffle(positions.begin(), positions.end(), rng);
  std::bernoulli_distribution to_quant(c.quantized_share);
  // Reference keys/values: what the stores hold (decoded), in span order.
  std::vector<RefToken> in_orig, in_quant;
  MaxAbsDiff quant_err;  // how far the Quantized values are from the input
  auto add = [&](SlotStore& store, std::vector<RefToken>& ref, int32_t pos) {
    auto k = RandomVector(d, rng, -2, 2), v = RandomVector(d, rng);
    uint8_t* slot = store.Append(pos);
    EncodeSlot(store.format(), k.data(), v.data(), d, slot);
    std::vector<float> kd(d), vd(d);
    DecodeSlot(store.format(), slot, d, kd.data(), vd.data());
    quant_err.AddAll(kd.data(), k.data(), d);
    ref.push_back({pos, std::vector<double>(kd.begin(), kd.end()),
                   std::vector<double>(vd.begin(), vd.end())});
  };
  for (int t = 0; t < n_past; ++t) {
    if (to_quant(rng)) {
      add(quant, in_quant, positions[t]);
    } else {
      add(orig, in_orig, positions[t]);
    }
  }
  // The new block is Original, at positions n_past .. n_past + n_new - 1.
  std::vector<int32_t> q_pos(n_new);
  for (int t = 0; t < n_new; ++t) {
    q_pos[t] = n_past + t;
    add(orig, in_orig, q_pos[t]);
  }
  std::vector<RefToken> all = in_orig;
  all.insert(all.end(), in_quant.begin(), in_quant.end());
  const int n_keys = static_cast<int>(all.size());

  const auto q = RandomVector(static_cast<size_t>(n_new) * group * d, rng, -2, 2);
  std::vector<float> out(q.size(), NAN);
  const int w = 5;  // capture the last w queries
  std::vector<float> probs(static_cast<size_t>(group) * w * n_keys, NAN);
  const double scale = 1.0 / std::sqrt(double(d));
  // Two query blocks, as the cache splits them.
  const SlotSpan spans[2] = {orig.View(), quant.View()};
  for (int t0 : {0, 7}) {
    QueryBlock qb;
    qb.q = q.data() + static_cast<size_t>(t0) * group * d;
    qb.q_token_stride = static_cast<size_t>(group) * d;
    qb.positions = q_pos.data() + t0;
    qb.n_queries = t0 == 0 ? 7 : n_new - 7;
    qb.group = group;
    qb.head_dim = d;
    qb.scale = static_cast<float>(scale);
    qb.out = out.data() + static_cast<size_t>(t0) * group * d;
    qb.out_token_stride = static_cast<size_t>(group) * d;
    ProbCapture cap{probs.data(), t0, n_new - w, w, n_keys};
    AttendKvHead(spans, 2, qb, &cap);
  }
  MaxAbsDiff max_out, max_prob;
  for (int t = 0; t < n_new; ++t) {
    std::vector<double> expect, expect_p;
    ReferenceAttention(all, &q[static_cast<size_t>(t) * group * d], group, d, q_pos[t], scale,
                       expect, &expect_p);
    for (int i = 0; i < group * d; ++i) {
      max_out.Add(out[static_cast<size_t>(t) * group * d + i], expect[i]);
    }
    if (t >= n_new - w) {
      for (int g = 0; g < group; ++g) {
        for (int k = 0; k < n_keys; ++k) {
          const double got = probs[(static_cast<size_t>(g) * w + t - (n_new - w)) * n_keys + k];
          max_prob.Add(got, expect_p[g * n_keys + k]);
        }
      }
    }
  }
  std::printf("[ %s mix q=%.2f d=%d G=%d ] max |out-ref| %.3g, max |p-ref| %.3g (codec err %.3g)\n",
              label, c.quantized_share, d, group, max_out.value(), max_prob.value(),
              quant_err.value());
  EXPECT_TRUE(max_out.Within(2e-5)) << label << " d=" << d << " G=" << group;
  EXPECT_TRUE(max_prob.Within(2e-6)) << label << " d=" << d << " G=" << group;
}

class MixedAttentionTest : public ::testing::TestWithParam<MixCase> {};

TEST_P(MixedAttentionTest, MatchesDoubleReference) { CheckMix(GetParam(), "dispatch"); }

INSTANTIATE_TEST_SUITE_P(Mixes, MixedAttentionTest,
                         ::testing::Values(MixCase{SlotFormat::kF16, SlotFormat::kFp8, 1, 8, 0.0},
                                           MixCase{SlotFormat::kF16, SlotFormat::kFp8, 2, 64, 0.3},
                                           MixCase{SlotFormat::kF16, SlotFormat::kFp8, 4, 128, 1.0},
                                           MixCase{SlotFormat::kF32, SlotFormat::kInt8, 4, 32, 0.5},
                                           MixCase{SlotFormat::kF16, SlotFormat::kInt4, 2, 16, 0.7},
                                           MixCase{SlotFormat::kF32, SlotFormat::kFp8, 3, 40, 0.9},
                                           MixCase{SlotFormat::kF16, SlotFormat::kInt8, 2, 20, 0.4},
                                           MixCase{SlotFormat::kF16, SlotFormat::kFp8, 1, 256, 0.5},
                                           MixCase{SlotFormat::kF32, SlotFormat::kInt4, 5, 72,
                                                   0.6}));

// Every SIMD target compiled into the library and supported by this CPU (e.g.
// SSSE3, SSE4, AVX2, AVX-512 and the portable fallback) passes the mixes,
// including head dims that are not a multiple of its vector width.
TEST(AttentionTargets, EveryCompiledTargetMatchesReference) {
  const MixCase cases[] = {
      {SlotFormat::kF16, SlotFormat::kFp8, 1, 8, 0.5},
      {SlotFormat::kF16, SlotFormat::kFp8, 4, 128, 0.5},
      {SlotFormat::kF32, SlotFormat::kInt8, 3, 20, 0.5},
      {SlotFormat::kF16, SlotFormat::kInt4, 2, 40, 0.5},
      {SlotFormat::kF16, SlotFormat::kInt4, 1, 64, 0.8},
      {SlotFormat::kF32, SlotFormat::kFp8, 2, 36, 0.3},
  };
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    for (const MixCase& c : cases) CheckMix(c, hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
}

// The kernel's dequantization is exact on every target: with one visible key
// and a one-hot query e_c (scale 1), the logit (reported as the row max) is the
// decoded K[c] and the output is the decoded V, bit for bit, for every element
// of the row including a head dim's tail. Values span the codecs' subnormals.
TEST(AttentionTargets, DecodedKeysAndValuesAreExact) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> mag(-2.0f, 2.0f);
  // Relative sizes reaching fp16 subnormals (1e-6, 2e-5) and fp8 ones (2e-5).
  const float factors[] = {1.0f, 1.0f, 1.0f, 3e-3f, 2e-5f, 1e-6f};
  std::uniform_int_distribution<int> pick(0, 5);
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    for (SlotFormat format : {SlotFormat::kF16, SlotFormat::kF32, SlotFormat::kFp8,
                              SlotFormat::kInt8, SlotFormat::kInt4}) {
      for (int d : {8, 12, 20, 40, 128, 256}) {
        PagePool pool(4096);
        SlotStore store(&pool, format, d);
        std::vector<float> k(d), v(d);
        for (int c = 0; c < d; ++c) {
          k[c] = mag(rng) * factors[pick(rng)];
          v[c] = mag(rng) * factors[pick(rng)];
        }
        uint8_t* slot = store.Append(3);
        EncodeSlot(format, k.data(), v.data(), d, slot);
        std::vector<float> kd(d), vd(d);
        DecodeSlot(format, slot, d, kd.data(), vd.data());
        const SlotSpan span = store.View();
        for (int c = 0; c < d; ++c) {
          std::vector<float> q(d, 0.0f), out(d, NAN);
          q[c] = 1.0f;
          float row_max = NAN, row_sum = NAN;
          const int32_t pos = 3;
          QueryBlock qb;
          qb.q = q.data();
          qb.positions = &pos;
          qb.n_queries = 1;
          qb.head_dim = d;
          qb.out = out.data();
          qb.row_max = &row_max;
          qb.row_sum = &row_sum;
          AttendKvHead(&span, 1, qb, nullptr);
          ASSERT_EQ(row_max, kd[c]) << hwy::TargetName(target) << " format "
                                    << static_cast<int>(format) << " d=" << d << " c=" << c;
          ASSERT_EQ(row_sum, 1.0f);
          for (int i = 0; i < d; ++i) {
            ASSERT_EQ(out[i], vd[i]) << hwy::TargetName(target) << " format "
                                     << static_cast<int>(format) << " d=" << d << " i=" << i;
          }
        }
      }
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// All 256 fp8 e4m3 codes as one V row (head dim 256, K of scale 0): with a
// single key the output is the decoded V, equal to the codec's table times the
// scale on every target, NaN codes included.
TEST(AttentionTargets, EveryFp8CodeDecodesExactly) {
  constexpr int d = 256;
  const float v_scale = 1.5f;
  PagePool pool(4096);
  SlotStore store(&pool, SlotFormat::kFp8, d);
  uint8_t* slot = store.Append(0);
  const float k_scale = 0.0f;
  std::memcpy(slot, &k_scale, 4);
  std::memcpy(slot + 4, &v_scale, 4);
  for (int i = 0; i < d; ++i) {
    slot[8 + i] = 0;
    slot[8 + d + i] = static_cast<uint8_t>(i);
  }
  const SlotSpan span = store.View();
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    std::vector<float> q(d, 1.0f), out(d, 0.0f);
    const int32_t pos = 0;
    QueryBlock qb;
    qb.q = q.data();
    qb.positions = &pos;
    qb.n_queries = 1;
    qb.head_dim = d;
    qb.out = out.data();
    AttendKvHead(&span, 1, qb, nullptr);
    for (int i = 0; i < d; ++i) {
      const float expect = v_scale * Fp8E4M3ToF32(static_cast<uint8_t>(i));
      if (std::isnan(expect)) {
        EXPECT_TRUE(std::isnan(out[i])) << hwy::TargetName(target) << " code " << i;
      } else {
        EXPECT_EQ(out[i], expect) << hwy::TargetName(target) << " code " << i;
      }
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// Decode-shaped blocks: one query (or two) for a KV head's group of 1..5 query
// heads over 203 keys in shuffled positions, split between the two states, on
// every target. Up to 4 rows with a head dim of whole vectors take the direct
// tiles (keys and values read straight from the slots); the query position
// masks some keys of most tiles, and with two queries some tiles are live for
// one query only (the direct scores, then the general P.V).
void CheckDecode(const MixCase& c, int n_queries, const char* label) {
  const int d = c.head_dim, group = c.group;
  PagePool pool(4096);
  SlotStore orig(&pool, c.original, d), quant(&pool, c.quantized, d);
  std::mt19937 rng(7 + d + group + n_queries);
  const int n_keys = 203;
  std::vector<int32_t> positions(n_keys);
  std::iota(positions.begin(), positions.end(), 0);
  std::shuffle(positions.begin(), positions.end(), rng);
  std::bernoulli_distribution to_quant(c.quantized_share);
  std::vector<RefToken> in_orig, in_quant;
  for (int t = 0; t < n_keys; ++t) {
    SlotStore& store = to_quant(rng) ? quant : orig;
    auto k = RandomVector(d, rng, -2, 2), v = RandomVector(d, rng);
    uint8_t* slot = store.Append(positions[t]);
    EncodeSlot(store.format(), k.data(), v.data(), d, slot);
    std::vector<float> kd(d), vd(d);
    DecodeSlot(store.format(), slot, d, kd.data(), vd.data());
    (&store == &quant ? in_quant : in_orig)
        .push_back({positions[t], std::vector<double>(kd.begin(), kd.end()),
                    std::vector<double>(vd.begin(), vd.end())});
  }
  std::vector<RefToken> all = in_orig;
  all.insert(all.end(), in_quant.begin(), in_quant.end());
  // Query 0 sees keys 0..190; query 1 (if any) keys 0..40.
  const int32_t q_pos[2] = {190, 40};
  const auto q = RandomVector(static_cast<size_t>(n_queries) * group * d, rng, -2, 2);
  std::vector<float> out(q.size(), NAN);
  std::vector<float> row_max(static_cast<size_t>(n_queries) * group, NAN);
  std::vector<float> row_sum(row_max.size(), NAN);
  const double scale = 1.0 / std::sqrt(double(d));
  const SlotSpan spans[2] = {orig.View(), quant.View()};
  QueryBlock qb;
  qb.q = q.data();
  qb.q_token_stride = static_cast<size_t>(group) * d;
  qb.positions = q_pos;
  qb.n_queries = n_queries;
  qb.group = group;
  qb.head_dim = d;
  qb.scale = static_cast<float>(scale);
  qb.out = out.data();
  qb.out_token_stride = static_cast<size_t>(group) * d;
  qb.row_max = row_max.data();
  qb.row_sum = row_sum.data();
  AttendKvHead(spans, 2, qb, nullptr);
  MaxAbsDiff max_out;
  for (int t = 0; t < n_queries; ++t) {
    std::vector<double> expect;
    ReferenceAttention(all, &q[static_cast<size_t>(t) * group * d], group, d, q_pos[t], scale,
                       expect);
    max_out.AddAll(&out[static_cast<size_t>(t) * group * d], expect.data(),
                   static_cast<size_t>(group) * d);
  }
  EXPECT_TRUE(max_out.Within(2e-5))
      << label << " d=" << d << " G=" << group << " queries=" << n_queries;
  // The split statistics: each row's max logit is finite and its sum >= 1.
  for (size_t r = 0; r < row_max.size(); ++r) {
    EXPECT_TRUE(std::isfinite(row_max[r]) && row_sum[r] >= 1.0f) << label << " row " << r;
  }
}

TEST(AttentionTargets, DecodeRowsMatchReference) {
  const MixCase cases[] = {
      {SlotFormat::kF16, SlotFormat::kFp8, 4, 64, 0.0},
      {SlotFormat::kF16, SlotFormat::kFp8, 4, 64, 0.5},
      {SlotFormat::kF16, SlotFormat::kFp8, 1, 128, 0.3},
      {SlotFormat::kF16, SlotFormat::kFp8, 2, 64, 1.0},
      {SlotFormat::kF32, SlotFormat::kInt8, 3, 32, 0.5},
      {SlotFormat::kF16, SlotFormat::kInt4, 4, 48, 0.5},
      {SlotFormat::kF16, SlotFormat::kInt8, 5, 64, 0.4},
      {SlotFormat::kF32, SlotFormat::kFp8, 4, 20, 0.5},
  };
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    for (const MixCase& c : cases) {
      CheckDecode(c, 1, hwy::TargetName(target));
      if (c.group <= 2) CheckDecode(c, 2, hwy::TargetName(target));
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// A causal prompt block over keys in position order: early queries see none of
// the later tiles (fully masked tiles, rows with nothing to add), and the
// captured probabilities of every query match the reference.
TEST(AttentionTargets, CausalPromptWithMaskedTiles) {
  const int d = 24, group = 3, n = 100;
  std::mt19937 rng(8);
  PagePool pool(4096);
  SlotStore store(&pool, SlotFormat::kF16, d);
  std::vector<RefToken> ref;
  for (int t = 0; t < n; ++t) {
    const auto k = RandomVector(d, rng, -3, 3), v = RandomVector(d, rng);
    uint8_t* slot = store.Append(t);
    EncodeSlot(SlotFormat::kF16, k.data(), v.data(), d, slot);
    std::vector<float> kd(d), vd(d);
    DecodeSlot(SlotFormat::kF16, slot, d, kd.data(), vd.data());
    ref.push_back(
        {t, std::vector<double>(kd.begin(), kd.end()), std::vector<double>(vd.begin(), vd.end())});
  }
  const auto q = RandomVector(static_cast<size_t>(n) * group * d, rng, -2, 2);
  std::vector<int32_t> q_pos(n);
  std::iota(q_pos.begin(), q_pos.end(), 0);
  const double scale = 1.0 / std::sqrt(double(d));
  const SlotSpan span = store.View();
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    std::vector<float> out(q.size(), NAN), probs(static_cast<size_t>(group) * n * n, NAN);
    for (int t0 = 0; t0 < n; t0 += 8) {
      QueryBlock qb;
      qb.q = q.data() + static_cast<size_t>(t0) * group * d;
      qb.q_token_stride = static_cast<size_t>(group) * d;
      qb.positions = q_pos.data() + t0;
      qb.n_queries = std::min(8, n - t0);
      qb.group = group;
      qb.head_dim = d;
      qb.scale = static_cast<float>(scale);
      qb.out = out.data() + static_cast<size_t>(t0) * group * d;
      qb.out_token_stride = static_cast<size_t>(group) * d;
      ProbCapture cap{probs.data(), t0, 0, n, n};
      AttendKvHead(&span, 1, qb, &cap);
    }
    MaxAbsDiff max_out, max_prob;
    for (int t = 0; t < n; ++t) {
      std::vector<double> expect, expect_p;
      ReferenceAttention(ref, &q[static_cast<size_t>(t) * group * d], group, d, t, scale, expect,
                         &expect_p);
      for (int i = 0; i < group * d; ++i) {
        max_out.Add(out[static_cast<size_t>(t) * group * d + i], expect[i]);
      }
      for (int g = 0; g < group; ++g) {
        for (int k = 0; k < n; ++k) {
          const double got = probs[(static_cast<size_t>(g) * n + t) * n + k];
          max_prob.Add(got, expect_p[g * n + k]);
        }
      }
    }
    EXPECT_TRUE(max_out.Within(2e-5)) << hwy::TargetName(target);
    EXPECT_TRUE(max_prob.Within(2e-6)) << hwy::TargetName(target);
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace
}  // namespace arkv::kv
