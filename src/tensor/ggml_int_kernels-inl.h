// Per-target body of the integer matmul (MatMulPrecision::kGgml) shared by the
// quantized weight types. Included once per Highway target by ggml_int_kernels.cc
// (foreach_target), hence the toggling include guard.
//
// The arithmetic is llama.cpp's (ggml_vec_dot_*_q8_*): per weight block, the
// integer weights (times their integer sub-block scales) meet the int8
// activations in an exact int32 dot product; that sum is converted to float
// and multiplied by (activation scale * weight scale), and K-quants with mins
// subtract (activation scale * weight min scale) * sum_j m[j] * bsum[j].
//
// A weight type supplies an IntDecoder:
//   using Act = BlockQ8_0 or BlockQ8_K;     // activation block, kBlockElems long
//   static constexpr int64_t kBlockElems;   // elements per weight block
//   static constexpr size_t kBlockBytes;
//   static constexpr bool kHasMins;         // Q4_K / Q5_K
//   template <class Sink>
//   static void Decode(const uint8_t* block, WBlockInfo& info, Sink&& sink);
// Decode fills `info` and calls sink(e, w) with the int16 weights (already
// multiplied by their integer sub-block scale) of elements [e, e + N) for
// N = Lanes(D16), covering the block exactly once in any order.

#if defined(ARKV_TENSOR_GGML_INT_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ARKV_TENSOR_GGML_INT_KERNELS_INL_H_
#undef ARKV_TENSOR_GGML_INT_KERNELS_INL_H_
#else
#define ARKV_TENSOR_GGML_INT_KERNELS_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/aligned.h"
#include "hwy/highway.h"
#include "tensor/ggml_int_vnni-inl.h"
#include "tensor/ggml_int_vnni_k-inl.h"
#include "tensor/ggml_int_vnni_tile-inl.h"
#include "tensor/matmul-inl.h"
#include "tensor/matmul_internal.h"
#include "tensor/quant_blocks.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 int16 lanes, so that a vector never straddles two 16-element
// Q6_K sub-blocks (or two 32-element Q4_K sub-blocks).
using D16 = hn::CappedTag<int16_t, 16>;
using V16 = hn::Vec<D16>;
using DW32 = hn::RepartitionToWide<D16>;
using VW32 = hn::Vec<DW32>;
using DWF = hn::Rebind<float, DW32>;
using VWF = hn::Vec<DWF>;

// Per weight block: its float scale (and, with mins, min scale and the
// eight 6-bit mins of its sub-blocks).
struct WBlockInfo {
  float d = 0.0f;
  float dmin = 0.0f;
  int32_t mins[8] = {};
};

HWY_INLINE V16 LoadI8AsI16(const int8_t* p) {
  return hn::PromoteTo(D16(), hn::LoadU(hn::Rebind<int8_t, D16>(), p));
}
HWY_INLINE V16 LoadU8AsI16(const uint8_t* p) {
  const hn::RebindToUnsigned<D16> du16;
  return hn::BitCast(D16(), hn::PromoteTo(du16, hn::LoadU(hn::Rebind<uint8_t, D16>(), p)));
}

// sum + the pairwise products of a and b, all in int32 (pmaddwd on x86).
// Where Highway splits the products over two accumulators, they are added.
HWY_INLINE VW32 MulAcc(V16 a, V16 b, VW32 sum) {
  const DW32 d32;
  VW32 odd = hn::Zero(d32);
  sum = hn::ReorderWidenMulAccumulate(d32, a, b, sum, odd);
  return hn::Add(sum, odd);
}

inline float ActScale(const BlockQ8_0& b) { return HalfToFloat(&b.d); }
inline float ActScale(const BlockQ8_K& b) { return b.d; }

// sum_j mins[j] * (sum of the activation quants of 32-element sub-block j).
inline int32_t MinsDot(const int32_t mins[8], const BlockQ8_K& x) {
  int32_t sum = 0;
  for (int j = 0; j < 8; ++j) sum += mins[j] * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
  return sum;
}

// Matvec (one token): each weight block is decoded straight into registers.
// Alternate blocks feed two float accumulators (shorter dependency chains).
template <class Dec>
void IntMatVecRows(const internal::IntMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  using Act = typename Dec::Act;
  const DWF df;
  const DW32 d32;
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  const auto* acts = static_cast<const Act*>(a.acts);
  const int64_t n_blocks = a.w.cols / Dec::kBlockElems;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = base + static_cast<size_t>(r) * a.w.row_bytes;
    VWF acc[2] = {hn::Zero(df), hn::Zero(df)};
    float min_sum = 0.0f;
    for (int64_t b = 0; b < n_blocks; ++b) {
      const Act& x = acts[b];
      WBlockInfo info;
      VW32 isum = hn::Zero(d32);
      Dec::Decode(row + b * Dec::kBlockBytes, info,
                  [&](size_t e, V16 w) HWY_ATTR { isum = MulAcc(w, LoadI8AsI16(x.qs + e), isum); });
      const float dx = ActScale(x);
      acc[b & 1] = hn::MulAdd(hn::ConvertTo(df, isum), hn::Set(df, dx * info.d), acc[b & 1]);
      if constexpr (Dec::kHasMins) {
        min_sum += dx * info.dmin * static_cast<float>(MinsDot(info.mins, x));
      }
    }
    a.y[r] = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc[0], acc[1]))) - min_sum;
  }
}

// Register tile of the batched kernel: kIntTileRows x kIntTileTokens int32
// accumulators, plus one int16 vector per token and one weight vector.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
inline constexpr int64_t kIntTileRows = 4;  // 16 + 4 + 1 of 32 registers
#else
inline constexpr int64_t kIntTileRows = 3;  // 12 + 4 + 1 (of 16 on AVX2)
#endif
inline constexpr int64_t kIntTileTokens = 4;

// The inner products of the batched kernel run on the widest int16 vectors
// (32 lanes on AVX-512): the decoded weights sit in memory as plain int16, so
// the 16-lane limit of the decoders does not apply there.
using DP16 = hn::ScalableTag<int16_t>;
using DP32 = hn::RepartitionToWide<DP16>;
using DPF = hn::Rebind<float, DP32>;
HWY_INLINE hn::Vec<DP32> MulAccWide(hn::Vec<DP16> a, hn::Vec<DP16> b, hn::Vec<DP32> sum) {
#if HWY_TARGET == HWY_AVX3_DL
  return hn::Vec<DP32>{Dpwssd(sum.raw, a.raw, b.raw)};  // one vpdpwssd
#else
  const DP32 d32;
  hn::Vec<DP32> odd = hn::Zero(d32);
  sum = hn::ReorderWidenMulAccumulate(d32, a, b, sum, odd);
  return hn::Add(sum, odd);
#endif
}

// Batched matmul (prefill). For each group of kIntTileRows rows, every weight
// block is decoded once into an L1 buffer of int16 and serves all tokens;
// each activation vector loaded feeds kIntTileRows products and each weight
// vector kIntTileTokens. Float partial sums per (row, token) stay in
// `partial` between blocks. The activation scales (and, for mins, the
// sub-block sums) are first gathered token-contiguous, so that the min terms
// of a row are computed for Lanes(DWF) tokens at a time. Rows and tokens
// beyond the end are computed on repeated pointers to the last one and not
// stored.
template <class Dec>
void IntMatMulRowsBatched(const internal::IntMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  using Act = typename Dec::Act;
  constexpr int64_t kR = kIntTileRows, kT = kIntTileTokens;
  const D16 d16;
  const DW32 d32;
  const DWF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  const int64_t n_blocks = a.w.cols / Dec::kBlockElems;
  const int64_t n_groups = (a.n_tokens + kT - 1) / kT;
  const int64_t n_pad = (a.n_tokens + n - 1) / n * n;  // tokens, padded to whole vectors
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  const auto* acts = static_cast<const Act*>(a.acts);

  // dx[b * n_pad + t]: scale of token t's activation block b; bsum[(8 b + j)
  // * n_pad + t]: sum of the quants of its 32-element sub-block j.
  AlignedPtr<float> dx = AllocAligned<float>(static_cast<size_t>(n_blocks * n_pad));
  AlignedPtr<int32_t> bsum =
      AllocAligned<int32_t>(Dec::kHasMins ? static_cast<size_t>(n_blocks * 8 * n_pad) : 1);
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    for (int64_t b = 0; b < n_blocks; ++b) {
      const Act& x = acts[t * n_blocks + b];
      dx[b * n_pad + t] = ActScale(x);
      if constexpr (Dec::kHasMins) {
        for (int j = 0; j < 8; ++j) {
          bsum[(b * 8 + j) * n_pad + t] = x.bsums[2 * j] + x.bsums[2 * j + 1];
        }
      }
    }
  }

  const DP16 dp16;
  const DP32 dp32;
  const DPF dpf;
  const int64_t np16 = static_cast<int64_t>(hn::Lanes(dp16));
  const int64_t np = static_cast<int64_t>(hn::Lanes(dpf));
  HWY_ALIGN int16_t wbuf[kR][Dec::kBlockElems];
  WBlockInfo info[kR];
  const size_t n_partial = static_cast<size_t>(n_groups * kR * kT);
  AlignedPtr<float> partial = AllocAligned<float>(n_partial * static_cast<size_t>(np));
  AlignedPtr<float> min_acc = AllocAligned<float>(Dec::kHasMins ? kR * n_pad : 1);

  for (int64_t r0 = row_begin; r0 < row_end; r0 += kR) {
    const uint8_t* rows[kR];
    for (int64_t r = 0; r < kR; ++r) {
      rows[r] = base + static_cast<size_t>(std::min(r0 + r, row_end - 1)) * a.w.row_bytes;
    }
    std::memset(partial.get(), 0, n_partial * static_cast<size_t>(np) * sizeof(float));
    if constexpr (Dec::kHasMins) {
      std::memset(min_acc.get(), 0, static_cast<size_t>(kR * n_pad) * sizeof(float));
    }

    for (int64_t b = 0; b < n_blocks; ++b) {
      for (int64_t r = 0; r < kR; ++r) {
        int16_t* out = wbuf[r];
        Dec::Decode(rows[r] + b * Dec::kBlockBytes, info[r],
                    [&](size_t e, V16 w) HWY_ATTR { hn::Store(w, d16, out + e); });
      }
      const float* dxb = dx.get() + b * n_pad;
      if constexpr (Dec::kHasMins) {
        // min_acc[r][t] += (dx[t] * dmin_r) * sum_j m_r[j] * bsum[j][t].
        const int32_t* bs = bsum.get() + b * 8 * n_pad;
        for (int64_t r = 0; r < kR; ++r) {
          const VWF dmin = hn::Set(df, info[r].dmin);
          for (int64_t t0 = 0; t0 < n_pad; t0 += n) {
            VW32 s = hn::Zero(d32);
            for (int j = 0; j < 8; ++j) {
              s = hn::Add(
                  s, hn::Mul(hn::Set(d32, info[r].mins[j]), hn::Load(d32, bs + j * n_pad + t0)));
            }
            float* m = min_acc.get() + r * n_pad + t0;
            const VWF f = hn::Mul(hn::Load(df, dxb + t0), dmin);
            hn::Store(hn::MulAdd(hn::ConvertTo(df, s), f, hn::Load(df, m)), df, m);
          }
        }
      }
      for (int64_t g = 0; g < n_groups; ++g) {
        const int8_t* xs[kT];
        float dxt[kT];
        for (int64_t t = 0; t < kT; ++t) {
          const int64_t token = std::min(g * kT + t, a.n_tokens - 1);
          xs[t] = acts[token * n_blocks + b].qs;
          dxt[t] = dxb[token];
        }
        hn::Vec<DP32> isum[kR][kT];
        for (int64_t r = 0; r < kR; ++r) {
          for (int64_t t = 0; t < kT; ++t) isum[r][t] = hn::Zero(dp32);
        }
        for (int64_t e = 0; e < Dec::kBlockElems; e += np16) {
          hn::Vec<DP16> xv[kT];
          for (int64_t t = 0; t < kT; ++t) {
            xv[t] = hn::PromoteTo(dp16, hn::LoadU(hn::Rebind<int8_t, DP16>(), xs[t] + e));
          }
          for (int64_t r = 0; r < kR; ++r) {
            const hn::Vec<DP16> wv = hn::Load(dp16, wbuf[r] + e);
            for (int64_t t = 0; t < kT; ++t) isum[r][t] = MulAccWide(wv, xv[t], isum[r][t]);
          }
        }
        float* part = partial.get() + g * kR * kT * np;
        for (int64_t r = 0; r < kR; ++r) {
          for (int64_t t = 0; t < kT; ++t) {
            float* p = part + (r * kT + t) * np;
            hn::Store(hn::MulAdd(hn::ConvertTo(dpf, isum[r][t]), hn::Set(dpf, dxt[t] * info[r].d),
                                 hn::Load(dpf, p)),
                      dpf, p);
          }
        }
      }
    }
    for (int64_t g = 0; g < n_groups; ++g) {
      for (int64_t r = 0; r < kR && r0 + r < row_end; ++r) {
        for (int64_t t = 0; t < kT && g * kT + t < a.n_tokens; ++t) {
          const int64_t token = g * kT + t;
          const float* p = partial.get() + ((g * kR + r) * kT + t) * np;
          float sum = hn::GetLane(hn::SumOfLanes(dpf, hn::Load(dpf, p)));
          if constexpr (Dec::kHasMins) sum -= min_acc[r * n_pad + token];
          a.y[token * a.y_stride + r0 + r] = sum;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Q8_0 and Q4_0 (32-element blocks against Q8_0 activations). These use the
// widest int16 vectors up to one block (32 lanes on AVX-512, so a block is a
// single pmaddwd), keep float accumulators in registers across all blocks,
// and convert the fp16 scales to f32 once per call (activations) or per row
// tile (weights). A 32-block decoder additionally supplies
//   static float Scale(const uint8_t* block);
//   template <class Sink> static void DecodeB(const uint8_t* block, Sink&&);
// with sink(e, w) for the int16 weights of elements [e, e + Lanes(DB)).
using DB = hn::CappedTag<int16_t, kQK>;
using VB = hn::Vec<DB>;
using DB32 = hn::RepartitionToWide<DB>;
using VB32 = hn::Vec<DB32>;
using DBF = hn::Rebind<float, DB32>;
using VBF = hn::Vec<DBF>;
inline constexpr size_t kBLanes = hn::MaxLanes(DB());
inline constexpr size_t kBVecs = kQK / kBLanes;  // int16 vectors per block

HWY_INLINE VB LoadI8AsI16B(const int8_t* p) {
  return hn::PromoteTo(DB(), hn::LoadU(hn::Rebind<int8_t, DB>(), p));
}
HWY_INLINE VB32 MulAccB(VB a, VB b, VB32 sum) {
  VB32 odd = hn::Zero(DB32());
  sum = hn::ReorderWidenMulAccumulate(DB32(), a, b, sum, odd);
  return hn::Add(sum, odd);
}

// Exact int32 partial sums of one weight block against the promoted
// activation vectors of the same block.
template <class Dec>
HWY_INLINE VB32 BlockDotB(const uint8_t* block, const VB* xv) {
  VB32 isum = hn::Zero(DB32());
  Dec::DecodeB(block, [&](size_t e, VB w) HWY_ATTR { isum = MulAccB(w, xv[e / kBLanes], isum); });
  return isum;
}

// f32 scales of a Q8_0 activation row.
inline void ActScalesQ8_0(const BlockQ8_0* x, int64_t n_blocks, float* dx) {
  for (int64_t b = 0; b < n_blocks; ++b) dx[b] = HalfToFloat(&x[b].d);
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
inline constexpr int64_t kQ32VecRows = 4;
inline constexpr int64_t kQ32TileRows = 4;  // 16 accumulators + 4 x + 4 dx + w
#else
inline constexpr int64_t kQ32VecRows = 4;
inline constexpr int64_t kQ32TileRows = 2;
#endif
inline constexpr int64_t kQ32TileTokens = 4;

// Matvec: kQ32VecRows rows per pass share each activation vector loaded.
template <class Dec>
void Q32MatVecRows(const internal::IntMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  constexpr int64_t kR = kQ32VecRows;
  const DBF df;
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  const auto* acts = static_cast<const BlockQ8_0*>(a.acts);
  const int64_t n_blocks = a.w.cols / kQK;
  AlignedPtr<float> dx = AllocAligned<float>(static_cast<size_t>(n_blocks));
  ActScalesQ8_0(acts, n_blocks, dx.get());
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kR) {
    const uint8_t* rows[kR];
    VBF acc[kR];
    for (int64_t r = 0; r < kR; ++r) {
      rows[r] = base + static_cast<size_t>(std::min(r0 + r, row_end - 1)) * a.w.row_bytes;
      acc[r] = hn::Zero(df);
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
      VB xv[kBVecs];
      for (size_t v = 0; v < kBVecs; ++v) xv[v] = LoadI8AsI16B(acts[b].qs + v * kBLanes);
      for (int64_t r = 0; r < kR; ++r) {
        const uint8_t* blk = rows[r] + b * Dec::kBlockBytes;
        const VB32 isum = BlockDotB<Dec>(blk, xv);
        acc[r] = hn::MulAdd(hn::ConvertTo(df, isum), hn::Set(df, dx[b] * Dec::Scale(blk)), acc[r]);
      }
    }
    for (int64_t r = 0; r < kR && r0 + r < row_end; ++r) {
      a.y[r0 + r] = hn::GetLane(hn::SumOfLanes(df, acc[r]));
    }
  }
}

// Batched matmul (prefill): register tiles of kQ32TileRows rows x
// kQ32TileTokens tokens run over all blocks with their float accumulators in
// registers. The weights of a row tile are first decoded once to int8 (a few
// KiB, which stay in L1 across token groups; Q4_0 decodes once, not once per
// group) with their scales converted to f32.
template <class Dec>
void Q32MatMulRowsBatched(const internal::IntMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  constexpr int64_t kR = kQ32TileRows, kT = kQ32TileTokens;
  const DBF df;
  const auto* base = static_cast<const uint8_t*>(a.w.data);
  const auto* acts = static_cast<const BlockQ8_0*>(a.acts);
  const int64_t n_blocks = a.w.cols / kQK;
  AlignedPtr<float> dx = AllocAligned<float>(static_cast<size_t>(a.n_tokens * n_blocks));
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    ActScalesQ8_0(acts + t * n_blocks, n_blocks, dx.get() + t * n_blocks);
  }
  AlignedPtr<float> dw = AllocAligned<float>(static_cast<size_t>(kR * n_blocks));
  AlignedPtr<int8_t> wq = AllocAligned<int8_t>(static_cast<size_t>(kR * a.w.cols));
  const hn::Rebind<int8_t, DB> d8;
  for (int64_t r0 = row_begin; r0 < row_end; r0 += kR) {
    for (int64_t r = 0; r < kR; ++r) {
      const uint8_t* row =
          base + static_cast<size_t>(std::min(r0 + r, row_end - 1)) * a.w.row_bytes;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* blk = row + b * Dec::kBlockBytes;
        dw[r * n_blocks + b] = Dec::Scale(blk);
        int8_t* out = wq.get() + r * a.w.cols + b * kQK;
        Dec::DecodeB(blk,
                     [&](size_t e, VB w) HWY_ATTR { hn::Store(hn::DemoteTo(d8, w), d8, out + e); });
      }
    }
    for (int64_t t0 = 0; t0 < a.n_tokens; t0 += kT) {
      const BlockQ8_0* xs[kT];
      const float* dxt[kT];
      for (int64_t t = 0; t < kT; ++t) {
        const int64_t token = std::min(t0 + t, a.n_tokens - 1);
        xs[t] = acts + token * n_blocks;
        dxt[t] = dx.get() + token * n_blocks;
      }
      VBF acc[kR][kT];
      for (int64_t r = 0; r < kR; ++r) {
        for (int64_t t = 0; t < kT; ++t) acc[r][t] = hn::Zero(df);
      }
      for (int64_t b = 0; b < n_blocks; ++b) {
        VB xv[kT][kBVecs];
        VBF dxv[kT];
        for (int64_t t = 0; t < kT; ++t) {
          for (size_t v = 0; v < kBVecs; ++v) xv[t][v] = LoadI8AsI16B(xs[t][b].qs + v * kBLanes);
          dxv[t] = hn::Set(df, dxt[t][b]);
        }
        for (int64_t r = 0; r < kR; ++r) {
          const int8_t* wr = wq.get() + r * a.w.cols + b * kQK;
          VB wv[kBVecs];
          for (size_t v = 0; v < kBVecs; ++v) wv[v] = LoadI8AsI16B(wr + v * kBLanes);
          const VBF dwv = hn::Set(df, dw[r * n_blocks + b]);
          for (int64_t t = 0; t < kT; ++t) {
            VB32 isum = hn::Zero(DB32());
            for (size_t v = 0; v < kBVecs; ++v) isum = MulAccB(wv[v], xv[t][v], isum);
            // dx * dw, as the matvec and llama.cpp round it.
            acc[r][t] = hn::MulAdd(hn::ConvertTo(df, isum), hn::Mul(dxv[t], dwv), acc[r][t]);
          }
        }
      }
      for (int64_t r = 0; r < kR && r0 + r < row_end; ++r) {
        for (int64_t t = 0; t < kT && t0 + t < a.n_tokens; ++t) {
          a.y[(t0 + t) * a.y_stride + r0 + r] = hn::GetLane(hn::SumOfLanes(df, acc[r][t]));
        }
      }
    }
  }
}

template <class Dec>
void IntMatMulRowsT(const internal::IntMatMulArgs& a, int64_t row_begin, int64_t row_end) {
#if HWY_TARGET == HWY_AVX3_DL
  // The tile kernel for every batch, and for one token of the 32-element
  // block types too: a row's result then does not depend on the batch size
  // (a prompt scored in one batch equals it scored token by token), and at
  // one token it streams Q8_0 weights as fast as the 4-row matvec. The
  // K-quants keep their matvec (cheaper to decode at one token). The tile's
  // row offsets are int32 (a gather's indices).
  if ((a.n_tokens > 1 || Dec::kBlockElems == kQK) &&
      a.w.row_bytes <= size_t{INT32_MAX} / kVnniTileRows) {
    return VnniTileMatMulRows<Dec>(a, row_begin, row_end);
  }
#endif
  if constexpr (Dec::kBlockElems == kQK) {
    if (a.n_tokens == 1) {
      Q32MatVecRows<Dec>(a, row_begin, row_end);
    } else {
      Q32MatMulRowsBatched<Dec>(a, row_begin, row_end);
    }
  } else if (a.n_tokens == 1) {
#if HWY_TARGET == HWY_AVX3_DL
    VnniKMatVecRows<Dec>(a, row_begin, row_end);
#else
    IntMatVecRows<Dec>(a, row_begin, row_end);
#endif
  } else {
    IntMatMulRowsBatched<Dec>(a, row_begin, row_end);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#endif  // ARKV_TENSOR_GGML_INT_KERNELS_INL_H_
