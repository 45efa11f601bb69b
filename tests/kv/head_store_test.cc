// HeadStores: cache order (position order over the Original and Quantized
// slots) after Applies that leave the Quantized store out of position order.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "arkv/kv_page_pool.h"
#include "kv/head_store.h"

namespace arkv::kv {
namespace {

constexpr int kDim = 4;

std::vector<TokenState> States(const HeadSnapshot& s, std::vector<int32_t> quantize,
                               std::vector<int32_t> evict) {
  std::vector<TokenState> next = s.states;
  for (size_t i = 0; i < s.positions.size(); ++i) {
    for (int32_t p : quantize) {
      if (s.positions[i] == p) next[i] = TokenState::kQuantized;
    }
    for (int32_t p : evict) {
      if (s.positions[i] == p) next[i] = TokenState::kEvicted;
    }
  }
  return next;
}

TEST(HeadStores, CacheOrderIsPositionOrderAcrossBothStores) {
  PagePool pool(256);  // a few tokens a page, so that slots span pages
  HeadStores head(&pool, SlotFormat::kF16, SlotFormat::kFp8, kDim);
  const std::vector<float> k(kDim, 0.5f), v(kDim, -0.5f);
  for (int32_t p = 0; p < 20; ++p) head.Append(k.data(), v.data(), p);
  // Quantize 12, 3 and 7 (stored in cache order: 3, 7, 12) and evict 0;
  // then quantize 1, 15 and 5 and evict 7: the Quantized store holds 3, 12,
  // 1, 5, 15.
  head.Apply(head.Snapshot(), States(head.Snapshot(), {12, 3, 7}, {0}));
  head.Apply(head.Snapshot(), States(head.Snapshot(), {1, 15, 5}, {7}));
  ASSERT_EQ(head.quantized().size(), 5);
  ASSERT_EQ(head.original().size(), 13);
  // Store order differs from position order (the case the merge handles).
  ASSERT_GT(head.quantized().position(1), head.quantized().position(2));
  const HeadSnapshot s = head.Snapshot();
  const std::vector<int32_t> want = {1,  2,  3,  4,  5,  6,  8,  9,  10,
                                     11, 12, 13, 14, 15, 16, 17, 18, 19};
  EXPECT_EQ(s.positions, want);
  const int no = head.original().size();
  for (size_t i = 0; i < s.slots.size(); ++i) {
    const int slot = s.slots[i];
    const bool quantized = slot >= no;
    const int32_t p =
        quantized ? head.quantized().position(slot - no) : head.original().position(slot);
    EXPECT_EQ(p, s.positions[i]) << "token " << i;
    const bool want_q = p == 1 || p == 3 || p == 5 || p == 12 || p == 15;
    EXPECT_EQ(quantized, want_q) << "position " << p;
    EXPECT_EQ(s.states[i], want_q ? TokenState::kQuantized : TokenState::kOriginal);
  }
}

}  // namespace
}  // namespace arkv::kv
