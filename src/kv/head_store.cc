#include "kv/head_store.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace arkv::kv {

HeadStores::HeadStores(PagePool* pool, SlotFormat original, SlotFormat quantized, int head_dim)
    : head_dim_(head_dim),
      original_(pool, original, head_dim),
      quantized_(pool, quantized, head_dim) {}

void HeadStores::Append(const float* k, const float* v, int32_t position) {
  EncodeSlot(original_.format(), k, v, head_dim_, original_.Append(position));
}

std::vector<int> HeadStores::CacheOrder() const {
  const SlotSpan po = original_.View();
  const SlotSpan pq = quantized_.View();
  const int no = original_.size();
  const int nq = quantized_.size();
  std::vector<int32_t> positions(static_cast<size_t>(no) + nq);
  for (int i = 0; i < no; ++i) positions[i] = po.position(i);
  for (int i = 0; i < nq; ++i) positions[no + i] = pq.position(i);
  std::vector<int> order(positions.size());
  std::iota(order.begin(), order.end(), 0);
  auto by_position = [&](int a, int b) { return positions[a] < positions[b]; };
  const auto q_begin = order.begin() + no;
  // Original slots are appended in position order and compaction keeps it,
  // so only the Quantized slots (appended by every Apply) need sorting; then
  // one merge. Stable throughout: equal positions keep slot order, as one
  // stable sort of all slots would.
  if (!std::is_sorted(order.begin(), q_begin, by_position)) {
    std::stable_sort(order.begin(), q_begin, by_position);
  }
  std::stable_sort(q_begin, order.end(), by_position);
  std::inplace_merge(order.begin(), q_begin, order.end(), by_position);
  return order;
}

HeadSnapshot HeadStores::Snapshot() const {
  HeadSnapshot s;
  s.slots = CacheOrder();
  const int no = original_.size();
  s.positions.reserve(s.slots.size());
  s.states.reserve(s.slots.size());
  for (int slot : s.slots) {
    const bool original = slot < no;
    s.positions.push_back(original ? original_.position(slot) : quantized_.position(slot - no));
    s.states.push_back(original ? TokenState::kOriginal : TokenState::kQuantized);
  }
  return s;
}

AppliedStates HeadStores::Apply(const HeadSnapshot& snapshot, std::span<const TokenState> next) {
  ARKV_DASSERT(snapshot.slots.size() == static_cast<size_t>(size()));
  ARKV_DASSERT(next.size() == snapshot.slots.size());
  const int no = original_.size();
  AppliedStates applied;
  std::vector<uint8_t> keep_original(no, 1), keep_quantized(quantized_.size(), 1);
  std::vector<int> to_quantize;
  for (size_t i = 0; i < next.size(); ++i) {
    const int slot = snapshot.slots[i];
    const TokenState now = snapshot.states[i];
    const TokenState want = next[i];
    if (want == now) continue;
    ARKV_DASSERT(!(now == TokenState::kQuantized && want == TokenState::kOriginal));
    if (want == TokenState::kEvicted) {
      (slot < no ? keep_original[slot] : keep_quantized[slot - no]) = 0;
      ++applied.evicted;
    } else if (now == TokenState::kOriginal && want == TokenState::kQuantized) {
      keep_original[slot] = 0;
      to_quantize.push_back(slot);
      ++applied.quantized;
    }
  }
  quantized_.Compact(keep_quantized);
  std::vector<float> k(head_dim_), v(head_dim_);
  for (int slot : to_quantize) {
    DecodeSlot(original_.format(), original_.slot(slot), head_dim_, k.data(), v.data());
    EncodeSlot(quantized_.format(), k.data(), v.data(), head_dim_,
               quantized_.Append(original_.position(slot)));
  }
  applied.peak_bytes = bytes();
  original_.Compact(keep_original);
  return applied;
}

void HeadStores::Clear() {
  original_.Clear();
  quantized_.Clear();
}

}  // namespace arkv::kv
