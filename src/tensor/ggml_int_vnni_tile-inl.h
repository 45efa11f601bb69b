// AVX-512 VNNI batched matmul (prefill, batched decode) of every quantized
// weight type, in the AVX3_DL target only (see ggml_int_vnni-inl.h for why
// the VNNI instructions are inline assembly).
//
// Layout: 16 weight rows share one 512-bit vector, one row per int32 lane.
// A row tile (16 rows, all columns) is decoded into unsigned bytes and
// transposed so that vector v holds bytes 4v..4v+3 of each of the 16 rows:
// once per call for all tokens, or, for up to two register tiles of tokens
// (decode, batches up to 16), block by block right before its products. One vpdpbusd then
// multiplies four weights of 16 rows by the same four activation bytes of one token, broadcast from
// memory
// ({1to16}): 64 useful products per instruction and no horizontal sums. The int32 lanes run over
// one "unit" (the elements that share an integer scale: a Q8_0/Q4_0 block, a 32-element Q4_K/Q5_K
// sub-block, a 16-element Q6_K sub-block) and then meet the unit's scale in f32:
//   total[row] += f32(unit sum[row]) * (wscale[row][unit] * dx)
// for kT tokens at a time, whose accumulators stay in registers over all
// columns. Weights become unsigned by an offset where needed (Q8_0: w + 128,
// Q4_0: nibble = w + 8, Q6_K: q = w + 32); the offset times the activation
// sum of the unit starts each int32 accumulator (a broadcast load). Types
// with several units per block (the K-quants) sum the units' f32 terms of a
// block first and multiply by the block's dx once. Q4_K and Q5_K subtract
// their mins per block, the integer part exact in int32 (vpdpwssd):
//   total[row] -= dmin[row] * dx * sum_unit m[row][unit] * bsum[unit].
// The activations are laid out per group of 8 tokens so that one pointer
// with constant offsets reaches every token's bytes (PrepareTileActs).
// Unit sums are exact int32, as llama.cpp's; the scales are applied per unit
// in f32 rather than once per 256-element super-block (a difference in the
// last bits of the f32 sum, as any accumulation order).

#if defined(ARKV_TENSOR_GGML_INT_VNNI_TILE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ARKV_TENSOR_GGML_INT_VNNI_TILE_INL_H_
#undef ARKV_TENSOR_GGML_INT_VNNI_TILE_INL_H_
#else
#define ARKV_TENSOR_GGML_INT_VNNI_TILE_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "hwy/highway.h"
#include "tensor/ggml_int_vnni-inl.h"
#include "tensor/matmul-inl.h"  // HalfToFloat
#include "tensor/matmul_internal.h"
#include "tensor/quant_blocks.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_AVX3_DL

inline constexpr int64_t kVnniTileRows = 16;   // rows per vector (int32 lanes)
inline constexpr int64_t kVnniTileTokens = 8;  // tokens per register tile

using UnalignedI32 = int32_t __attribute__((may_alias, aligned(1)));

// acc + (u8 w) . (i8 x) where the four bytes at x are broadcast to all lanes.
HWY_INLINE __m512i DpbusdBroadcast(__m512i acc, __m512i w, const int8_t* x) {
  asm("vpdpbusd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(w), "m"(*reinterpret_cast<const UnalignedI32*>(x)));
  return acc;
}

// acc + the two int16 products of each lane of w with the int16 pair at p
// broadcast to all lanes, summed into int32 (vpdpwssd).
HWY_INLINE __m512i DpwssdBroadcast(__m512i acc, __m512i w, const int32_t* p) {
  asm("vpdpwssd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(w), "m"(*reinterpret_cast<const UnalignedI32*>(p)));
  return acc;
}

// 16 rows x 32 bytes (row r at p + r * stride) into 8 vectors: out[j]
// lane r = bytes 4j..4j+3 of row r. Each 256-bit half does an 8 x 8 dword
// transpose; the rows are paired so that the last 128-bit shuffle leaves
// the lanes in row order.
HWY_INLINE void Transpose16x32(const uint8_t* p, size_t stride, __m512i out[8]) {
  __m512i v[8];
  for (int i = 0; i < 8; ++i) {
    // Halves: rows i and i + 4 (i < 4), rows i + 4 and i + 8 (i >= 4).
    const int lo = i < 4 ? i : i + 4;
    v[i] = _mm512_inserti64x4(
        _mm512_castsi256_si512(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + lo * stride))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + (lo + 4) * stride)), 1);
  }
  for (int g = 0; g < 8; g += 4) {
    const __m512i t0 = _mm512_unpacklo_epi32(v[g], v[g + 1]);
    const __m512i t1 = _mm512_unpackhi_epi32(v[g], v[g + 1]);
    const __m512i t2 = _mm512_unpacklo_epi32(v[g + 2], v[g + 3]);
    const __m512i t3 = _mm512_unpackhi_epi32(v[g + 2], v[g + 3]);
    v[g] = _mm512_unpacklo_epi64(t0, t2);      // dwords 0 and 4 of each row
    v[g + 1] = _mm512_unpackhi_epi64(t0, t2);  // 1 and 5
    v[g + 2] = _mm512_unpacklo_epi64(t1, t3);  // 2 and 6
    v[g + 3] = _mm512_unpackhi_epi64(t1, t3);  // 3 and 7
  }
  // v[k] (rows 0-7) and v[k + 4] (rows 8-15): 128-bit lanes hold dword k of
  // rows 0-3 | dword k + 4 of rows 0-3 | dword k of rows 4-7 | dword k + 4 of rows 4-7.
  for (int k = 0; k < 4; ++k) {
    out[k] = _mm512_shuffle_i32x4(v[k], v[k + 4], 0x88);
    out[k + 4] = _mm512_shuffle_i32x4(v[k], v[k + 4], 0xDD);
  }
}

// The 16 rows of a tile, equally spaced in memory (row r at row0 + r *
// stride: one pointer and one stride, where 16 pointers would not stay in
// registers), their byte offsets for gathers and the output rows (rows one
// apart: first and the valid lanes; spread rows go out through StagedTiles).
struct TileRows {
  const uint8_t* row0;
  size_t stride;
  __m512i offsets;  // int32 lanes: r * stride
  int64_t first;    // the tile's first row
  __mmask16 valid;  // rows one apart: the lanes before the range's end
};

// The 32-bit word at byte `off` of block b of each of the 16 rows.
template <class Block>
HWY_INLINE __m512i GatherWord(const TileRows& t, int64_t b, size_t off) {
  return _mm512_i32gather_epi32(t.offsets, t.row0 + b * sizeof(Block) + off, 1);
}

// The fp16 in the low (kHigh: high) half of each int32 lane, as f32.
template <bool kHigh>
HWY_INLINE __m512 HalfLanes(__m512i words) {
  if constexpr (kHigh) words = _mm512_srli_epi32(words, 16);
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(words));
}

// Transposes bytes [off + 32c, off + 32c + 32) of block b of the 16 rows.
template <class Block>
HWY_INLINE void TransposeChunk(const TileRows& t, int64_t b, size_t off, __m512i out[8]) {
  Transpose16x32(t.row0 + b * sizeof(Block) + off, t.stride, out);
}

// Bytes of v shifted right by `shift` (< 8), masked: 16-bit shifts are exact
// per byte once the bits that crossed from the neighbour byte are masked off.
HWY_INLINE __m512i ShiftAndMask(__m512i v, int shift, char mask) {
  return _mm512_and_si512(_mm512_srl_epi16(v, _mm_cvtsi32_si128(shift)), _mm512_set1_epi8(mask));
}

// A bit select per byte: bits 0-3 from lo, bits 4-7 from hi (vpternlogd).
HWY_INLINE __m512i SelectLowNibble(__m512i lo, __m512i hi) {
  return _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x0F), lo, hi, 0xCA);  // mask ? lo : hi
}

HWY_INLINE __m512i AndBytes(__m512i v, char mask) {
  return _mm512_and_si512(v, _mm512_set1_epi8(mask));
}

// A weight type for the tile kernel:
//   Act                        activation block type (BlockQ8_0 or BlockQ8_K)
//   kBlockElems, kUnitElems    weight block; unit = elements sharing an integer scale
//   kOffset                    the unsigned weights are w + kOffset
//   kHasMins                   Q4_K / Q5_K
//   Pack(t, b, out, scale, min)
//       block b of the 16 rows: out[e / 4] lane r = unsigned weights e..e+3
//       of row r, for the block's elements e; scale[u * 16 + r] the f32
//       scale of unit u of row r; for Q4_K / Q5_K, min (kTileMinFloats) the
//       int16 pairs (m[2k], m[2k + 1]) of each row, k < 4, then dmin.
struct TileQ8_0 {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr int64_t kBlockElems = kQK, kUnitElems = kQK;
  static constexpr int32_t kOffset = 128;
  static constexpr bool kHasMins = false;
  static HWY_INLINE void Pack(const TileRows& t, int64_t b, __m512i* out, float* scale, float*) {
    TransposeChunk<Block>(t, b, offsetof(Block, qs), out);
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int j = 0; j < 8; ++j) out[j] = _mm512_xor_si512(out[j], flip);
    _mm512_store_ps(scale, HalfLanes<false>(GatherWord<Block>(t, b, 0)));
  }
};

// Q4_0: 16 bytes of quants per block, too few for the 32-byte transpose; the
// rows are unpacked one by one (a rare type; prefill only).
struct TileQ4_0 {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr int64_t kBlockElems = kQK, kUnitElems = kQK;
  static constexpr int32_t kOffset = 8;
  static constexpr bool kHasMins = false;
  static HWY_INLINE void Pack(const TileRows& t, int64_t b, __m512i* out, float* scale, float*) {
    HWY_ALIGN uint8_t q[kVnniTileRows][kQK];
    for (int64_t r = 0; r < kVnniTileRows; ++r) {
      const auto* blk = reinterpret_cast<const Block*>(t.row0 + r * t.stride) + b;
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->qs));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q[r]),
                         _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(v),
                                                                  _mm_srli_epi16(v, 4), 1),
                                          _mm256_set1_epi8(0x0F)));
      scale[r] = HalfToFloat(&blk->d);
    }
    Transpose16x32(q[0], kQK, out);
  }
};

// Q4_K, Q5_K: chunk c of qs holds units 2c (low nibbles) and 2c + 1 (high
// nibbles) at the same byte positions, so one transpose serves both; Q5_K's
// fifth bits (bit 2c and 2c + 1 of qh[l] for element l of those units) come
// from one transpose of qh.
template <class BlockType, bool kFifthBit>
struct TileK4 {
  using Block = BlockType;
  using Act = BlockQ8_K;
  static constexpr int64_t kBlockElems = kQK_K, kUnitElems = 32;
  static constexpr int32_t kOffset = 0;
  static constexpr bool kHasMins = true;
  static HWY_INLINE void Pack(const TileRows& t, int64_t b, __m512i* out, float* scale,
                              float* min) {
    __m512i qh[8], q[8];
    if constexpr (kFifthBit) TransposeChunk<Block>(t, b, offsetof(Block, qh), qh);
    for (int c = 0; c < 4; ++c) {
      TransposeChunk<Block>(t, b, offsetof(Block, qs) + 32 * c, q);
      for (int j = 0; j < 8; ++j) {
        __m512i lo = AndBytes(q[j], 0x0F);
        __m512i hi;
        if constexpr (kFifthBit) {
          hi = ShiftAndMask(q[j], 4, 0x0F);
          lo = _mm512_or_si512(lo, _mm512_slli_epi16(ShiftAndMask(qh[j], 2 * c, 1), 4));
          hi = _mm512_or_si512(hi, _mm512_slli_epi16(ShiftAndMask(qh[j], 2 * c + 1, 1), 4));
        } else {
          // Q4_K: the high nibble stays in place, 16 times the quant (still a
          // u8); the odd units' scales carry the exact factor 1/16 instead,
          // which saves a shift per vector.
          hi = AndBytes(q[j], static_cast<char>(0xF0));
        }
        out[16 * c + j] = lo;
        out[16 * c + 8 + j] = hi;
      }
    }
    // The packed 6-bit scales and mins (see UnpackScalesMinsK4), 16 rows per vector.
    const __m512i dd = GatherWord<Block>(t, b, 0);
    const __m512 d = HalfLanes<false>(dd), dmin = HalfLanes<true>(dd);
    // The odd units' factor (see above); d / 16 and the products below are exact.
    const __m512 d_odd = kFifthBit ? d : _mm512_mul_ps(d, _mm512_set1_ps(1.0f / 16));
    const __m512i sa = GatherWord<Block>(t, b, 4), sb = GatherWord<Block>(t, b, 8),
                  sc = GatherWord<Block>(t, b, 12);
    const __m512i six = _mm512_set1_epi32(63), four = _mm512_set1_epi32(15),
                  two = _mm512_set1_epi32(3);
    __m512i mins[8];
    for (int j = 0; j < 4; ++j) {
      const __m512i s_lo = _mm512_and_si512(_mm512_srli_epi32(sa, 8 * j), six);
      const __m512i m_lo = _mm512_and_si512(_mm512_srli_epi32(sb, 8 * j), six);
      const __m512i s_hi = _mm512_or_si512(
          _mm512_and_si512(_mm512_srli_epi32(sc, 8 * j), four),
          _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(sa, 8 * j + 6), two), 4));
      const __m512i m_hi = _mm512_or_si512(
          _mm512_and_si512(_mm512_srli_epi32(sc, 8 * j + 4), four),
          _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(sb, 8 * j + 6), two), 4));
      // Exact: an fp16 times a 6-bit integer. Units j and j + 4 are odd for odd j.
      const __m512 dj = (j & 1) != 0 ? d_odd : d;
      _mm512_store_ps(scale + j * kVnniTileRows, _mm512_mul_ps(dj, _mm512_cvtepi32_ps(s_lo)));
      _mm512_store_ps(scale + (j + 4) * kVnniTileRows, _mm512_mul_ps(dj, _mm512_cvtepi32_ps(s_hi)));
      mins[j] = m_lo;
      mins[j + 4] = m_hi;
    }
    for (int k = 0; k < 4; ++k) {
      _mm512_store_si512(min + k * kVnniTileRows,
                         _mm512_or_si512(mins[2 * k], _mm512_slli_epi32(mins[2 * k + 1], 16)));
    }
    _mm512_store_ps(min + 4 * kVnniTileRows, dmin);
  }
};

// Q6_K: per half h, ql chunks A (elements l and l + 64 of the half) and B
// (l + 32, l + 96) and the qh chunk H (their high bits) in one transpose each.
struct TileQ6_K {
  using Block = BlockQ6_K;
  using Act = BlockQ8_K;
  static constexpr int64_t kBlockElems = kQK_K, kUnitElems = 16;
  static constexpr int32_t kOffset = 32;
  static constexpr bool kHasMins = false;
  static HWY_INLINE void Pack(const TileRows& t, int64_t b, __m512i* out, float* scale, float*) {
    __m512i qa[8], qb[8], qh[8];
    for (int h = 0; h < 2; ++h) {
      TransposeChunk<Block>(t, b, offsetof(Block, ql) + 64 * h, qa);
      TransposeChunk<Block>(t, b, offsetof(Block, ql) + 64 * h + 32, qb);
      TransposeChunk<Block>(t, b, offsetof(Block, qh) + 32 * h, qh);
      // Each byte: the quant's low nibble from qa / qb, its two high bits
      // from qh moved to bits 4-5 with bits 6-7 clear, merged by a bit select
      // on the low-nibble mask: 13 vector ops per j.
      for (int j = 0; j < 8; ++j) {
        const __m512i hj = qh[j];
        __m512i* o = out + 32 * h + j;
        o[0] = SelectLowNibble(qa[j], _mm512_slli_epi16(AndBytes(hj, 0x03), 4));
        o[8] = SelectLowNibble(qb[j], _mm512_slli_epi16(AndBytes(hj, 0x0C), 2));
        o[16] = SelectLowNibble(_mm512_srli_epi16(qa[j], 4), AndBytes(hj, 0x30));
        o[24] = SelectLowNibble(_mm512_srli_epi16(qb[j], 4),
                                _mm512_srli_epi16(AndBytes(hj, static_cast<char>(0xC0)), 2));
      }
    }
    // d is the last field: the word at 206 holds it in its high half.
    const __m512 d = HalfLanes<true>(GatherWord<Block>(t, b, offsetof(Block, d) - 2));
    for (int k = 0; k < 4; ++k) {
      const __m512i s4 = GatherWord<Block>(t, b, offsetof(Block, scales) + 4 * k);
      for (int i = 0; i < 4; ++i) {
        const __m512i sc = _mm512_srai_epi32(_mm512_slli_epi32(s4, 24 - 8 * i), 24);
        _mm512_store_ps(scale + (4 * k + i) * kVnniTileRows,
                        _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc)));  // exact
      }
    }
  }
};

template <class Block>
struct TileFor;
template <>
struct TileFor<BlockQ8_0> {
  using type = TileQ8_0;
};
template <>
struct TileFor<BlockQ4_0> {
  using type = TileQ4_0;
};
template <>
struct TileFor<BlockQ4_K> {
  using type = TileK4<BlockQ4_K, false>;
};
template <>
struct TileFor<BlockQ5_K> {
  using type = TileK4<BlockQ5_K, true>;
};
template <>
struct TileFor<BlockQ6_K> {
  using type = TileQ6_K;
};

// The tile of rows first + r * step, r < 16. A tile that runs past row_end
// (ranges that are not a multiple of 16 rows) is copied, its last row
// repeated, into `spill` (16 rows) to keep the rows equally spaced.
inline TileRows MakeTileRows(const internal::IntMatMulArgs& a, int64_t first, int64_t step,
                             int64_t row_end, uint8_t* spill) {
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  TileRows t;
  t.first = first;
  t.valid = static_cast<__mmask16>((1u << std::min(kVnniTileRows, row_end - first)) - 1);
  if (first + (kVnniTileRows - 1) * step < row_end) {
    t.row0 = base + static_cast<size_t>(first) * a.w.row_bytes;
    t.stride = static_cast<size_t>(step) * a.w.row_bytes;
  } else {
    for (int64_t r = 0; r < kVnniTileRows; ++r) {
      const int64_t row = std::min(first + r * step, row_end - 1);
      std::memcpy(spill + r * a.w.row_bytes, base + static_cast<size_t>(row) * a.w.row_bytes,
                  a.w.row_bytes);
    }
    t.row0 = spill;
    t.stride = a.w.row_bytes;
  }
  t.offsets =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int32_t>(t.stride)));
  return t;
}

// Floats per block of the mins buffer: Q4_K / Q5_K's four vectors of int16
// min pairs and one of dmin (see Pack); 1 for the others (unused).
template <class K>
inline constexpr int64_t kTileMinFloats = K::kHasMins ? 5 * kVnniTileRows : 1;

// Decodes and transposes the tile's rows into `tile` (cols / 4 vectors),
// their unit scales into `scale` (one vector of 16 rows per unit) and their
// mins into `min` (kTileMinFloats per block).
template <class K>
void PackTile(const internal::IntMatMulArgs& a, const TileRows& t, __m512i* tile, float* scale,
              float* min) {
  constexpr int64_t kUnits = K::kBlockElems / K::kUnitElems;
  const int64_t n_blocks = a.w.cols / K::kBlockElems;
  for (int64_t b = 0; b < n_blocks; ++b) {
    K::Pack(t, b, tile + b * (K::kBlockElems / 4), scale + b * kUnits * kVnniTileRows,
            min + b * kTileMinFloats<K>);
  }
}

// The activations of one MatMul call, per group g of kVnniTileTokens tokens,
// laid out so that one pointer with constant offsets reaches every token of
// the group (the slots past a short last group stay unwritten: a register
// tile reads only its own kT tokens):
//   xq  [g][block][word w][t]  int32 word w (bytes 4w..4w+3) of the block's quants
//   dx  [g][block][t]          the block's scale
//   aux [g][unit][t]           types with an offset: -kOffset * sum of the unit's quants
//   aux [g][block][k][t]       Q4_K / Q5_K: the sums of units 2k and 2k + 1, an int16 pair
struct TileActs {
  const int32_t* xq;
  const float* dx;
  const int32_t* aux;
};

template <class K>
TileActs PrepareTileActs(const internal::IntMatMulArgs& a) {
  using Act = typename K::Act;
  constexpr int64_t kUnits = K::kBlockElems / K::kUnitElems, kWords = K::kBlockElems / 4;
  constexpr int64_t kG = kVnniTileTokens;
  constexpr int64_t kAuxPerBlock = K::kHasMins ? 4 : kUnits;
  const int64_t n_blocks = a.w.cols / K::kBlockElems;
  const int64_t n_groups = (a.n_tokens + kG - 1) / kG;
  auto* xq = VnniScratch<int32_t>(static_cast<size_t>(n_groups * n_blocks * kWords * kG), 0);
  auto* dx = VnniScratch<float>(static_cast<size_t>(n_groups * n_blocks * kG), 1);
  auto* aux = VnniScratch<int32_t>(static_cast<size_t>(n_groups * n_blocks * kAuxPerBlock * kG), 5);
  const auto* acts = static_cast<const Act*>(a.acts);
  for (int64_t g = 0; g < n_groups; ++g) {
    for (int64_t t = 0; t < std::min(kG, a.n_tokens - g * kG); ++t) {
      const int64_t token = g * kG + t;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const Act& x = acts[token * n_blocks + b];
        const int64_t gb = g * n_blocks + b;
        int32_t* words = xq + gb * kWords * kG + t;
        for (int64_t w = 0; w < kWords; ++w) std::memcpy(&words[w * kG], x.qs + 4 * w, 4);
        int32_t sums[kUnits];
        if constexpr (K::kBlockElems == kQK) {
          dx[gb * kG + t] = HalfToFloat(&x.d);
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
          const __m256i s32 = Dpbusd(_mm256_setzero_si256(), _mm256_set1_epi8(1), q);
          sums[0] = _mm512_reduce_add_epi32(_mm512_zextsi256_si512(s32));
        } else {
          dx[gb * kG + t] = x.d;
          constexpr int64_t kPer = K::kUnitElems / 16;  // Q8_K bsums cover 16 elements
          for (int64_t u = 0; u < kUnits; ++u) {
            sums[u] = 0;
            for (int64_t j = 0; j < kPer; ++j) sums[u] += x.bsums[u * kPer + j];
          }
        }
        int32_t* out = aux + gb * kAuxPerBlock * kG + t;
        if constexpr (K::kHasMins) {
          // |sum| <= 32 * 127: an int16.
          for (int64_t k = 0; k < 4; ++k) {
            out[k * kG] = static_cast<int32_t>(static_cast<uint16_t>(sums[2 * k]) |
                                               (static_cast<uint32_t>(sums[2 * k + 1]) << 16));
          }
        } else {
          for (int64_t u = 0; u < kUnits; ++u) out[u * kG] = -K::kOffset * sums[u];
        }
      }
    }
  }
  return {xq, dx, aux};
}

// The products of weight block b (packed: wb, sb, mb) with the kT tokens of
// group g, added to total[t].
template <class K, int kT>
HWY_INLINE void BlockProducts(const TileActs& x, int64_t g, int64_t b, int64_t n_blocks,
                              const __m512i* wb, const float* sb, const float* mb,
                              __m512 (&total)[kT]) {
  constexpr int64_t kUnits = K::kBlockElems / K::kUnitElems, kWords = K::kBlockElems / 4;
  constexpr int64_t kVecs = K::kUnitElems / 4;
  constexpr int64_t kG = kVnniTileTokens;
  constexpr int64_t kAuxPerBlock = K::kHasMins ? 4 : kUnits;
  const int64_t gb = g * n_blocks + b;
  const int32_t* xb = x.xq + gb * kWords * kG;
  const int32_t* ab = x.aux + gb * kAuxPerBlock * kG;
  const float* dxb = x.dx + gb * kG;
  // K-quants: the units' terms of this block, before dx.
  __m512 block[kT];
  if constexpr (kUnits > 1) {
    for (int t = 0; t < kT; ++t) block[t] = _mm512_setzero_ps();
  }
  for (int64_t u = 0; u < kUnits; ++u) {
    const __m512i* w = wb + u * kVecs;
    __m512i acc[kT];
    for (int t = 0; t < kT; ++t) {
      acc[t] = K::kOffset != 0 ? _mm512_set1_epi32(ab[u * kG + t]) : _mm512_setzero_si512();
    }
    for (int64_t v = 0; v < kVecs; ++v) {
      const __m512i wv = w[v];
      const int32_t* xv = xb + (u * kVecs + v) * kG;
      for (int t = 0; t < kT; ++t) {
        acc[t] = DpbusdBroadcast(acc[t], wv, reinterpret_cast<const int8_t*>(xv + t));
      }
    }
    const __m512 sv = _mm512_load_ps(sb + u * kVnniTileRows);
    for (int t = 0; t < kT; ++t) {
      if constexpr (kUnits > 1) {
        block[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[t]), sv, block[t]);
      } else {
        const __m512 s = _mm512_mul_ps(sv, _mm512_set1_ps(dxb[t]));
        total[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[t]), s, total[t]);
      }
    }
  }
  if constexpr (K::kHasMins) {
    const auto* pairs = reinterpret_cast<const __m512i*>(mb);
    const __m512 dmin = _mm512_load_ps(mb + 4 * kVnniTileRows);
    for (int t = 0; t < kT; ++t) {
      __m512i m = _mm512_setzero_si512();
      for (int k = 0; k < 4; ++k) m = DpwssdBroadcast(m, pairs[k], ab + k * kG + t);
      block[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), dmin, block[t]);
    }
  }
  if constexpr (kUnits > 1) {
    for (int t = 0; t < kT; ++t) {
      total[t] = _mm512_fmadd_ps(block[t], _mm512_set1_ps(dxb[t]), total[t]);
    }
  }
}

// Writes the tile's rows of the kT tokens of group g: rows one apart straight
// to y; spread rows (see StagedTiles) into slot `staged` of the staging area.
template <int kT>
HWY_INLINE void StoreTotals(const internal::IntMatMulArgs& a, int64_t g, const TileRows& rows,
                            const __m512 (&total)[kT], float* staged) {
  for (int t = 0; t < kT; ++t) {
    const int64_t token = g * kVnniTileTokens + t;
    if (staged != nullptr) {
      _mm512_store_ps(staged + token * kVnniTileRows * kVnniTileRows, total[t]);
    } else {
      _mm512_mask_storeu_ps(a.y + token * a.y_stride + rows.first, rows.valid, total[t]);
    }
  }
}

// Fused, the weights arrive from memory just before their products. The
// hardware prefetchers do not run far enough ahead over 16 row streams, so
// block b + kPrefetchBlocks of each row is prefetched into L1 while block b
// is multiplied: one prefetch per 64 bytes of block, which covers every line
// (consecutive prefetches of a row are at most 64 bytes apart). Past a row's
// last block it prefetches the next row's first, the next spread tile's
// (after the range's last row, lines never used: prefetches do not fault).
inline constexpr int64_t kPrefetchBlocks = 1;

template <class Block>
HWY_INLINE void PrefetchBlock(const TileRows& t, int64_t b) {
  constexpr size_t kLines = (sizeof(Block) + 63) / 64;
  // Integer addresses: they may lie past the weights.
  uintptr_t p = reinterpret_cast<uintptr_t>(t.row0) + static_cast<uintptr_t>(b) * sizeof(Block);
  for (int64_t r = 0; r < kVnniTileRows; ++r, p += t.stride) {
    for (size_t k = 0; k < kLines; ++k) {
      _mm_prefetch(reinterpret_cast<const char*>(p + 64 * k), _MM_HINT_T0);
    }
  }
}

// The register tile: one row tile x kT tokens (group g) over all columns.
// With `fused`, each weight block is packed from the tile's rows just
// before its products (the packed block stays in L1) instead of read from
// `tile`.
template <class K, int kT>
HWY_INLINE void TileTokens(const internal::IntMatMulArgs& a, int64_t g, const TileActs& x,
                           const TileRows* fused, const __m512i* tile, const float* scale,
                           const float* min, const TileRows& rows, float* staged) {
  constexpr int64_t kUnits = K::kBlockElems / K::kUnitElems;
  const int64_t n_blocks = a.w.cols / K::kBlockElems;
  __m512 total[kT];
  for (int t = 0; t < kT; ++t) total[t] = _mm512_setzero_ps();
  HWY_ALIGN __m512i block_tile[K::kBlockElems / 4];
  HWY_ALIGN float block_scale[kUnits * kVnniTileRows];
  HWY_ALIGN float block_min[kTileMinFloats<K>];
  for (int64_t b = 0; b < n_blocks; ++b) {
    if (fused != nullptr) {
      PrefetchBlock<typename K::Block>(*fused, b + kPrefetchBlocks);
      K::Pack(*fused, b, block_tile, block_scale, block_min);
      BlockProducts<K, kT>(x, g, b, n_blocks, block_tile, block_scale, block_min, total);
    } else {
      BlockProducts<K, kT>(x, g, b, n_blocks, tile + b * (K::kBlockElems / 4),
                           scale + b * kUnits * kVnniTileRows, min + b * kTileMinFloats<K>, total);
    }
  }
  StoreTotals<kT>(a, g, rows, total, staged);
}

// Two token groups (9-16 tokens: 8 in group 0, kT2 in group 1) over one row
// tile, each weight block packed once for both (fused).
template <class K, int kT2>
HWY_INLINE void TileTwoGroups(const internal::IntMatMulArgs& a, const TileActs& x,
                              const TileRows& rows, float* staged) {
  constexpr int kT1 = static_cast<int>(kVnniTileTokens);
  constexpr int64_t kUnits = K::kBlockElems / K::kUnitElems;
  const int64_t n_blocks = a.w.cols / K::kBlockElems;
  __m512 total1[kT1], total2[kT2];
  for (int t = 0; t < kT1; ++t) total1[t] = _mm512_setzero_ps();
  for (int t = 0; t < kT2; ++t) total2[t] = _mm512_setzero_ps();
  HWY_ALIGN __m512i block_tile[K::kBlockElems / 4];
  HWY_ALIGN float block_scale[kUnits * kVnniTileRows];
  HWY_ALIGN float block_min[kTileMinFloats<K>];
  for (int64_t b = 0; b < n_blocks; ++b) {
    PrefetchBlock<typename K::Block>(rows, b + kPrefetchBlocks);
    K::Pack(rows, b, block_tile, block_scale, block_min);
    BlockProducts<K, kT1>(x, 0, b, n_blocks, block_tile, block_scale, block_min, total1);
    BlockProducts<K, kT2>(x, 1, b, n_blocks, block_tile, block_scale, block_min, total2);
  }
  StoreTotals<kT1>(a, 0, rows, total1, staged);
  StoreTotals<kT2>(a, 1, rows, total2, staged);
}

// f(std::integral_constant<int, n>{}) for a token count n of one group,
// 1 <= n <= kVnniTileTokens: the register tiles take their size as a
// template argument.
template <class F>
HWY_INLINE void WithTokenCount(int64_t n, F&& f) {
  static_assert(kVnniTileTokens == 8);
  switch (n) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    case 3:
      return f(std::integral_constant<int, 3>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 5:
      return f(std::integral_constant<int, 5>{});
    case 6:
      return f(std::integral_constant<int, 6>{});
    case 7:
      return f(std::integral_constant<int, 7>{});
    case 8:
      return f(std::integral_constant<int, 8>{});
  }
}

// Spread, lane r of tile i holds row first_row + r * n + i: 16 tiles in a
// row make 16 runs of 16 consecutive rows. Their totals are staged (token
// T, tile slot i % 16, lane r at [T][i % 16][r]) and written run by run:
// scattering each tile's 16 rows (vscatterdps) took about a tenth of the
// time of a 2048-column matrix.
struct StagedTiles {
  HWY_ALIGN float totals[2 * kVnniTileTokens][kVnniTileRows][kVnniTileRows];
};

// Writes tiles first_tile .. first_tile + count - 1 (count <= 16, staged in
// slots 0 .. count - 1) of a piece spread over n tiles from first_row: each
// token's 16 x 16 totals transposed so that lane r's rows are one vector.
inline void FlushStagedTiles(const internal::IntMatMulArgs& a, StagedTiles& staged,
                             int64_t first_row, int64_t n, int64_t first_tile, int64_t count,
                             int64_t row_end) {
  for (int64_t token = 0; token < a.n_tokens; ++token) {
    float(*slots)[kVnniTileRows] = staged.totals[token];
    // Slots past count hold another run's totals or nothing: defined values
    // for the lanes that are not stored.
    for (int64_t i = count; i < kVnniTileRows; ++i) _mm512_store_ps(slots[i], _mm512_setzero_ps());
    __m512i lanes[kVnniTileRows];
    const auto* bytes = reinterpret_cast<const uint8_t*>(slots);
    Transpose16x32(bytes, sizeof(slots[0]), lanes);
    Transpose16x32(bytes + sizeof(slots[0]) / 2, sizeof(slots[0]), lanes + 8);
    float* y = a.y + token * a.y_stride;
    for (int64_t r = 0; r < kVnniTileRows; ++r) {
      const int64_t row = first_row + r * n + first_tile;
      const int64_t rows = std::min(count, row_end - row);
      if (rows <= 0) continue;
      _mm512_mask_storeu_ps(y + row, static_cast<__mmask16>((1u << rows) - 1),
                            _mm512_castsi512_ps(lanes[r]));
    }
  }
}

// L1 data caches of the AVX3_DL CPUs have 64 sets of 64-byte lines (48 KiB
// 12-way on Intel, 32 KiB 8-way on Zen 4): addresses 4 KiB apart share a set.
inline constexpr size_t kL1SetPeriod = 4096, kLineBytes = 64;

// The most lines that 16 rows `stride` bytes apart hold in one L1 set while
// `span` bytes of each row are in use (row 0 taken at a line start).
inline int LinesPerL1Set(size_t stride, size_t span) {
  int count[kL1SetPeriod / kLineBytes] = {};
  int most = 0;
  for (size_t r = 0; r < kVnniTileRows; ++r) {
    const size_t start = r * stride % kL1SetPeriod;
    for (size_t line = start / kLineBytes; line <= (start + span - 1) / kLineBytes; ++line) {
      most = std::max(most, ++count[line % (kL1SetPeriod / kLineBytes)]);
    }
  }
  return most;
}

// Spread over n_tiles tiles, the 16 rows of a tile are n_tiles rows apart;
// where that is a multiple of 4 KiB (1024 rows of 1152 bytes: a thread's
// share of a 2048-column Q4_K matrix), all 16 rows share one L1 set, more
// rows than it has ways, and each line is evicted before its second use and
// fetched again. Returns the tiles of a first piece such that it and the
// rest (each spread over its own tiles) put at most a few lines in a set, or
// n_tiles where one piece already does.
inline int64_t SpreadSplitTile(int64_t n_tiles, size_t row_bytes, size_t span) {
  constexpr int kFewLines = 4;
  const auto lines = [&](int64_t tiles) {
    return LinesPerL1Set(static_cast<size_t>(tiles) * row_bytes, span);
  };
  int best = lines(n_tiles);
  int64_t split = n_tiles;
  const int64_t lowest = std::max<int64_t>(1, n_tiles / 2 - 15);
  for (int64_t first = n_tiles / 2; first >= lowest && best > kFewLines; --first) {
    const int worst = std::max(lines(first), lines(n_tiles - first));
    if (worst < best) {
      best = worst;
      split = first;
    }
  }
  return split;
}

template <class Dec>
void VnniTileMatMulRows(const internal::IntMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  using Block = typename Dec::Block;
  using K = typename TileFor<Block>::type;
  constexpr int64_t kUnits = K::kBlockElems / K::kUnitElems;
  const int64_t n_blocks = a.w.cols / K::kBlockElems;
  // Per thread, reused across calls: no allocation once warm. The
  // activations are laid out once per MatMul call (slots 0, 1 and 5), not
  // once per row chunk.
  thread_local uint64_t prepared_call = 0;
  thread_local TileActs acts{};
  if (a.call_id == 0 || a.call_id != prepared_call) {
    acts = PrepareTileActs<K>(a);
    prepared_call = a.call_id;
  }
  auto* tile = VnniScratch<__m512i>(static_cast<size_t>(a.w.cols / 4), 2);
  auto* scale = VnniScratch<float>(static_cast<size_t>(n_blocks * kUnits * kVnniTileRows), 3);
  auto* min = VnniScratch<float>(static_cast<size_t>(n_blocks * kTileMinFloats<K>), 4);
  auto* spill = VnniScratch<uint8_t>(kVnniTileRows * a.w.row_bytes, 6);
  // Up to two token groups (decode, batches up to 16): pack block by block
  // inside the products; more: pack the whole tile once for all groups.
  const bool fuse = a.n_tokens <= 2 * kVnniTileTokens;
  // Fused, the weights stream from memory once: the 16 rows of a tile are
  // then taken from the 16 sixteenths of the range (rows i, i + n, i + 2n,
  // ...), each sixteenth one sequential stream for the hardware prefetchers
  // (see VnniKMatVecRows), when the gathers' int32 offsets can span it.
  const int64_t n_tiles = (row_end - row_begin + kVnniTileRows - 1) / kVnniTileRows;
  const bool spread =
      fuse && static_cast<size_t>(row_end - row_begin) * a.w.row_bytes <= size_t{INT32_MAX};
  // Spread rows n_tiles apart may all fall in a few L1 sets (see
  // SpreadSplitTile): the range is then done in two pieces, each spread over
  // its own sixteenths.
  const int64_t split =
      spread ? SpreadSplitTile(n_tiles, a.w.row_bytes, (kPrefetchBlocks + 1) * sizeof(Block))
             : n_tiles;
  StagedTiles stage;
  for (int64_t piece_begin = 0; piece_begin < n_tiles;) {
    const int64_t piece_end = piece_begin == 0 ? split : n_tiles;
    const int64_t piece_tiles = piece_end - piece_begin;
    const int64_t first_row = row_begin + piece_begin * kVnniTileRows;
    for (int64_t i = 0; i < piece_tiles; ++i) {
      const int64_t slot = i % kVnniTileRows;
      float* staged = spread ? &stage.totals[0][slot][0] : nullptr;
      const TileRows rows = spread
                                ? MakeTileRows(a, first_row + i, piece_tiles, row_end, spill)
                                : MakeTileRows(a, first_row + i * kVnniTileRows, 1, row_end, spill);
      if (fuse && a.n_tokens > kVnniTileTokens) {
        WithTokenCount(a.n_tokens - kVnniTileTokens, [&](auto n) HWY_ATTR {
          TileTwoGroups<K, decltype(n)::value>(a, acts, rows, staged);
        });
      } else {
        if (!fuse) PackTile<K>(a, rows, tile, scale, min);
        const TileRows* fused = fuse ? &rows : nullptr;
        for (int64_t g = 0; g * kVnniTileTokens < a.n_tokens; ++g) {
          WithTokenCount(std::min(kVnniTileTokens, a.n_tokens - g * kVnniTileTokens),
                         [&](auto n) HWY_ATTR {
                           TileTokens<K, decltype(n)::value>(a, g, acts, fused, tile, scale, min,
                                                             rows, staged);
                         });
        }
      }
      if (spread && (slot == kVnniTileRows - 1 || i == piece_tiles - 1)) {
        FlushStagedTiles(a, stage, first_row, piece_tiles, i - slot, slot + 1, row_end);
      }
    }
    piece_begin = piece_end;
  }
}

#endif  // HWY_TARGET == HWY_AVX3_DL

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#endif  // ARKV_TENSOR_GGML_INT_VNNI_TILE_INL_H_
