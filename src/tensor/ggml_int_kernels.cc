// Integer matmul kernels (MatMulPrecision::kGgml) of the quantized weight
// types: Q8_0 and Q4_0 against Q8_0 activations, Q4_K, Q5_K and Q6_K against
// Q8_K activations, each decoding its weights to int16 (see ggml_int_kernels-inl.h).
#include "tensor/quant_blocks.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/ggml_int_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "tensor/ggml_int_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {

// Q8_0: w = qs (ggml_vec_dot_q8_0_q8_0).
struct IntQ8_0 {
  using Block = BlockQ8_0;
  static constexpr int64_t kBlockElems = kQK;
  static constexpr size_t kBlockBytes = sizeof(BlockQ8_0);
  static HWY_INLINE float Scale(const uint8_t* block) {
    return HalfToFloat(&reinterpret_cast<const BlockQ8_0*>(block)->d);
  }
  template <class Sink>
  static HWY_INLINE void DecodeB(const uint8_t* block, Sink&& sink) {
    const auto* blk = reinterpret_cast<const BlockQ8_0*>(block);
    for (size_t e = 0; e < kQK; e += kBLanes) sink(e, LoadI8AsI16B(blk->qs + e));
  }
};

// Q4_0: w = nibble - 8 (ggml_vec_dot_q4_0_q8_0). Byte j holds element j in
// its low nibble and element j + 16 in its high nibble.
struct IntQ4_0 {
  using Block = BlockQ4_0;
  static constexpr int64_t kBlockElems = kQK;
  static constexpr size_t kBlockBytes = sizeof(BlockQ4_0);
  static HWY_INLINE float Scale(const uint8_t* block) {
    return HalfToFloat(&reinterpret_cast<const BlockQ4_0*>(block)->d);
  }
  template <class Sink>
  static HWY_INLINE void DecodeB(const uint8_t* block, Sink&& sink) {
    const DB db;
    const auto* blk = reinterpret_cast<const BlockQ4_0*>(block);
#if HWY_CAP_GE512
    static_assert(kBLanes == kQK);
    {
      // One vector: the 16 bytes widened once; low nibbles are elements
      // 0..15 (lower half), high nibbles 16..31 (upper half).
      const hn::Half<DB> dh;
      const hn::RebindToUnsigned<decltype(dh)> duh;
      const auto q = hn::BitCast(
          dh, hn::PromoteTo(duh, hn::LoadU(hn::Rebind<uint8_t, decltype(dh)>(), blk->qs)));
      const auto q2 = hn::Combine(db, hn::ShiftRight<4>(q), hn::And(q, hn::Set(dh, 0xF)));
      sink(0, hn::Sub(q2, hn::Set(db, 8)));
    }
#else
    {
      const hn::RebindToUnsigned<DB> du;
      const VB low4 = hn::Set(db, 0xF), eight = hn::Set(db, 8);
      for (size_t j = 0; j < kQK / 2; j += kBLanes) {
        const VB q =
            hn::BitCast(db, hn::PromoteTo(du, hn::LoadU(hn::Rebind<uint8_t, DB>(), blk->qs + j)));
        sink(j, hn::Sub(hn::And(q, low4), eight));
        sink(j + kQK / 2, hn::Sub(hn::ShiftRight<4>(q), eight));
      }
    }
#endif
  }
};

// Q4_K and Q5_K: w = sc[s] * q per 32-element sub-block s; the mins enter
// through the activation block sums (ggml_vec_dot_q4_K_q8_K / q5_K).
template <class BlockType, bool kHasFifthBit>
struct IntKQuant {
  using Block = BlockType;
  using Act = BlockQ8_K;
  static constexpr bool kFifthBit = kHasFifthBit;
  static constexpr int64_t kBlockElems = kQK_K;
  static constexpr size_t kBlockBytes = sizeof(Block);
  static constexpr bool kHasMins = true;
  template <class Sink>
  static HWY_INLINE void Decode(const uint8_t* block, WBlockInfo& info, Sink&& sink) {
    const D16 d16;
    const auto* blk = reinterpret_cast<const Block*>(block);
    info.d = HalfToFloat(&blk->d);
    info.dmin = HalfToFloat(&blk->dmin);
    uint8_t sc[8], m[8];
    UnpackScalesMinsK4(blk->scales, sc, m);
    for (int j = 0; j < 8; ++j) info.mins[j] = m[j];
    const V16 low4 = hn::Set(d16, 0xF);
    const size_t n = hn::Lanes(d16);
    for (int c = 0; c < 4; ++c) {
      const V16 sc_lo = hn::Set(d16, sc[2 * c]);
      const V16 sc_hi = hn::Set(d16, sc[2 * c + 1]);
      for (size_t l = 0; l < 32; l += n) {
        const V16 q = LoadU8AsI16(blk->qs + 32 * c + l);
        V16 lo = hn::And(q, low4);
        V16 hi = hn::ShiftRight<4>(q);
        if constexpr (kFifthBit) {
          // Bits 2c and 2c + 1 of qh[l] become bit 4 of the two elements.
          const V16 h = hn::ShiftRightSame(LoadU8AsI16(blk->qh + l), 2 * c);
          lo = hn::Or(lo, hn::ShiftLeft<4>(hn::And(h, hn::Set(d16, 1))));
          hi = hn::Or(hi, hn::ShiftLeft<3>(hn::And(h, hn::Set(d16, 2))));
        }
        sink(64 * c + l, hn::Mul(lo, sc_lo));
        sink(64 * c + 32 + l, hn::Mul(hi, sc_hi));
      }
    }
  }
};

// Q6_K: w = scales[s] * (q - 32) per 16-element sub-block s
// (ggml_vec_dot_q6_K_q8_K); see BlockQ6_K for where the 6 bits live.
struct IntQ6_K {
  using Block = BlockQ6_K;
  using Act = BlockQ8_K;
  static constexpr int64_t kBlockElems = kQK_K;
  static constexpr size_t kBlockBytes = sizeof(BlockQ6_K);
  static constexpr bool kHasMins = false;
  template <class Sink>
  static HWY_INLINE void Decode(const uint8_t* block, WBlockInfo& info, Sink&& sink) {
    const D16 d16;
    const auto* blk = reinterpret_cast<const BlockQ6_K*>(block);
    info.d = HalfToFloat(&blk->d);
    const V16 low4 = hn::Set(d16, 0xF), two_bits = hn::Set(d16, 3), bias = hn::Set(d16, 32);
    const size_t n = hn::Lanes(d16);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = blk->ql + 64 * h;
      const uint8_t* qh = blk->qh + 32 * h;
      const int8_t* sc = blk->scales + 8 * h;
      const size_t e = 128 * static_cast<size_t>(h);
      for (size_t l = 0; l < 32; l += n) {
        const size_t s = l / 16;  // lanes <= 16: one scale per vector
        const V16 a = LoadU8AsI16(ql + l);
        const V16 b = LoadU8AsI16(ql + l + 32);
        const V16 hb = LoadU8AsI16(qh + l);
        const V16 q1 = hn::Or(hn::And(a, low4), hn::ShiftLeft<4>(hn::And(hb, two_bits)));
        const V16 q2 =
            hn::Or(hn::And(b, low4), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(hb), two_bits)));
        const V16 q3 = hn::Or(hn::ShiftRight<4>(a),
                              hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(hb), two_bits)));
        const V16 q4 = hn::Or(hn::ShiftRight<4>(b), hn::ShiftLeft<4>(hn::ShiftRight<6>(hb)));
        const auto scaled = [&](V16 q, int8_t scale)
                                HWY_ATTR { return hn::Mul(hn::Sub(q, bias), hn::Set(d16, scale)); };
        sink(e + l, scaled(q1, sc[s]));
        sink(e + l + 32, scaled(q2, sc[s + 2]));
        sink(e + l + 64, scaled(q3, sc[s + 4]));
        sink(e + l + 96, scaled(q4, sc[s + 6]));
      }
    }
  }
};

using IntQ4_K = IntKQuant<BlockQ4_K, false>;
using IntQ5_K = IntKQuant<BlockQ5_K, true>;

ARKV_QUANT_WEIGHT_TYPES(ARKV_INT_KERNEL_IMPL)

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace arkv {
ARKV_QUANT_WEIGHT_TYPES(ARKV_INT_KERNEL_DISPATCH)
}  // namespace arkv
#endif  // HWY_ONCE
