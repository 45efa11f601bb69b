// Token slots of one format over pool pages: the storage of one state (Original
// or Quantized) of one layer and KV head. Slot i lives in page i / per_page at
// byte (i % per_page) * slot_bytes; removing tokens compacts the slots and
// returns the pages no longer needed to the pool at once. The bytes of a slot
// are described in codecs.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "arkv/kv_page_pool.h"
#include "kv/codecs.h"

namespace arkv::kv {

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

}  // namespace arkv::kv
