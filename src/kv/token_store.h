// Token slots of one format over pool pages: the storage of one state (Original
// or Quantized) of one layer and KV head. Token i lives in page i / per_page at
// byte (i % per_page) * stride: its position (int32), then its slot (the bytes
// described in codecs.h). Positions live in the pages, beside the K/V data and
// scales, so that the pages are everything a token holds: the pool's pages in
// use are the whole memory of the cache (bar a few words of bookkeeping per
// store), and a byte budget on pages bounds what the process really holds.
// Removing tokens compacts the slots and returns the pages no longer needed to
// the pool at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "arkv/kv_page_pool.h"
#include "kv/codecs.h"

namespace arkv::kv {

// A read-only view of a SlotStore for kernels (valid until the store changes).
// Bytes of a token's stored position, before its slot.
inline constexpr size_t kPositionBytes = sizeof(int32_t);

// Bytes one token of `format` takes in a page: its position and its slot.
constexpr size_t TokenStride(SlotFormat format, int head_dim) {
  return kPositionBytes + SlotBytes(format, head_dim);
}

// Page size of a cache's private pool: kTokensPerPrivatePage tokens of the
// largest stride, rounded up to 64 bytes (the pool's alignment), so that a
// tiny model does not pay a 4 KiB page per store.
inline constexpr size_t kTokensPerPrivatePage = 16;
size_t PrivatePageBytes(size_t largest_stride);

struct SlotSpan {
  const uint8_t* const* pages = nullptr;
  int n_tokens = 0;
  int tokens_per_page = 0;
  size_t stride = 0;  // TokenStride
  SlotFormat format = SlotFormat::kF16;

  const uint8_t* token(int i) const {
    return pages[i / tokens_per_page] + static_cast<size_t>(i % tokens_per_page) * stride;
  }
  const uint8_t* slot(int i) const { return token(i) + kPositionBytes; }
  int32_t position(int i) const {
    int32_t p;
    std::memcpy(&p, token(i), sizeof(p));
    return p;
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

  int size() const { return size_; }
  SlotFormat format() const { return format_; }
  size_t stride() const { return stride_; }
  int tokens_per_page() const { return per_page_; }
  // Bytes of the tokens held (positions, scales, K and V), and of their pages.
  size_t bytes() const { return static_cast<size_t>(size_) * stride_; }
  size_t pages_held() const { return pages_.size(); }
  int32_t position(int i) const { return View().position(i); }

  // A new slot at the end, for a token at `position`; its bytes are to be written.
  uint8_t* Append(int32_t position);
  uint8_t* slot(int i) { return Token(i) + kPositionBytes; }
  const uint8_t* slot(int i) const { return View().slot(i); }

  // Keeps the slots with keep[i] != 0 (in their order) and frees the rest.
  void Compact(std::span<const uint8_t> keep);
  void Clear();

  SlotSpan View() const;

 private:
  void ReleasePagesBeyond(size_t n_tokens);
  uint8_t* Token(int i) {
    return pages_[i / per_page_] + static_cast<size_t>(i % per_page_) * stride_;
  }

  PagePool* pool_;
  SlotFormat format_;
  int head_dim_;
  size_t stride_;
  int per_page_;
  int size_ = 0;
  std::vector<uint8_t*> pages_;
};

}  // namespace arkv::kv
