// Per-target body of the weight matmul, shared by every weight type. Included
// once per Highway target by the matmul_*.cc translation units (foreach_target),
// hence the toggling include guard.
//
// A weight type supplies a Decoder:
//   static constexpr int64_t kBlockElems;  // elements per encoded block
//   static constexpr size_t kBlockBytes;   // bytes per encoded block
//   static constexpr bool kHasTail;        // plain types: cols need not be a
//                                          // multiple of kBlockElems
//   static float ScalarAt(const uint8_t* row, int64_t i);  // only if kHasTail
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

// out[t] = dot(row, xs[t]) for kT tokens: each decoded weight vector is used
// kT times, which is what makes batched prefill cheaper per token than
// repeated matvec.
template <class Decoder, size_t kT>
HWY_INLINE void DotRowTokens(const uint8_t* row, int64_t cols, const float* const* xs, float* out) {
  const DF df;
  VF acc0[kT], acc1[kT];
  for (size_t t = 0; t < kT; ++t) {
    acc0[t] = hn::Zero(df);
    acc1[t] = hn::Zero(df);
  }
  const int64_t n_blocks = cols / Decoder::kBlockElems;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const int64_t base = b * Decoder::kBlockElems;
    Decoder::Decode(df, row + b * Decoder::kBlockBytes,
                    [&](size_t e0, VF w0, size_t e1, VF w1) HWY_ATTR {
                      for (size_t t = 0; t < kT; ++t) {
                        const float* x = xs[t] + base;
                        acc0[t] = hn::MulAdd(w0, hn::LoadU(df, x + e0), acc0[t]);
                        acc1[t] = hn::MulAdd(w1, hn::LoadU(df, x + e1), acc1[t]);
                      }
                    });
  }
  for (size_t t = 0; t < kT; ++t) {
    out[t] = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[t], acc1[t])));
  }
  if constexpr (Decoder::kHasTail) {
    for (int64_t i = n_blocks * Decoder::kBlockElems; i < cols; ++i) {
      const float w = Decoder::ScalarAt(row, i);
      for (size_t t = 0; t < kT; ++t) out[t] += w * xs[t][i];
    }
  }
}

// Rows are visited in small tiles; within a tile, tokens go in groups of
// kMaxTokens, so a tile of weights stays in cache while every group of
// activations streams past it.
template <class Decoder>
void MatMulRowsT(const internal::MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  constexpr int64_t kMaxTokens = 4;
  constexpr int64_t kRowTile = 16;
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  for (int64_t rb = row_begin; rb < row_end; rb += kRowTile) {
    const int64_t re = std::min(row_end, rb + kRowTile);
    for (int64_t t0 = 0; t0 < a.n_tokens; t0 += kMaxTokens) {
      const int64_t nt = std::min(kMaxTokens, a.n_tokens - t0);
      const float* xs[kMaxTokens];
      for (int64_t k = 0; k < nt; ++k) xs[k] = a.x + (t0 + k) * a.x_stride;
      for (int64_t r = rb; r < re; ++r) {
        const uint8_t* row = base + static_cast<size_t>(r) * a.w.row_bytes;
        float out[kMaxTokens];
        switch (nt) {
          case 4:
            DotRowTokens<Decoder, 4>(row, a.w.cols, xs, out);
            break;
          case 3:
            DotRowTokens<Decoder, 3>(row, a.w.cols, xs, out);
            break;
          case 2:
            DotRowTokens<Decoder, 2>(row, a.w.cols, xs, out);
            break;
          default:
            DotRowTokens<Decoder, 1>(row, a.w.cols, xs, out);
            break;
        }
        for (int64_t k = 0; k < nt; ++k) a.y[(t0 + k) * a.y_stride + r] = out[k];
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#endif  // ARKV_TENSOR_MATMUL_INL_H_
