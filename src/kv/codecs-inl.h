// SIMD decoders of the KV slot formats (codecs.h), for the attention kernel:
// per Highway target, one row of a slot into f32 lanes. Each format's decoder
// sits here beside the others and uses the layout and scalar element decoders
// of codecs.h, so a format is described in one place. Decoded values equal
// DecodeSlot's bit for bit (tests/kv/attention_test.cc checks every target).
//
// Include after hwy/highway.h inside a foreach_target translation unit.

// Per-target include guard.
#if defined(ARKV_KV_CODECS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ARKV_KV_CODECS_INL_H_
#undef ARKV_KV_CODECS_INL_H_
#else
#define ARKV_KV_CODECS_INL_H_
#endif

#include <cstring>
#include <limits>

#include "hwy/highway.h"
#include "kv/codecs.h"
#include "kv/token_store.h"

HWY_BEFORE_NAMESPACE();
namespace arkv::kv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using DI = hn::RebindToSigned<DF>;
using DU = hn::RebindToUnsigned<DF>;

// SimdRow<F>::Load(df, row, c, scale): elements [c, c + Lanes) of a row,
// times scale for the formats that have scales.
template <SlotFormat F>
struct SimdRow;

template <>
struct SimdRow<SlotFormat::kF32> {
  static HWY_INLINE VF Load(DF df, const uint8_t* row, int c, VF) {
    return hn::LoadU(df, reinterpret_cast<const float*>(row) + c);
  }
};

template <>
struct SimdRow<SlotFormat::kF16> {
  static HWY_INLINE VF Load(DF df, const uint8_t* row, int c, VF) {
    const uint8_t* p = row + sizeof(uint16_t) * c;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    // F16C.
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
#else
    // Integer conversion. Highway's emulation maps inf/NaN to finite values;
    // this one matches F16ToF32 for every half.
    const DU du;
    const hn::Rebind<uint16_t, DF> du16;
    const auto h = hn::PromoteTo(du, hn::LoadU(du16, reinterpret_cast<const uint16_t*>(p)));
    const auto sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(du, 0x8000u)));
    const auto em = hn::And(h, hn::Set(du, 0x7fffu));
    const auto exp = hn::ShiftRight<10>(em);
    const auto normal = hn::Add(hn::ShiftLeft<13>(em), hn::Set(du, 112u << 23));
    const auto inf_nan = hn::Add(normal, hn::Set(du, 112u << 23));
    // exp == 0: em is the mantissa, value = mantissa * 2^-24.
    const auto sub = hn::BitCast(du, hn::Mul(hn::ConvertTo(df, hn::BitCast(DI(), em)),
                                             hn::Set(df, 5.9604644775390625e-08f)));
    auto bits = hn::IfThenElse(hn::Eq(exp, hn::Set(du, 0x1fu)), inf_nan, normal);
    bits = hn::IfThenElse(hn::Eq(exp, hn::Zero(du)), sub, bits);
    return hn::BitCast(df, hn::Or(bits, sign));
#endif
  }
};

template <>
struct SimdRow<SlotFormat::kFp8> {
  static HWY_INLINE VF Load(DF df, const uint8_t* row, int c, VF scale) {
    const hn::Rebind<uint8_t, DF> du8;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    // The code's bits moved into an f16 (exponent bias 15 instead of 7) are the
    // same value times 2^-8, subnormals included, which F16C widens exactly.
    const hn::Rebind<uint16_t, DF> du16;
    const hn::Rebind<hwy::float16_t, DF> dh;
    const auto x = hn::ShiftLeft<7>(hn::PromoteTo(du16, hn::LoadU(du8, row + c)));
    const auto h = hn::Add(x, hn::And(x, hn::Set(du16, 0x4000)));  // sign: bit 14 -> 15
    const VF v = hn::Mul(hn::PromoteTo(df, hn::BitCast(dh, h)), hn::Set(df, 256.0f));
    // Codes 0x7f and 0xff (NaN) are the only ones that give +-480.
    const VF nan = hn::Set(df, std::numeric_limits<float>::quiet_NaN());
    return hn::Mul(scale, hn::IfThenElse(hn::Eq(hn::Abs(v), hn::Set(df, 480.0f)), nan, v));
#else
    const DI di;
    const auto b = hn::BitCast(di, hn::PromoteTo(DU(), hn::LoadU(du8, row + c)));
    const auto em = hn::And(b, hn::Set(di, 0x7f));
    const auto sign = hn::BitCast(df, hn::ShiftLeft<24>(hn::And(b, hn::Set(di, 0x80))));
    // Exponent e >= 1: 2^(e-7) * (1 + m/8) is the f32 with exponent e + 120 and
    // the three mantissa bits on top. e == 0: m * 2^-9.
    const VF normal = hn::BitCast(df, hn::Add(hn::ShiftLeft<20>(em), hn::Set(di, 120 << 23)));
    const VF sub = hn::Mul(hn::ConvertTo(df, em), hn::Set(df, 1.0f / 512.0f));
    VF v = hn::IfThenElse(hn::RebindMask(df, hn::Lt(em, hn::Set(di, 8))), sub, normal);
    v = hn::IfThenElse(hn::RebindMask(df, hn::Eq(em, hn::Set(di, 0x7f))),
                       hn::Set(df, std::numeric_limits<float>::quiet_NaN()), v);
    return hn::Mul(scale, hn::Or(v, sign));
#endif
  }
};

template <>
struct SimdRow<SlotFormat::kInt8> {
  static HWY_INLINE VF Load(DF df, const uint8_t* row, int c, VF scale) {
    const hn::Rebind<int8_t, DF> di8;
    const auto q = hn::PromoteTo(DI(), hn::LoadU(di8, reinterpret_cast<const int8_t*>(row) + c));
    return hn::Mul(scale, hn::ConvertTo(df, q));
  }
};

template <>
struct SimdRow<SlotFormat::kInt4> {
  static HWY_INLINE VF Load(DF df, const uint8_t* row, int c, VF scale) {
#if HWY_TARGET == HWY_SCALAR
    return hn::Mul(scale, hn::Set(df, RowElement<SlotFormat::kInt4>(row, c)));
#else
    // Byte i widened to 64-bit lane i, its nibbles moved to the two 32-bit
    // halves: the 32-bit lanes are then elements 2i and 2i + 1 (c is even).
    const hn::Repartition<uint64_t, DF> d64;
    const hn::Rebind<uint32_t, decltype(d64)> d32h;
    const hn::Rebind<uint8_t, decltype(d64)> d8h;
    const auto b = hn::PromoteTo(d64, hn::PromoteTo(d32h, hn::LoadU(d8h, row + c / 2)));
    const auto pair =
        hn::Or(hn::And(b, hn::Set(d64, 0xfu)), hn::ShiftLeft<28>(hn::And(b, hn::Set(d64, 0xf0u))));
    const DI di;
    const auto q = hn::Sub(hn::BitCast(di, pair), hn::Set(di, 8));
    return hn::Mul(scale, hn::ConvertTo(df, q));
#endif
  }
};

// One row of d values into dst[0, dp): whole vectors, then the tail (the
// scalar element decoder), then zeros.
template <SlotFormat F>
HWY_INLINE void DecodeRowLanes(const uint8_t* row, float scale, int d, int dp,
                               float* HWY_RESTRICT dst) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const VF vscale = hn::Set(df, scale);
  int c = 0;
  for (; c + n <= d; c += n) hn::Store(SimdRow<F>::Load(df, row, c, vscale), df, dst + c);
  for (; c < d; ++c) {
    dst[c] = HasScales(F) ? scale * RowElement<F>(row, c) : RowElement<F>(row, c);
  }
  for (; c < dp; ++c) dst[c] = 0.0f;
}

// Tokens [start, start + nk) of a span: K rows to kb, V rows to vb (stride dp).
template <SlotFormat F>
void DecodeTileT(const SlotSpan& span, int start, int nk, int d, int dp, float* kb, float* vb) {
  constexpr size_t kHeader = SlotHeaderBytes(F);
  const size_t row_bytes = RowBytes(F, d);
  for (int j = 0; j < nk; ++j) {
    const uint8_t* slot = span.slot(start + j);
    float ks = 1.0f, vs = 1.0f;
    if constexpr (kHeader != 0) {
      std::memcpy(&ks, slot, sizeof(float));
      std::memcpy(&vs, slot + sizeof(float), sizeof(float));
    }
    const uint8_t* k_row = slot + kHeader;
    DecodeRowLanes<F>(k_row, ks, d, dp, kb + static_cast<size_t>(j) * dp);
    DecodeRowLanes<F>(k_row + row_bytes, vs, d, dp, vb + static_cast<size_t>(j) * dp);
  }
}

inline void DecodeTile(const SlotSpan& span, int start, int nk, int d, int dp, float* kb,
                       float* vb) {
  switch (span.format) {
    case SlotFormat::kF16:
      return DecodeTileT<SlotFormat::kF16>(span, start, nk, d, dp, kb, vb);
    case SlotFormat::kF32:
      return DecodeTileT<SlotFormat::kF32>(span, start, nk, d, dp, kb, vb);
    case SlotFormat::kFp8:
      return DecodeTileT<SlotFormat::kFp8>(span, start, nk, d, dp, kb, vb);
    case SlotFormat::kInt8:
      return DecodeTileT<SlotFormat::kInt8>(span, start, nk, d, dp, kb, vb);
    case SlotFormat::kInt4:
      return DecodeTileT<SlotFormat::kInt4>(span, start, nk, d, dp, kb, vb);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv::kv
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
