#include "kv/token_store.h"

#include <cstring>

#include "core/error.h"

namespace arkv::kv {

size_t PrivatePageBytes(size_t largest_stride) {
  const size_t bytes = kTokensPerPrivatePage * largest_stride;
  return (bytes + 63) / 64 * 64;
}

SlotStore::SlotStore(PagePool* pool, SlotFormat format, int head_dim)
    : pool_(pool), format_(format), head_dim_(head_dim), stride_(TokenStride(format, head_dim)) {
  if (stride_ > pool->page_bytes()) {
    Fail("KV page of {} bytes cannot hold one token of {} bytes (head_dim {})", pool->page_bytes(),
         stride_, head_dim);
  }
  per_page_ = static_cast<int>(pool->page_bytes() / stride_);
}

SlotStore::SlotStore(SlotStore&& other) noexcept
    : pool_(other.pool_),
      format_(other.format_),
      head_dim_(other.head_dim_),
      stride_(other.stride_),
      per_page_(other.per_page_),
      size_(other.size_),
      pages_(std::move(other.pages_)) {
  other.pages_.clear();
  other.size_ = 0;
}

SlotStore::~SlotStore() { Clear(); }

uint8_t* SlotStore::Append(int32_t position) {
  const int i = size_;
  if (static_cast<size_t>(i / per_page_) >= pages_.size()) pages_.push_back(pool_->Acquire());
  ++size_;
  uint8_t* token = Token(i);
  std::memcpy(token, &position, sizeof(position));
  return token + kPositionBytes;
}

void SlotStore::Compact(std::span<const uint8_t> keep) {
  ARKV_DASSERT(keep.size() == static_cast<size_t>(size_));
  int w = 0;
  for (int r = 0; r < size_; ++r) {
    if (!keep[r]) continue;
    if (w != r) std::memcpy(Token(w), Token(r), stride_);
    ++w;
  }
  size_ = w;
  ReleasePagesBeyond(static_cast<size_t>(w));
}

void SlotStore::ReleasePagesBeyond(size_t n_tokens) {
  const size_t needed = (n_tokens + per_page_ - 1) / per_page_;
  while (pages_.size() > needed) {
    pool_->Release(pages_.back());
    pages_.pop_back();
  }
}

void SlotStore::Clear() {
  size_ = 0;
  ReleasePagesBeyond(0);
}

SlotSpan SlotStore::View() const {
  SlotSpan s;
  s.pages = pages_.data();
  s.n_tokens = size_;
  s.tokens_per_page = per_page_;
  s.stride = stride_;
  s.format = format_;
  return s;
}

}  // namespace arkv::kv
