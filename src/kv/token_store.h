// Token slots of one format over pool pages: the storage of one state (Original
// or Quantized) of one layer and KV head. Slot i lives in page i / per_page at
// byte (i % per_page) * slot_bytes; removing tokens compacts the slots and
// returns the pages no longer needed to the pool at once.
//
// Slot layouts (d = head_dim):
//   Original f16/f32:   K[d] then V[d]
//   Quantized:          f32 k_scale, f32 v_scale, K codes, V codes
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "arkv/kv_config.h"
#include "arkv/kv_page_pool.h"

namespace arkv::kv {

enum class SlotFormat : uint8_t { kF16, kF32, kFp8, kInt8, kInt4 };

SlotFormat OriginalFormat(OriginalType type);
SlotFormat QuantizedFormat(QuantType type);
size_t SlotBytes(SlotFormat format, int head_dim);

// A read-only view of a SlotStore for kernels (valid until the store changes).
struct SlotSpan {
  const uint8_t* const* pages = nullptr;
  const int32_t* positions = nullptr;
  int n_tokens = 0;
  int tokens_per_page = 0;
  size_t slot_bytes = 0;
  SlotFormat format = SlotFormat::kF16;

  const uint8_t* slot(int i) const {
    return pages[i / tokens_per_page] + static_cast<size_t>(i % tokens_per_page) * slot_bytes;
  }
};

class SlotStore {
 public:
  SlotStore(PagePool* pool, SlotFormat format, int head_dim);
  ~SlotStore();
  SlotStore(SlotStore&& other) noexcept;
  SlotStore& operator=(SlotStore&&) = delete;
  SlotStore(const SlotStore&) = delete;
  SlotStore& operator=(const SlotStore&) = delete;

  int size() const { return static_cast<int>(positions_.size()); }
  SlotFormat format() const { return format_; }
  size_t slot_bytes() const { return slot_bytes_; }
  size_t bytes() const { return positions_.size() * slot_bytes_; }
  size_t pages_held() const { return pages_.size(); }
  const std::vector<int32_t>& positions() const { return positions_; }

  // A new slot at the end, for a token at `position`; its bytes are to be written.
  uint8_t* Append(int32_t position);
  uint8_t* slot(int i) {
    return pages_[i / per_page_] + static_cast<size_t>(i % per_page_) * slot_bytes_;
  }
  const uint8_t* slot(int i) const {
    return pages_[i / per_page_] + static_cast<size_t>(i % per_page_) * slot_bytes_;
  }

  // Keeps the slots with keep[i] != 0 (in their order) and frees the rest.
  void Compact(std::span<const uint8_t> keep);
  void Clear();

  SlotSpan View() const;

 private:
  void ReleasePagesBeyond(size_t n_tokens);

  PagePool* pool_;
  SlotFormat format_;
  int head_dim_;
  size_t slot_bytes_;
  int per_page_;
  std::vector<uint8_t*> pages_;
  std::vector<int32_t> positions_;
};

// Writes a token's K and V rows (f32, head_dim each) into a slot of `format`.
void EncodeSlot(SlotFormat format, const float* k, const float* v, int head_dim, uint8_t* slot);
// Reads a slot's K and V rows back as f32.
void DecodeSlot(SlotFormat format, const uint8_t* slot, int head_dim, float* k, float* v);

}  // namespace arkv::kv
