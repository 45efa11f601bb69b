#include "kv/token_store.h"

#include <cstring>

#include "core/error.h"

namespace arkv::kv {

SlotStore::SlotStore(PagePool* pool, SlotFormat format, int head_dim)
    : pool_(pool), format_(format), head_dim_(head_dim), slot_bytes_(SlotBytes(format, head_dim)) {
  if (slot_bytes_ > pool->page_bytes()) {
    Fail("KV page of {} bytes cannot hold one token of {} bytes (head_dim {})", pool->page_bytes(),
         slot_bytes_, head_dim);
  }
  per_page_ = static_cast<int>(pool->page_bytes() / slot_bytes_);
}

SlotStore::SlotStore(SlotStore&& other) noexcept
    : pool_(other.pool_),
      format_(other.format_),
      head_dim_(other.head_dim_),
      slot_bytes_(other.slot_bytes_),
      per_page_(other.per_page_),
      pages_(std::move(other.pages_)),
      positions_(std::move(other.positions_)) {
  other.pages_.clear();
  other.positions_.clear();
}

SlotStore::~SlotStore() { Clear(); }

uint8_t* SlotStore::Append(int32_t position) {
  const size_t i = positions_.size();
  if (i / per_page_ >= pages_.size()) pages_.push_back(pool_->Acquire());
  positions_.push_back(position);
  return slot(static_cast<int>(i));
}

void SlotStore::Compact(std::span<const uint8_t> keep) {
  ARKV_DASSERT(keep.size() == positions_.size());
  size_t w = 0;
  for (size_t r = 0; r < positions_.size(); ++r) {
    if (!keep[r]) continue;
    if (w != r) {
      std::memcpy(slot(static_cast<int>(w)), slot(static_cast<int>(r)), slot_bytes_);
      positions_[w] = positions_[r];
    }
    ++w;
  }
  positions_.resize(w);
  ReleasePagesBeyond(w);
}

void SlotStore::ReleasePagesBeyond(size_t n_tokens) {
  const size_t needed = (n_tokens + per_page_ - 1) / per_page_;
  while (pages_.size() > needed) {
    pool_->Release(pages_.back());
    pages_.pop_back();
  }
}

void SlotStore::Clear() {
  positions_.clear();
  ReleasePagesBeyond(0);
}

SlotSpan SlotStore::View() const {
  SlotSpan s;
  s.pages = pages_.data();
  s.positions = positions_.data();
  s.n_tokens = size();
  s.tokens_per_page = per_page_;
  s.slot_bytes = slot_bytes_;
  s.format = format_;
  return s;
}

}  // namespace arkv::kv
