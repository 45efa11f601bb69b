// Attention tiles for few query rows (a decode step: one query, the query heads
// of one KV head), per Highway target. The general kernel (attention.cc)
// decodes a tile's K and V rows into f32 buffers and then reads them once per
// query row; with as few as four rows that round trip through memory costs as
// much as the arithmetic. Here each key and value row is converted straight
// from its slot (codecs-inl.h) once, into registers, and used for every row
// of the group: the GQA group's rows share one read of each key.
//
// The products and sums are done in the general kernel's order (per key: the
// head dim's vectors in order, then StoreSum4; per value element: keys in
// order), so both paths give the same bits.
//
// Include after hwy/highway.h and kv/codecs-inl.h inside a foreach_target
// translation unit.

// Per-target include guard.
#if defined(ARKV_KV_ATTENTION_DIRECT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ARKV_KV_ATTENTION_DIRECT_INL_H_
#undef ARKV_KV_ATTENTION_DIRECT_INL_H_
#else
#define ARKV_KV_ATTENTION_DIRECT_INL_H_
#endif

#include <algorithm>
#include <cstring>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kv/codecs-inl.h"
#include "kv/codecs.h"
#include "kv/token_store.h"

HWY_BEFORE_NAMESPACE();
namespace arkv::kv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Lane sums of a, b, c, e stored to out[0..4).
HWY_INLINE void StoreSum4(VF a, VF b, VF c, VF e, float* HWY_RESTRICT out) {
  const DF df;
#if HWY_TARGET == HWY_SCALAR || HWY_HAVE_SCALABLE
  out[0] = hn::GetLane(hn::SumOfLanes(df, a));
  out[1] = hn::GetLane(hn::SumOfLanes(df, b));
  out[2] = hn::GetLane(hn::SumOfLanes(df, c));
  out[3] = hn::GetLane(hn::SumOfLanes(df, e));
#else
  // Within each 128-bit block: [a0+a2, b0+b2, a1+a3, b1+b3], likewise for c, e;
  // then 64-bit interleaves give the block's [a, b, c, e] sums.
  const VF ab = hn::Add(hn::InterleaveLower(df, a, b), hn::InterleaveUpper(df, a, b));
  const VF ce = hn::Add(hn::InterleaveLower(df, c, e), hn::InterleaveUpper(df, c, e));
  const hn::Repartition<uint64_t, DF> d64;
  const auto ab64 = hn::BitCast(d64, ab), ce64 = hn::BitCast(d64, ce);
  const VF sums = hn::Add(hn::BitCast(df, hn::InterleaveLower(d64, ab64, ce64)),
                          hn::BitCast(df, hn::InterleaveUpper(d64, ab64, ce64)));
  // Add up the blocks.
#if HWY_MAX_BYTES == 64
  const hn::Half<DF> d8;
  const hn::Half<decltype(d8)> d4;
  const auto s8 = hn::Add(hn::LowerHalf(d8, sums), hn::UpperHalf(d8, sums));
  hn::StoreU(hn::Add(hn::LowerHalf(d4, s8), hn::UpperHalf(d4, s8)), d4, out);
#elif HWY_MAX_BYTES == 32
  const hn::Half<DF> d4;
  hn::StoreU(hn::Add(hn::LowerHalf(d4, sums), hn::UpperHalf(d4, sums)), d4, out);
#elif HWY_MAX_BYTES == 16
  hn::StoreU(sums, df, out);
#else
#error "unexpected vector size"
#endif  // HWY_MAX_BYTES
#endif  // HWY_TARGET == HWY_SCALAR || HWY_HAVE_SCALABLE
}

// How far ahead (in tokens) the direct tiles prefetch the keys' slots.
inline constexpr int kPrefetchAhead = 32;

// Query rows the direct tiles take at once (R accumulators per key of a quad).
inline constexpr int kMaxDirectRows = 4;

// Whether a head dim suits the direct tiles: whole vectors, no tail.
HWY_INLINE bool DirectHeadDim(int d) {
  const DF df;
  return d % static_cast<int>(hn::Lanes(df)) == 0;
}

// The scale (1 for formats without scales) and the start of row `which`
// (0: K, 1: V) of a slot.
template <SlotFormat F>
HWY_INLINE const uint8_t* SlotRow(const uint8_t* slot, int which, int d, float* scale) {
  *scale = 1.0f;
  if constexpr (HasScales(F)) std::memcpy(scale, slot + which * sizeof(float), sizeof(float));
  return slot + SlotHeaderBytes(F) + which * RowBytes(F, d);
}

// s[r * s_stride + j] = q_r . k_j for rows r < R of q (stride d) and keys
// j < nks (a multiple of 4) of the tile at `start`; keys from nk on repeat key
// nk - 1 (the caller masks them).
template <SlotFormat F, int R>
HWY_NOINLINE void ScoreDirect(const SlotSpan& span, int start, int nk, int nks, int d,
                              const float* HWY_RESTRICT q, float* HWY_RESTRICT s, size_t s_stride) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  for (int j = 0; j < nks; j += 4) {
    // The tokens one tile ahead, a quad at a time (spread over the sweep).
    for (int i = start + j + kPrefetchAhead;
         i < std::min(start + j + kPrefetchAhead + 4, span.n_tokens); ++i) {
      const uint8_t* t = span.token(i);
      for (size_t b = 0; b < span.stride + 63; b += 64)
        hwy::Prefetch(t + std::min(b, span.stride - 1));
    }
    const uint8_t* k[4];
    VF ks[4];
    for (int i = 0; i < 4; ++i) {
      float scale;
      k[i] = SlotRow<F>(span.slot(start + std::min(j + i, nk - 1)), 0, d, &scale);
      ks[i] = hn::Set(df, scale);
    }
    VF acc[R][4];
    for (int r = 0; r < R; ++r) {
      for (int i = 0; i < 4; ++i) acc[r][i] = hn::Zero(df);
    }
    for (int c = 0; c < d; c += n) {
      const VF k0 = SimdRow<F>::Load(df, k[0], c, ks[0]);
      const VF k1 = SimdRow<F>::Load(df, k[1], c, ks[1]);
      const VF k2 = SimdRow<F>::Load(df, k[2], c, ks[2]);
      const VF k3 = SimdRow<F>::Load(df, k[3], c, ks[3]);
      for (int r = 0; r < R; ++r) {
        const VF qr = hn::Load(df, q + static_cast<size_t>(r) * d + c);
        acc[r][0] = hn::MulAdd(qr, k0, acc[r][0]);
        acc[r][1] = hn::MulAdd(qr, k1, acc[r][1]);
        acc[r][2] = hn::MulAdd(qr, k2, acc[r][2]);
        acc[r][3] = hn::MulAdd(qr, k3, acc[r][3]);
      }
    }
    for (int r = 0; r < R; ++r) {
      StoreSum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3], s + r * s_stride + j);
    }
  }
}

// acc_r[c0, c0 + NV * Lanes) += sum_j p_r[j] * v_j for rows r < R (p row
// stride s_stride, acc row stride d) and the tile's keys j < nk, reading V
// from the slots. R and NV are compile-time: the accumulators stay in
// registers.
template <SlotFormat F, int R, int NV>
HWY_INLINE void AccumulatePVDirectPass(const float* HWY_RESTRICT p, size_t s_stride,
                                       const SlotSpan& span, int start, int nk, int d, int c0,
                                       float* HWY_RESTRICT acc) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  VF a[R][NV];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < NV; ++v) {
      a[r][v] = hn::Load(df, acc + static_cast<size_t>(r) * d + c0 + v * n);
    }
  }
  for (int j = 0; j < nk; ++j) {
    float scale;
    const uint8_t* row = SlotRow<F>(span.slot(start + j), 1, d, &scale);
    const VF vs = hn::Set(df, scale);
    VF x[NV];
    for (int v = 0; v < NV; ++v) x[v] = SimdRow<F>::Load(df, row, c0 + v * n, vs);
    for (int r = 0; r < R; ++r) {
      const VF pr = hn::Set(df, p[r * s_stride + j]);
      for (int v = 0; v < NV; ++v) a[r][v] = hn::MulAdd(pr, x[v], a[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < NV; ++v) {
      hn::Store(a[r][v], df, acc + static_cast<size_t>(r) * d + c0 + v * n);
    }
  }
}

// The head dim in passes of up to 4 vectors.
template <SlotFormat F, int R>
HWY_NOINLINE void AccumulatePVDirect(const float* HWY_RESTRICT p, size_t s_stride,
                                     const SlotSpan& span, int start, int nk, int d,
                                     float* HWY_RESTRICT acc) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  int c0 = 0;
  for (; c0 + 4 * n <= d; c0 += 4 * n) {
    AccumulatePVDirectPass<F, R, 4>(p, s_stride, span, start, nk, d, c0, acc);
  }
  switch ((d - c0) / n) {
    case 3:
      return AccumulatePVDirectPass<F, R, 3>(p, s_stride, span, start, nk, d, c0, acc);
    case 2:
      return AccumulatePVDirectPass<F, R, 2>(p, s_stride, span, start, nk, d, c0, acc);
    case 1:
      return AccumulatePVDirectPass<F, R, 1>(p, s_stride, span, start, nk, d, c0, acc);
    default:
      return;
  }
}

// The two direct steps for `rows` (1..kMaxDirectRows) rows of span's format.
template <SlotFormat F>
struct DirectTile {
  static void Score(int rows, const SlotSpan& span, int start, int nk, int nks, int d,
                    const float* q, float* s, size_t s_stride) {
    switch (rows) {
      case 1:
        return ScoreDirect<F, 1>(span, start, nk, nks, d, q, s, s_stride);
      case 2:
        return ScoreDirect<F, 2>(span, start, nk, nks, d, q, s, s_stride);
      case 3:
        return ScoreDirect<F, 3>(span, start, nk, nks, d, q, s, s_stride);
      default:
        return ScoreDirect<F, 4>(span, start, nk, nks, d, q, s, s_stride);
    }
  }
  static void PV(int rows, const float* p, size_t s_stride, const SlotSpan& span, int start, int nk,
                 int d, float* acc) {
    switch (rows) {
      case 1:
        return AccumulatePVDirect<F, 1>(p, s_stride, span, start, nk, d, acc);
      case 2:
        return AccumulatePVDirect<F, 2>(p, s_stride, span, start, nk, d, acc);
      case 3:
        return AccumulatePVDirect<F, 3>(p, s_stride, span, start, nk, d, acc);
      default:
        return AccumulatePVDirect<F, 4>(p, s_stride, span, start, nk, d, acc);
    }
  }
};

// Scores of rows r < rows (<= kMaxDirectRows) against the tile's keys.
inline void ScoreTileDirect(int rows, const SlotSpan& span, int start, int nk, int nks, int d,
                            const float* q, float* s, size_t s_stride) {
  switch (span.format) {
    case SlotFormat::kF16:
      return DirectTile<SlotFormat::kF16>::Score(rows, span, start, nk, nks, d, q, s, s_stride);
    case SlotFormat::kF32:
      return DirectTile<SlotFormat::kF32>::Score(rows, span, start, nk, nks, d, q, s, s_stride);
    case SlotFormat::kFp8:
      return DirectTile<SlotFormat::kFp8>::Score(rows, span, start, nk, nks, d, q, s, s_stride);
    case SlotFormat::kInt8:
      return DirectTile<SlotFormat::kInt8>::Score(rows, span, start, nk, nks, d, q, s, s_stride);
    case SlotFormat::kInt4:
      return DirectTile<SlotFormat::kInt4>::Score(rows, span, start, nk, nks, d, q, s, s_stride);
  }
}

// P.V of rows r < rows (<= kMaxDirectRows) over the tile's values.
inline void AccumulatePVTileDirect(int rows, const float* p, size_t s_stride, const SlotSpan& span,
                                   int start, int nk, int d, float* acc) {
  switch (span.format) {
    case SlotFormat::kF16:
      return DirectTile<SlotFormat::kF16>::PV(rows, p, s_stride, span, start, nk, d, acc);
    case SlotFormat::kF32:
      return DirectTile<SlotFormat::kF32>::PV(rows, p, s_stride, span, start, nk, d, acc);
    case SlotFormat::kFp8:
      return DirectTile<SlotFormat::kFp8>::PV(rows, p, s_stride, span, start, nk, d, acc);
    case SlotFormat::kInt8:
      return DirectTile<SlotFormat::kInt8>::PV(rows, p, s_stride, span, start, nk, d, acc);
    case SlotFormat::kInt4:
      return DirectTile<SlotFormat::kInt4>::PV(rows, p, s_stride, span, start, nk, d, acc);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv::kv
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
