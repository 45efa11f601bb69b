#include <algorithm>
#include <cstdlib>
#include <new>

#include "arkv/kv_page_pool.h"
#include "core/error.h"

namespace arkv::kv {

PagePool::PagePool(size_t page_bytes, size_t max_pages)
    : page_bytes_(page_bytes), max_pages_(max_pages) {
  if (page_bytes < 64 || page_bytes % 64 != 0) {
    Fail("KV page size must be a multiple of 64 bytes and at least 64, got {}", page_bytes);
  }
}

PagePool::~PagePool() {
  for (uint8_t* p : all_) std::free(p);
}

uint8_t* PagePool::Acquire() {
  std::lock_guard<std::mutex> lock(mu_);
  uint8_t* page = nullptr;
  if (!free_.empty()) {
    page = free_.back();
    free_.pop_back();
  } else {
    if (max_pages_ != 0 && all_.size() >= max_pages_) {
      Fail("KV page pool exhausted: all {} pages of {} bytes are in use", max_pages_, page_bytes_);
    }
    page = static_cast<uint8_t*>(std::aligned_alloc(64, page_bytes_));
    if (page == nullptr) throw std::bad_alloc();
    all_.push_back(page);
  }
  ++in_use_;
  peak_ = std::max(peak_, in_use_);
  return page;
}

void PagePool::Release(uint8_t* page) {
  std::lock_guard<std::mutex> lock(mu_);
  ARKV_DASSERT(in_use_ > 0);
  free_.push_back(page);
  --in_use_;
}

size_t PagePool::pages_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

size_t PagePool::peak_pages_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

size_t PagePool::pages_allocated() const {
  std::lock_guard<std::mutex> lock(mu_);
  return all_.size();
}

}  // namespace arkv::kv
