// The fused attention kernel over Original and Quantized slot stores, against
// a double-precision reference, with every mix of states, shuffled positions
// (the store order is not the position order), causal query blocks and the
// captured probabilities.
#include "kv/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kv/token_store.h"
#include "test_util.h"

namespace arkv::kv {
namespace {

using testing::RandomVector;
using testing::ReferenceAttention;
using testing::RefToken;

struct MixCase {
  SlotFormat original, quantized;
  int group, head_dim;
  double quantized_share;  // 0: all Original, 1: all Quantized
};

class MixedAttentionTest : public ::testing::TestWithParam<MixCase> {};

TEST_P(MixedAttentionTest, MatchesDoubleReference) {
  const MixCase c = GetParam();
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
  double quant_err = 0;  // how far the Quantized values are from the input
  auto add = [&](SlotStore& store, std::vector<RefToken>& ref, int32_t pos) {
    auto k = RandomVector(d, rng, -2, 2), v = RandomVector(d, rng);
    uint8_t* slot = store.Append(pos);
    EncodeSlot(store.format(), k.data(), v.data(), d, slot);
    std::vector<float> kd(d), vd(d);
    DecodeSlot(store.format(), slot, d, kd.data(), vd.data());
    for (int i = 0; i < d; ++i) quant_err = std::max(quant_err, double(std::fabs(kd[i] - k[i])));
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
  double max_out = 0, max_prob = 0;
  for (int t = 0; t < n_new; ++t) {
    std::vector<double> expect, expect_p;
    ReferenceAttention(all, &q[static_cast<size_t>(t) * group * d], group, d, q_pos[t], scale,
                       expect, &expect_p);
    for (int i = 0; i < group * d; ++i) {
      max_out =
          std::max(max_out, std::fabs(out[static_cast<size_t>(t) * group * d + i] - expect[i]));
    }
    if (t >= n_new - w) {
      for (int g = 0; g < group; ++g) {
        for (int k = 0; k < n_keys; ++k) {
          const double got = probs[(static_cast<size_t>(g) * w + t - (n_new - w)) * n_keys + k];
          max_prob = std::max(max_prob, std::fabs(got - expect_p[g * n_keys + k]));
        }
      }
    }
  }
  std::printf("[ mix q=%.2f d=%d G=%d ] max |out-ref| %.3g, max |p-ref| %.3g (codec err %.3g)\n",
              c.quantized_share, d, group, max_out, max_prob, quant_err);
  EXPECT_LT(max_out, 2e-5);
  EXPECT_LT(max_prob, 2e-6);
}

INSTANTIATE_TEST_SUITE_P(Mixes, MixedAttentionTest,
                         ::testing::Values(MixCase{SlotFormat::kF16, SlotFormat::kFp8, 1, 8, 0.0},
                                           MixCase{SlotFormat::kF16, SlotFormat::kFp8, 2, 64, 0.3},
                                           MixCase{SlotFormat::kF16, SlotFormat::kFp8, 4, 128, 1.0},
                                           MixCase{SlotFormat::kF32, SlotFormat::kInt8, 4, 32, 0.5},
                                           MixCase{SlotFormat::kF16, SlotFormat::kInt4, 2, 16, 0.7},
                                           MixCase{SlotFormat::kF32, SlotFormat::kFp8, 3, 40,
                                                   0.9}));

}  // namespace
}  // namespace arkv::kv
