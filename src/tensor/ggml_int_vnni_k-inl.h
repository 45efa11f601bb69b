// AVX-512 VNNI matvec of the K-quant weight types (Q4_K, Q5_K, Q6_K against
// Q8_K activations), in the AVX3_DL target only (see ggml_int_vnni-inl.h).
//
// 64 elements at a time: the unsigned weight quants meet the int8 activations
// in vpmaddubsw (pairs summed into int16; at most 2 * 63 * 127, no
// saturation), and vpdpwssd multiplies those pairs by the integer sub-block
// scale of their lanes and accumulates in int32. A super-block's int32 sum is
// therefore llama.cpp's exactly; it meets d * dx in f32 once per super-block.
//  Q4_K, Q5_K: q in [0, 32), w = sc * q - m (mins through the activation
//              block sums, as llama.cpp subtracts them in f32).
//  Q6_K:       q in [0, 64), w = sc * (q - 32): the -32 enters the int32 sum
//              as -32 * sum_s sc[s] * bsum[s].

#if defined(ARKV_TENSOR_GGML_INT_VNNI_K_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ARKV_TENSOR_GGML_INT_VNNI_K_INL_H_
#undef ARKV_TENSOR_GGML_INT_VNNI_K_INL_H_
#else
#define ARKV_TENSOR_GGML_INT_VNNI_K_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "hwy/highway.h"
#include "tensor/ggml_int_vnni-inl.h"
#include "tensor/matmul-inl.h"  // HalfToFloat
#include "tensor/matmul_internal.h"
#include "tensor/quant_blocks.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_AVX3_DL

// acc + the pairwise int16 products of a and b, in int32 (vpdpwssd).
HWY_INLINE __m512i Dpwssd(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b));
  return acc;
}

// Index vector for vpermw: int16 lane L of the result takes element
// first + L / lanes_per_value of the source.
HWY_INLINE __m512i ScaleIndex(int first, int lanes_per_value) {
  HWY_ALIGN int16_t idx[32];
  for (int l = 0; l < 32; ++l) idx[l] = static_cast<int16_t>(first + l / lanes_per_value);
  return _mm512_load_si512(idx);
}

HWY_INLINE float ReduceF32(__m512 v) { return _mm512_reduce_add_ps(v); }

// Q4_K / Q5_K: the 12 packed bytes at `packed` as the eight 6-bit scales
// (int16 lanes 0-7) and the eight 6-bit mins (lanes 8-15); see
// UnpackScalesMinsK4. With a, b, c the three little-endian words of the
// packed bytes, the four 32-bit words of scales and mins are
//   a & 0x3F3F3F3F,  (c & 0x0F0F0F0F) | ((a >> 2) & 0x30303030),
//   b & 0x3F3F3F3F,  ((c >> 4) & 0x0F0F0F0F) | ((b >> 2) & 0x30303030),
// computed here in one vector. Reads 16 bytes: the packed scales are
// followed by the quants within the same block.
HWY_INLINE __m256i ScalesMinsK4(const uint8_t* packed) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));  // a b c .
  const __m128i low6 = _mm_and_si128(v, _mm_set1_epi8(0x3F));                   // sc_lo m_lo
  const __m128i c = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 2, 2));
  const __m128i c_nibbles =
      _mm_and_si128(_mm_srlv_epi32(c, _mm_set_epi32(0, 0, 4, 0)), _mm_set1_epi8(0x0F));
  const __m128i top2 = _mm_and_si128(_mm_srli_epi32(v, 2), _mm_set1_epi8(0x30));
  const __m128i high6 = _mm_or_si128(c_nibbles, top2);  // sc_hi m_hi
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi32(low6, high6));
}

template <class Block, bool kFifthBit>
HWY_INLINE void VnniDotK4(const Block* blk, const BlockQ8_K& x, const __m128i bsum8,
                          const __m512i* idx, __m512& acc, __m128& min_acc) {
  const __m256i sm = ScalesMinsK4(blk->scales);
  const __m512i scales = _mm512_castsi256_si512(sm);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512i isum = _mm512_setzero_si512();
  __m256i qh;
  if constexpr (kFifthBit) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qh));
  for (int c = 0; c < 4; ++c) {
    // Elements 64c..64c+31 in the low nibbles, 64c+32..64c+63 in the high.
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs + 32 * c));
    __m512i w = _mm512_and_si512(
        _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1), low4);
    if constexpr (kFifthBit) {
      // Bit 2c of qh[l] is bit 4 of element 64c + l, bit 2c + 1 of 64c + 32 + l.
      const __m512i h =
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c))),
                             _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c + 1)), 1);
      w = _mm512_or_si512(w, _mm512_slli_epi16(_mm512_and_si512(h, _mm512_set1_epi8(1)), 4));
    }
    const __m512i pairs = _mm512_maddubs_epi16(
        w, _mm512_loadu_si512(reinterpret_cast<const __m512i*>(x.qs + 64 * c)));
    isum = Dpwssd(isum, pairs, _mm512_permutexvar_epi16(idx[c], scales));
  }
  const __m128i mins = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), bsum8);
  // d and dmin (adjacent fp16) converted together, times the activation scale.
  uint32_t d_dmin_bits;
  std::memcpy(&d_dmin_bits, &blk->d, 4);
  const __m128 d_dmin =
      _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d_dmin_bits))), _mm_set1_ps(x.d));
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_broadcastss_ps(d_dmin), acc);
  min_acc =
      _mm_fmadd_ps(_mm_cvtepi32_ps(mins), _mm_permute_ps(d_dmin, _MM_SHUFFLE(1, 1, 1, 1)), min_acc);
}

HWY_INLINE void VnniDotQ6K(const BlockQ6_K* blk, const BlockQ8_K& x, const __m512i* idx,
                           __m512& acc) {
  const __m256i sc16 =
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->scales)));
  const __m512i scales = _mm512_castsi256_si512(sc16);
  const __m512i low4 = _mm512_set1_epi8(0x0F), two = _mm512_set1_epi8(0x03);
  __m512i isum = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {
    const __m512i ql = _mm512_loadu_si512(reinterpret_cast<const __m512i*>(blk->ql + 64 * h));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qh + 32 * h));
    const __m512i h01 = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
    const __m512i h23 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srli_epi16(qh, 4)),
                                           _mm256_srli_epi16(qh, 6), 1);
    // Elements 128h + 0..63, then 128h + 64..127.
    const __m512i w0 = _mm512_or_si512(_mm512_and_si512(ql, low4),
                                       _mm512_slli_epi16(_mm512_and_si512(h01, two), 4));
    const __m512i w1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                       _mm512_slli_epi16(_mm512_and_si512(h23, two), 4));
    const int8_t* xq = x.qs + 128 * h;
    isum = Dpwssd(isum, _mm512_maddubs_epi16(w0, _mm512_loadu_si512(xq)),
                  _mm512_permutexvar_epi16(idx[2 * h], scales));
    isum = Dpwssd(isum, _mm512_maddubs_epi16(w1, _mm512_loadu_si512(xq + 64)),
                  _mm512_permutexvar_epi16(idx[2 * h + 1], scales));
  }
  // - 32 * sum_s scale[s] * bsum[s], in the low eight lanes.
  const __m256i bias = _mm256_slli_epi32(
      _mm256_madd_epi16(sc16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums))), 5);
  isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(bias));
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(x.d * HalfToFloat(&blk->d)), acc);
}

// Matvec of a K-quant: four rows per pass, block by block, with a software
// prefetch a few cache lines ahead on each. The four rows come from the four
// quarters of the row range (rows i, i + q, i + 2q, i + 3q), not four
// neighbours: each quarter is then one sequential stream through memory
// from its first row to its last, which the hardware prefetchers follow far
// better than four 1-2 KiB runs that restart every pass. On this project's
// machine that took a 1 GiB Q4_K matvec from 7.5 to 14.5 GiB/s on one
// thread (BM_Decode), past the single-stream BM_ReadBandwidth.
template <class Dec>
void VnniKMatVecRows(const internal::IntMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  using Block = typename Dec::Block;
  constexpr int64_t kR = 4;
  constexpr size_t kPrefetchBytes = 768;
  constexpr bool kQ6 = !Dec::kHasMins;
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  const auto* acts = static_cast<const BlockQ8_K*>(a.acts);
  const int64_t n_blocks = a.w.cols / kQK_K;
  __m512i idx[4];
  for (int i = 0; i < 4; ++i) idx[i] = kQ6 ? ScaleIndex(4 * i, 8) : ScaleIndex(2 * i, 16);
  // Q4_K / Q5_K: sums of the activation quants per 32-element sub-block.
  __m128i* bsum8 = nullptr;
  if constexpr (!kQ6) {
    bsum8 = VnniScratch<__m128i>(static_cast<size_t>(n_blocks), 0);
    for (int64_t b = 0; b < n_blocks; ++b) {
      const __m256i s16 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acts[b].bsums));
      const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
      bsum8[b] = _mm_packs_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    }
  }
  // Past the end of a short last quarter, a lane repeats the range's last row.
  const int64_t quarter = (row_end - row_begin + kR - 1) / kR;
  for (int64_t i = 0; i < quarter; ++i) {
    int64_t row[kR];
    const uint8_t* rows[kR];
    __m512 acc[kR];
    __m128 min_acc[kR];
    for (int64_t r = 0; r < kR; ++r) {
      row[r] = std::min(row_begin + r * quarter + i, row_end - 1);
      rows[r] = base + static_cast<size_t>(row[r]) * a.w.row_bytes;
      acc[r] = _mm512_setzero_ps();
      min_acc[r] = _mm_setzero_ps();
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
      for (int64_t r = 0; r < kR; ++r) {
        const uint8_t* blk = rows[r] + b * Dec::kBlockBytes;
        for (size_t p = 0; p < Dec::kBlockBytes; p += 64) {
          _mm_prefetch(reinterpret_cast<const char*>(blk) + kPrefetchBytes + p, _MM_HINT_T0);
        }
        if constexpr (kQ6) {
          VnniDotQ6K(reinterpret_cast<const BlockQ6_K*>(blk), acts[b], idx, acc[r]);
        } else {
          VnniDotK4<Block, Dec::kFifthBit>(reinterpret_cast<const Block*>(blk), acts[b], bsum8[b],
                                           idx, acc[r], min_acc[r]);
        }
      }
    }
    for (int64_t r = 0; r < kR; ++r) {
      const __m128 m = min_acc[r];
      const __m128 m2 = _mm_add_ps(m, _mm_movehl_ps(m, m));
      a.y[row[r]] = ReduceF32(acc[r]) - _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
    }
  }
}

#endif  // HWY_TARGET == HWY_AVX3_DL

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#endif  // ARKV_TENSOR_GGML_INT_VNNI_K_INL_H_
