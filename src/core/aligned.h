// Aligned heap buffers for SIMD kernels.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace arkv {

inline constexpr size_t kAlign = 64;

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

template <typename T>
using AlignedPtr = std::unique_ptr<T[], AlignedFree>;

// Zero-initialized array of n trivially constructible T, aligned to kAlign.
template <typename T>
AlignedPtr<T> AllocAligned(size_t n) {
  const size_t bytes = ((n * sizeof(T) + kAlign - 1) / kAlign) * kAlign;
  void* p = std::aligned_alloc(kAlign, bytes == 0 ? kAlign : bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes == 0 ? kAlign : bytes);
  return AlignedPtr<T>(static_cast<T*>(p));
}

}  // namespace arkv
