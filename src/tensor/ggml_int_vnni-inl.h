// AVX-512 VNNI bodies of the llama.cpp-compatible integer kernels for the
// 32-element block types (Q8_0, Q4_0 against Q8_0 activations). Included by
// ggml_int_kernels-inl.h once per Highway target; the code exists only in the
// AVX3_DL target, which Highway selects at run time on CPUs with AVX512-VNNI
// (Ice Lake and later, Zen 4 and later).
//
// vpdpbusd multiplies unsigned bytes by signed bytes, four products summed
// into each int32 lane. Both weight types are made unsigned by an offset:
//   Q8_0: w ^ 0x80 = w + 128 (as u8), so  sum (w + 128) x = sum w x + 128 sum x
//   Q4_0: the nibble q = w + 8 is already unsigned: sum q x = sum w x + 8 sum x
// and the accumulator of each block starts at -offset * (the lane sums of x),
// computed once per activation block and shared by every weight row. The
// int32 block sums equal llama.cpp's exactly; only the f32 accumulation
// order differs.

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
inline constexpr bool kHaveVnni = true;

// acc + (u8 u) . (i8 s) per group of four bytes. Inline assembly, because
// Highway 1.0.3's AVX3_DL target enables "avxvnni" (the VEX form, absent on
// Zen 4) but not "avx512vnni", so the intrinsic would not compile; {evex}
// forces the AVX512-VNNI encoding that the run-time dispatch checked for.
HWY_INLINE __m256i Dpbusd(__m256i acc, __m256i u, __m256i s) {
  asm("%{evex%} vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "vm"(s));
  return acc;
}

HWY_INLINE __m512i Dpbusd512(__m512i acc, __m512i u, __m512i s) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "vm"(s));
  return acc;
}

// Per-thread scratch reused across calls: a decode step must not allocate.
// Each buffer of one kernel call takes its own slot.
inline constexpr int kVnniScratchSlots = 6;
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

// A 32-block weight type for vpdpbusd: kOffset (see above) and
// Unsigned(block): its 32 quants plus kOffset as u8, in element order.
struct VnniQ8_0 {
  static constexpr int32_t kOffset = 128;
  static HWY_INLINE __m256i Unsigned(const uint8_t* block) {
    const __m256i w = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(reinterpret_cast<const BlockQ8_0*>(block)->qs));
    return _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80)));
  }
};
struct VnniQ4_0 {
  static constexpr int32_t kOffset = 8;
  static HWY_INLINE __m256i Unsigned(const uint8_t* block) {
    // Byte j: element j in the low nibble, element j + 16 in the high one.
    const __m128i q = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(reinterpret_cast<const BlockQ4_0*>(block)->qs));
    const __m256i both =
        _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
  }
};
// The VNNI form of a 32-block decoder, found through its Block type.
template <class Block>
struct VnniFor;
template <>
struct VnniFor<BlockQ8_0> {
  using type = VnniQ8_0;
};
template <>
struct VnniFor<BlockQ4_0> {
  using type = VnniQ4_0;
};

// Per activation block b of one token: its 32 quants (aligned), its f32
// scale and the starting accumulator -kOffset * (lane sums of the quants).
template <int32_t kOffset>
HWY_INLINE void PrepareVnniActs(const BlockQ8_0* x, int64_t n_blocks, __m256i* qs, float* dx,
                                __m256i* start) {
  const __m256i offset = _mm256_set1_epi8(static_cast<char>(kOffset));
  for (int64_t b = 0; b < n_blocks; ++b) {
    qs[b] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    dx[b] = HalfToFloat(&x[b].d);
    start[b] =
        _mm256_sub_epi32(_mm256_setzero_si256(), Dpbusd(_mm256_setzero_si256(), offset, qs[b]));
  }
}

HWY_INLINE float ReduceF32(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

// Matvec: four rows per pass share each activation vector; a software
// prefetch runs a few cache lines ahead on each row (four streams per
// thread, which the hardware prefetcher alone follows less eagerly).
template <class Dec>
void VnniMatVecRows(const internal::IntMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  using V = typename VnniFor<typename Dec::Block>::type;
  constexpr int64_t kR = 4;
  constexpr size_t kPrefetchBytes = 512;
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  const int64_t n_blocks = a.w.cols / kQK;
  auto* qs = VnniScratch<__m256i>(static_cast<size_t>(2 * n_blocks), 0);
  auto* dx = VnniScratch<float>(static_cast<size_t>(n_blocks), 1);
  __m256i* start = qs + n_blocks;
  PrepareVnniActs<V::kOffset>(static_cast<const BlockQ8_0*>(a.acts), n_blocks, qs, dx, start);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kR) {
    const uint8_t* rows[kR];
    __m256 acc[kR];
    for (int64_t r = 0; r < kR; ++r) {
      rows[r] = base + static_cast<size_t>(std::min(r0 + r, row_end - 1)) * a.w.row_bytes;
      acc[r] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
      const __m256i xv = qs[b];
      const __m256 dxb = _mm256_set1_ps(dx[b]);
      for (int64_t r = 0; r < kR; ++r) {
        const uint8_t* blk = rows[r] + b * Dec::kBlockBytes;
        if ((b & 1) == 0)
          _mm_prefetch(reinterpret_cast<const char*>(blk) + kPrefetchBytes, _MM_HINT_T0);
        const __m256i isum = Dpbusd(start[b], V::Unsigned(blk), xv);
        const __m256 scale = _mm256_mul_ps(dxb, _mm256_set1_ps(Dec::Scale(blk)));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, acc[r]);
      }
    }
    for (int64_t r = 0; r < kR && r0 + r < row_end; ++r) a.y[r0 + r] = ReduceF32(acc[r]);
  }
}
// Batched matmul (prefill), two blocks (64 bytes) per 512-bit vector. The
// activations are first laid out per token as contiguous quants, starting
// accumulators and f32 scales (each scale repeated over the eight lanes of
// its block); each row tile's weights are decoded once into unsigned quants
// and lane scales. A register tile of kR rows x kT tokens then runs over all
// blocks with its f32 accumulators in registers: one vpdpbusd, conversion,
// scale product and FMA per 64 weights and token.
template <class Dec>
void VnniMatMulRowsBatched(const internal::IntMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  using V = typename VnniFor<typename Dec::Block>::type;
  constexpr int64_t kR = 4, kT = 4;
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  const auto* acts = static_cast<const BlockQ8_0*>(a.acts);
  const int64_t n_blocks = a.w.cols / kQK;
  const int64_t n_steps = (n_blocks + 1) / 2;  // 64-element steps; an odd block is zero-padded
  const size_t per_token = static_cast<size_t>(n_steps);
  auto* xq = VnniScratch<__m512i>(static_cast<size_t>(a.n_tokens) * per_token, 0);
  auto* start = VnniScratch<__m512i>(static_cast<size_t>(a.n_tokens) * per_token, 1);
  auto* dx = VnniScratch<__m512>(static_cast<size_t>(a.n_tokens) * per_token, 2);
  auto* wq = VnniScratch<__m512i>(static_cast<size_t>(kR) * per_token, 3);
  auto* dw = VnniScratch<__m512>(static_cast<size_t>(kR) * per_token, 4);
  const __m256i offset = _mm256_set1_epi8(static_cast<char>(V::kOffset));
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const BlockQ8_0* x = acts + t * n_blocks;
    auto* q = reinterpret_cast<__m256i*>(xq + t * n_steps);
    auto* s = reinterpret_cast<__m256i*>(start + t * n_steps);
    auto* d = reinterpret_cast<__m256*>(dx + t * n_steps);
    for (int64_t b = 0; b < 2 * n_steps; ++b) {
      if (b == n_blocks) {
        q[b] = s[b] = _mm256_setzero_si256();
        d[b] = _mm256_setzero_ps();
        continue;
      }
      q[b] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
      s[b] = _mm256_sub_epi32(_mm256_setzero_si256(), Dpbusd(_mm256_setzero_si256(), offset, q[b]));
      d[b] = _mm256_set1_ps(HalfToFloat(&x[b].d));
    }
  }
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kR) {
    for (int64_t r = 0; r < kR; ++r) {
      const uint8_t* row =
          base + static_cast<size_t>(std::min(r0 + r, row_end - 1)) * a.w.row_bytes;
      auto* q = reinterpret_cast<__m256i*>(wq + r * n_steps);
      auto* d = reinterpret_cast<__m256*>(dw + r * n_steps);
      for (int64_t b = 0; b < 2 * n_steps; ++b) {
        if (b == n_blocks) {
          q[b] = _mm256_setzero_si256();
          d[b] = _mm256_setzero_ps();
          continue;
        }
        const uint8_t* blk = row + b * Dec::kBlockBytes;
        q[b] = V::Unsigned(blk);
        d[b] = _mm256_set1_ps(Dec::Scale(blk));
      }
    }
    for (int64_t t0 = 0; t0 < a.n_tokens; t0 += kT) {
      int64_t tok[kT];
      for (int64_t t = 0; t < kT; ++t) tok[t] = std::min(t0 + t, a.n_tokens - 1) * n_steps;
      __m512 acc[kR][kT];
      for (int64_t r = 0; r < kR; ++r) {
        for (int64_t t = 0; t < kT; ++t) acc[r][t] = _mm512_setzero_ps();
      }
      for (int64_t k = 0; k < n_steps; ++k) {
        __m512i xv[kT];
        for (int64_t t = 0; t < kT; ++t) xv[t] = xq[tok[t] + k];
        for (int64_t r = 0; r < kR; ++r) {
          const __m512i wv = wq[r * n_steps + k];
          const __m512 dwv = dw[r * n_steps + k];
          for (int64_t t = 0; t < kT; ++t) {
            const __m512i isum = Dpbusd512(start[tok[t] + k], wv, xv[t]);
            // dx * dw, as the matvec and llama.cpp round it.
            acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum),
                                        _mm512_mul_ps(dx[tok[t] + k], dwv), acc[r][t]);
          }
        }
      }
      for (int64_t r = 0; r < kR && r0 + r < row_end; ++r) {
        for (int64_t t = 0; t < kT && t0 + t < a.n_tokens; ++t) {
          a.y[(t0 + t) * a.y_stride + r0 + r] = _mm512_reduce_add_ps(acc[r][t]);
        }
      }
    }
  }
}
#else
inline constexpr bool kHaveVnni = false;
#endif  // HWY_TARGET == HWY_AVX3_DL

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#endif  // ARKV_TENSOR_GGML_INT_VNNI_INL_H_
