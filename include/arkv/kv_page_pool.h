// A pool of fixed-size memory pages shared by any number of sequence caches.
// Pages freed by one sequence (an evicted token, a cleared cache) are handed to
// the next request, so eviction really returns memory. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace arkv::kv {

class PagePool {
 public:
  static constexpr size_t kDefaultPageBytes = 4096;

  // page_bytes: size of every page (a multiple of 64, >= 64). max_pages: 0 for
  // no limit; otherwise Acquire() throws arkv::Error when all are in use.
  explicit PagePool(size_t page_bytes = kDefaultPageBytes, size_t max_pages = 0);
  ~PagePool();
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  size_t page_bytes() const { return page_bytes_; }

  // A page of page_bytes() bytes, 64-byte aligned, contents unspecified.
  uint8_t* Acquire();
  void Release(uint8_t* page);

  size_t pages_in_use() const;
  size_t peak_pages_in_use() const;
  // Pages allocated from the system (in use + free list).
  size_t pages_allocated() const;

 private:
  size_t page_bytes_;
  size_t max_pages_;
  mutable std::mutex mu_;
  std::vector<uint8_t*> free_;
  std::vector<uint8_t*> all_;
  size_t in_use_ = 0;
  size_t peak_ = 0;
};

}  // namespace arkv::kv
