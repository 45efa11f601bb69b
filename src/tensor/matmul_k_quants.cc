// Matmul kernels for the 256-element super-block types Q4_K, Q5_K and Q6_K.
#include "tensor/quant_blocks.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/matmul_k_quants.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "tensor/matmul-inl.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {

// Q4_K and Q5_K: value = (d * sc) * q - dmin * m per 32-element sub-block.
// (d * sc) * q is exact in f32, so a fused or unfused multiply-subtract gives
// the same value as ggml's scalar code.
template <class Block, bool kFifthBit>
struct DecodeKQuant {
  static constexpr int64_t kBlockElems = kQK_K;
  static constexpr size_t kBlockBytes = sizeof(Block);
  static constexpr bool kHasTail = false;
  template <class Sink>
  static HWY_INLINE void Decode(DF df, const uint8_t* block, Sink&& sink) {
    const auto* blk = reinterpret_cast<const Block*>(block);
    const DI32 di;
    const float d = HalfToFloat(&blk->d);
    const float dmin = HalfToFloat(&blk->dmin);
    uint8_t sc[8], m[8];
    UnpackScalesMinsK4(blk->scales, sc, m);
    const auto low4 = hn::Set(di, 0xF);
    const size_t n = hn::Lanes(df);
    for (int c = 0; c < 4; ++c) {
      const VF d_lo = hn::Set(df, d * sc[2 * c]);
      const VF m_lo = hn::Set(df, dmin * m[2 * c]);
      const VF d_hi = hn::Set(df, d * sc[2 * c + 1]);
      const VF m_hi = hn::Set(df, dmin * m[2 * c + 1]);
      for (size_t l = 0; l < 32; l += n) {
        const auto q = LoadBytesU(blk->qs + 32 * c + l);
        auto lo = hn::And(q, low4);
        auto hi = hn::ShiftRight<4>(q);
        if constexpr (kFifthBit) {
          // Bits 2c and 2c + 1 of qh[l] become bit 4 of the two elements.
          const auto h = hn::ShiftRightSame(LoadBytesU(blk->qh + l), 2 * c);
          lo = hn::Or(lo, hn::ShiftLeft<4>(hn::And(h, hn::Set(di, 1))));
          hi = hn::Or(hi, hn::ShiftLeft<3>(hn::And(h, hn::Set(di, 2))));
        }
        sink(64 * c + l, hn::MulSub(ToFloat(lo), d_lo, m_lo), 64 * c + 32 + l,
             hn::MulSub(ToFloat(hi), d_hi, m_hi));
      }
    }
  }
};

// Q6_K: value = (d * scale) * (q - 32) per 16-element sub-block; see
// BlockQ6_K for where the 6 bits of each element live.
struct DecodeQ6_K {
  static constexpr int64_t kBlockElems = kQK_K;
  static constexpr size_t kBlockBytes = sizeof(BlockQ6_K);
  static constexpr bool kHasTail = false;
  template <class Sink>
  static HWY_INLINE void Decode(DF df, const uint8_t* block, Sink&& sink) {
    const auto* blk = reinterpret_cast<const BlockQ6_K*>(block);
    const DI32 di;
    const float d = HalfToFloat(&blk->d);
    const auto low4 = hn::Set(di, 0xF);
    const auto two_bits = hn::Set(di, 3);
    const auto bias = hn::Set(di, 32);
    const size_t n = hn::Lanes(df);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = blk->ql + 64 * h;
      const uint8_t* qh = blk->qh + 32 * h;
      const int8_t* sc = blk->scales + 8 * h;
      const size_t e = 128 * static_cast<size_t>(h);
      for (size_t l = 0; l < 32; l += n) {
        const size_t s = l / 16;  // lanes <= 16: one scale per vector
        const auto a = LoadBytesU(ql + l);
        const auto b = LoadBytesU(ql + l + 32);
        const auto hb = LoadBytesU(qh + l);
        const auto q1 = hn::Or(hn::And(a, low4), hn::ShiftLeft<4>(hn::And(hb, two_bits)));
        const auto q2 =
            hn::Or(hn::And(b, low4), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(hb), two_bits)));
        const auto q3 = hn::Or(hn::ShiftRight<4>(a),
                               hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(hb), two_bits)));
        const auto q4 = hn::Or(hn::ShiftRight<4>(b), hn::ShiftLeft<4>(hn::ShiftRight<6>(hb)));
        const auto scaled = [&](hn::Vec<DI32> q, int8_t scale) HWY_ATTR {
          return hn::Mul(ToFloat(hn::Sub(q, bias)), hn::Set(df, d * static_cast<float>(scale)));
        };
        sink(e + l, scaled(q1, sc[s]), e + l + 32, scaled(q2, sc[s + 2]));
        sink(e + l + 64, scaled(q3, sc[s + 4]), e + l + 96, scaled(q4, sc[s + 6]));
      }
    }
  }
};

using DecodeQ4_K = DecodeKQuant<BlockQ4_K, false>;
using DecodeQ5_K = DecodeKQuant<BlockQ5_K, true>;

ARKV_KQUANT_WEIGHT_TYPES(ARKV_KERNEL_IMPL)

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace arkv {
ARKV_KQUANT_WEIGHT_TYPES(ARKV_KERNEL_DISPATCH)
}  // namespace arkv
#endif  // HWY_ONCE
