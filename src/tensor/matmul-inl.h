// Per-target body of the weight matmul, shared by every weight type. Included
// once per Highway target by the matmul_*.cc translation units (foreach_target),
// hence the toggling include guard.
//
// A weight type supplies a Decoder:
//   static constexpr int64_t kBlockElems;  // elements per encoded block
//   static constexpr size_t kBlockBytes;   // bytes per encoded block
//   static constexpr bool kHasTail;        // plain types: cols need not be a
//                                          // multiple of kBlockElems
//   static float ScalarAt(const uint8_t* row, int64_t i);  // needed only if kHasTail
//   template <class Sink> static void Decode(DF df, const uint8_t* block, Sink&& sink);
// Decode calls sink(e0, w0, e1, w1) with the decoded weights of elements
// [e0, e0 + N) and [e1, e1 + N) of the block (N = Lanes(df)), covering the
// block exactly once. The two vectors feed two independent accumulator chains.
// Decoded weights equal DequantizeRow's values exactly, so the only rounding
// of the matmul is that of the f32 accumulation.

#if defined(ARKV_TENSOR_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ARKV_TENSOR_MATMUL_INL_H_
#undef ARKV_TENSOR_MATMUL_INL_H_
#else
#define ARKV_TENSOR_MATMUL_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/aligned.h"
#include "core/fp16.h"
#include "hwy/highway.h"
#include "tensor/matmul_internal.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 float lanes, so that blocks of 32 hold a whole number of vector
// pairs and a vector never straddles two Q6_K sub-block scales.
using DF = hn::CappedTag<float, 16>;
using VF = hn::Vec<DF>;
using DI32 = hn::RebindToSigned<DF>;
using DU8 = hn::Rebind<uint8_t, DF>;
using DI8 = hn::Rebind<int8_t, DF>;

// Loads Lanes(DF) bytes and widens them to int32 lanes.
HWY_INLINE hn::Vec<DI32> LoadBytesU(const uint8_t* p) {
  return hn::PromoteTo(DI32(), hn::LoadU(DU8(), p));
}
HWY_INLINE hn::Vec<DI32> LoadBytesI(const int8_t* p) {
  return hn::PromoteTo(DI32(), hn::LoadU(DI8(), p));
}
HWY_INLINE VF ToFloat(hn::Vec<DI32> v) { return hn::ConvertTo(DF(), v); }

// fp16 block scale to float. AVX2 and AVX-512 have an instruction for it
// (F16C); elsewhere Highway emulates it more slowly than the scalar code.
HWY_INLINE float HalfToFloat(const uint16_t* h) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  const hn::CappedTag<float, 1> d1;
  const hn::Rebind<hwy::float16_t, decltype(d1)> dh1;
  return hn::GetLane(hn::PromoteTo(d1, hn::LoadU(dh1, reinterpret_cast<const hwy::float16_t*>(h))));
#else
  return F16ToF32(*h);
#endif
}

// dot(row, x) for one row (the odd row out of MatVecRows).
template <class Decoder>
HWY_INLINE float DotRow(const uint8_t* row, int64_t cols, const float* x) {
  const DF df;
  VF acc0 = hn::Zero(df), acc1 = hn::Zero(df);
  const int64_t n_blocks = cols / Decoder::kBlockElems;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const float* xb = x + b * Decoder::kBlockElems;
    Decoder::Decode(df, row + b * Decoder::kBlockBytes,
                    [&](size_t e0, VF w0, size_t e1, VF w1) HWY_ATTR {
                      acc0 = hn::MulAdd(w0, hn::LoadU(df, xb + e0), acc0);
                      acc1 = hn::MulAdd(w1, hn::LoadU(df, xb + e1), acc1);
                    });
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1)));
  if constexpr (Decoder::kHasTail) {
    for (int64_t i = n_blocks * Decoder::kBlockElems; i < cols; ++i) {
      sum += Decoder::ScalarAt(row, i) * x[i];
    }
  }
  return sum;
}

// Matvec dot products of two rows with one x: four independent accumulator
// chains, and each x vector loaded serves both rows.
template <class Decoder>
HWY_INLINE void DotTwoRows(const uint8_t* row0, const uint8_t* row1, int64_t cols, const float* x,
                           float* out0, float* out1) {
  const DF df;
  VF a0 = hn::Zero(df), a1 = hn::Zero(df), b0 = hn::Zero(df), b1 = hn::Zero(df);
  const int64_t n_blocks = cols / Decoder::kBlockElems;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const float* xb = x + b * Decoder::kBlockElems;
    Decoder::Decode(df, row0 + b * Decoder::kBlockBytes,
                    [&](size_t e0, VF w0, size_t e1, VF w1) HWY_ATTR {
                      a0 = hn::MulAdd(w0, hn::LoadU(df, xb + e0), a0);
                      a1 = hn::MulAdd(w1, hn::LoadU(df, xb + e1), a1);
                    });
    Decoder::Decode(df, row1 + b * Decoder::kBlockBytes,
                    [&](size_t e0, VF w0, size_t e1, VF w1) HWY_ATTR {
                      b0 = hn::MulAdd(w0, hn::LoadU(df, xb + e0), b0);
                      b1 = hn::MulAdd(w1, hn::LoadU(df, xb + e1), b1);
                    });
  }
  *out0 = hn::GetLane(hn::SumOfLanes(df, hn::Add(a0, a1)));
  *out1 = hn::GetLane(hn::SumOfLanes(df, hn::Add(b0, b1)));
  if constexpr (Decoder::kHasTail) {
    for (int64_t i = n_blocks * Decoder::kBlockElems; i < cols; ++i) {
      *out0 += Decoder::ScalarAt(row0, i) * x[i];
      *out1 += Decoder::ScalarAt(row1, i) * x[i];
    }
  }
}

// Matvec (one token): rows are decoded straight into registers, two at a time
// (measured 4-80% faster than one row at a time, most for F16/BF16 on AVX2),
// one from each half of the range: each half is then one sequential stream
// through memory for the hardware prefetchers (see VnniKMatVecRows).
template <class Decoder>
void MatVecRows(const internal::MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  const auto row = [&](int64_t r) { return base + static_cast<size_t>(r) * a.w.row_bytes; };
  const int64_t half = (row_end - row_begin) / 2;
  for (int64_t r = row_begin; r < row_begin + half; ++r) {
    DotTwoRows<Decoder>(row(r), row(r + half), a.w.cols, a.x, a.y + r, a.y + r + half);
  }
  if ((row_end - row_begin) % 2 != 0)
    a.y[row_end - 1] = DotRow<Decoder>(row(row_end - 1), a.w.cols, a.x);
}

// Register tile of the batched kernel: kRows weight rows x kTokens tokens of
// accumulators, sized to the register file: 16 accumulators + 4 x + 1 weight
// on AVX-512 (32 registers), 12 + 4 + 1 with 16 registers (measured best of
// 2x4, 3x4 and 4x3 on AVX2; 4x4 and 4x6 tie on AVX-512).
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
inline constexpr int64_t kTileRows = 4;
#else
inline constexpr int64_t kTileRows = 3;
#endif
inline constexpr int64_t kTileTokens = 4;

// Batched matmul (prefill). For each group of kTileRows rows, the weights are
// decoded one column chunk at a time into an L1 buffer, and that chunk serves
// every token before the next one is decoded, so decoding costs once per
// weight whatever the number of tokens. Each x vector loaded feeds kTileRows
// FMAs and each weight vector kTileTokens. Partial sums of every (row, token)
// pair stay as vectors in `partial` between chunks. Rows and tokens beyond the
// end are computed on repeated pointers to the last one and not stored.
template <class Decoder>
void MatMulRowsBatched(const internal::MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  constexpr int64_t kR = kTileRows, kT = kTileTokens;
  constexpr int64_t kChunk = Decoder::kBlockElems > 256 ? Decoder::kBlockElems : 256;
  constexpr int64_t kBlocksPerChunk = kChunk / Decoder::kBlockElems;
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  const int64_t n_blocks = a.w.cols / Decoder::kBlockElems;
  const int64_t n_groups = (a.n_tokens + kT - 1) / kT;
  const auto* base = static_cast<const uint8_t*>(a.w.data);

  HWY_ALIGN float wbuf[kR][kChunk];
  AlignedPtr<float> partial = AllocAligned<float>(static_cast<size_t>(n_groups * kR * kT * n));

  for (int64_t r0 = row_begin; r0 < row_end; r0 += kR) {
    const uint8_t* rows[kR];
    for (int64_t r = 0; r < kR; ++r) {
      rows[r] = base + static_cast<size_t>(std::min(r0 + r, row_end - 1)) * a.w.row_bytes;
    }
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kBlocksPerChunk) {
      const int64_t nb = std::min(kBlocksPerChunk, n_blocks - b0);
      for (int64_t r = 0; r < kR; ++r) {
        for (int64_t j = 0; j < nb; ++j) {
          float* out = wbuf[r] + j * Decoder::kBlockElems;
          Decoder::Decode(df, rows[r] + (b0 + j) * Decoder::kBlockBytes,
                          [&](size_t e0, VF w0, size_t e1, VF w1) HWY_ATTR {
                            hn::Store(w0, df, out + e0);
                            hn::Store(w1, df, out + e1);
                          });
        }
      }
      const int64_t col0 = b0 * Decoder::kBlockElems, chunk_elems = nb * Decoder::kBlockElems;
      for (int64_t g = 0; g < n_groups; ++g) {
        const float* xs[kT];
        for (int64_t t = 0; t < kT; ++t) {
          xs[t] = a.x + std::min(g * kT + t, a.n_tokens - 1) * a.x_stride + col0;
        }
        float* part = partial.get() + g * kR * kT * n;
        VF acc[kR][kT];
        for (int64_t r = 0; r < kR; ++r) {
          for (int64_t t = 0; t < kT; ++t) {
            acc[r][t] = b0 == 0 ? hn::Zero(df) : hn::Load(df, part + (r * kT + t) * n);
          }
        }
        for (int64_t e = 0; e < chunk_elems; e += n) {
          VF xv[kT];
          for (int64_t t = 0; t < kT; ++t) xv[t] = hn::LoadU(df, xs[t] + e);
          for (int64_t r = 0; r < kR; ++r) {
            const VF wv = hn::Load(df, wbuf[r] + e);
            for (int64_t t = 0; t < kT; ++t) acc[r][t] = hn::MulAdd(wv, xv[t], acc[r][t]);
          }
        }
        for (int64_t r = 0; r < kR; ++r) {
          for (int64_t t = 0; t < kT; ++t) hn::Store(acc[r][t], df, part + (r * kT + t) * n);
        }
      }
    }
    // Reduce the partial sums (plus the scalar tail of plain types) and store.
    for (int64_t g = 0; g < n_groups; ++g) {
      for (int64_t r = 0; r < kR && r0 + r < row_end; ++r) {
        for (int64_t t = 0; t < kT && g * kT + t < a.n_tokens; ++t) {
          const int64_t token = g * kT + t;
          const float* part = partial.get() + (g * kR * kT + r * kT + t) * n;
          float sum = n_blocks > 0 ? hn::GetLane(hn::SumOfLanes(df, hn::Load(df, part))) : 0.0f;
          if constexpr (Decoder::kHasTail) {
            const float* x = a.x + token * a.x_stride;
            for (int64_t i = n_blocks * Decoder::kBlockElems; i < a.w.cols; ++i) {
              sum += Decoder::ScalarAt(rows[r], i) * x[i];
            }
          }
          a.y[token * a.y_stride + r0 + r] = sum;
        }
      }
    }
  }
}

template <class Decoder>
void MatMulRowsT(const internal::MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  if (a.n_tokens == 1) {
    MatVecRows<Decoder>(a, row_begin, row_end);
  } else {
    MatMulRowsBatched<Decoder>(a, row_begin, row_end);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#endif  // ARKV_TENSOR_MATMUL_INL_H_
