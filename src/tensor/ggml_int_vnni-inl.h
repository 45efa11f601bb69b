// AVX-512 VNNI building blocks of the llama.cpp-compatible integer kernels
// (the tile kernel, ggml_int_vnni_tile-inl.h, and the K-quant matvec,
// ggml_int_vnni_k-inl.h). Included once per Highway target; the code exists
// only in the AVX3_DL target, which Highway selects at run time on CPUs with
// AVX512-VNNI (Ice Lake and later, Zen 4 and later).

#if defined(ARKV_TENSOR_GGML_INT_VNNI_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ARKV_TENSOR_GGML_INT_VNNI_INL_H_
#undef ARKV_TENSOR_GGML_INT_VNNI_INL_H_
#else
#define ARKV_TENSOR_GGML_INT_VNNI_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/aligned.h"
#include "hwy/highway.h"
#include "tensor/matmul-inl.h"  // HalfToFloat
#include "tensor/matmul_internal.h"
#include "tensor/quant_blocks.h"

#if HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_AVX3_DL

// acc + (u8 u) . (i8 s) per group of four bytes. Inline assembly, because
// Highway 1.0.3's AVX3_DL target enables "avxvnni" (the VEX form, absent on
// Zen 4) but not "avx512vnni", so the intrinsic would not compile; {evex}
// forces the AVX512-VNNI encoding that the run-time dispatch checked for.
HWY_INLINE __m256i Dpbusd(__m256i acc, __m256i u, __m256i s) {
  asm("%{evex%} vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "vm"(s));
  return acc;
}

// Per-thread scratch reused across calls: a decode step must not allocate.
// Each buffer of one kernel call takes its own slot. The tile kernel keeps
// slots 0, 1 and 5 from one row chunk of a MatMul call to the next (call_id).
inline constexpr int kVnniScratchSlots = 7;
template <class T>
T* VnniScratch(size_t count, int slot) {
  thread_local AlignedPtr<unsigned char> bufs[kVnniScratchSlots];
  thread_local size_t capacity[kVnniScratchSlots] = {};
  const size_t bytes = count * sizeof(T);
  if (bytes > capacity[slot]) {
    bufs[slot] = AllocAligned<unsigned char>(bytes);
    capacity[slot] = bytes;
  }
  return reinterpret_cast<T*>(bufs[slot].get());
}

#endif  // HWY_TARGET == HWY_AVX3_DL

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#endif  // ARKV_TENSOR_GGML_INT_VNNI_INL_H_
