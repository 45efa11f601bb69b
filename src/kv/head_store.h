// The cached tokens of one layer and KV head: an Original and a Quantized slot
// store. New tokens are appended Original; a policy's decision (a state per
// token) is carried out in one step, Apply, which is the only place tokens
// change state or leave.
//
// Cache order: the order in which scores are computed and policies see the
// tokens (pooling smooths over neighbours in this order). It is position
// order; CacheOrder() is the one place that defines it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "arkv/kv_page_pool.h"
#include "kv/scoring.h"
#include "kv/token_store.h"

namespace arkv::kv {

// The tokens of one head in cache order, as a policy sees them.
struct HeadSnapshot {
  // Per token: its slot, an index into Original slots (< n_original) or,
  // minus n_original, into Quantized slots.
  std::vector<int> slots;
  std::vector<int32_t> positions;
  std::vector<TokenState> states;  // kOriginal or kQuantized
};

// What one Apply did.
struct AppliedStates {
  int64_t evicted = 0;
  int64_t quantized = 0;
  // The head's largest bytes while applying (Quantized copies are written
  // before their Original slots are freed).
  size_t peak_bytes = 0;
};

class HeadStores {
 public:
  HeadStores(PagePool* pool, SlotFormat original, SlotFormat quantized, int head_dim);

  int size() const { return original_.size() + quantized_.size(); }
  size_t bytes() const { return original_.bytes() + quantized_.bytes(); }
  size_t pages_held() const { return original_.pages_held() + quantized_.pages_held(); }
  const SlotStore& original() const { return original_; }
  const SlotStore& quantized() const { return quantized_; }
  // The spans attention reads: Original slots first, then Quantized; a key
  // index of the attention kernel's probability capture counts in this order.
  std::array<SlotSpan, 2> Spans() const { return {original_.View(), quantized_.View()}; }

  // Appends a token Original: k and v are head_dim floats.
  void Append(const float* k, const float* v, int32_t position);

  // Slots (as in HeadSnapshot::slots) in cache order.
  std::vector<int> CacheOrder() const;
  HeadSnapshot Snapshot() const;

  // Carries out next[i], the next state of snapshot token i: evicts, and
  // moves Original tokens to the Quantized store. `snapshot` must describe the
  // current contents. A Quantized token never becomes Original again.
  AppliedStates Apply(const HeadSnapshot& snapshot, std::span<const TokenState> next);

  void Clear();

 private:
  int head_dim_;
  SlotStore original_;
  SlotStore quantized_;
};

}  // namespace arkv::kv
