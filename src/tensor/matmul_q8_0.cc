// Matmul kernels for the 32-element block types Q8_0 and Q4_0.
#include "tensor/quant_blocks.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/matmul_q8_0.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "tensor/matmul-inl.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {

struct DecodeQ8_0 {
  static constexpr int64_t kBlockElems = kQK;
  static constexpr size_t kBlockBytes = sizeof(BlockQ8_0);
  static constexpr bool kHasTail = false;
  template <class Sink>
  static HWY_INLINE void Decode(DF df, const uint8_t* block, Sink&& sink) {
    const auto* blk = reinterpret_cast<const BlockQ8_0*>(block);
    const VF d = hn::Set(df, HalfToFloat(&blk->d));
    const size_t n = hn::Lanes(df);
    for (size_t i = 0; i < kQK; i += 2 * n) {
      sink(i, hn::Mul(ToFloat(LoadBytesI(blk->qs + i)), d), i + n,
           hn::Mul(ToFloat(LoadBytesI(blk->qs + i + n)), d));
    }
  }
};

struct DecodeQ4_0 {
  static constexpr int64_t kBlockElems = kQK;
  static constexpr size_t kBlockBytes = sizeof(BlockQ4_0);
  static constexpr bool kHasTail = false;
  template <class Sink>
  static HWY_INLINE void Decode(DF df, const uint8_t* block, Sink&& sink) {
    const auto* blk = reinterpret_cast<const BlockQ4_0*>(block);
    const DI32 di;
    const float scale = HalfToFloat(&blk->d);
    const VF d = hn::Set(df, scale);
    const VF d8 = hn::Set(df, 8.0f * scale);
    const auto low4 = hn::Set(di, 0xF);
    const size_t n = hn::Lanes(df);
    // Byte j holds element j (low nibble) and j + 16 (high nibble).
    // (q - 8) * d as q * d - 8 * d: both products and the difference are
    // exact in f32, so this equals ggml's value (for finite scales).
    for (size_t j = 0; j < kQK / 2; j += n) {
      const auto q = LoadBytesU(blk->qs + j);
      const VF lo = hn::MulSub(ToFloat(hn::And(q, low4)), d, d8);
      const VF hi = hn::MulSub(ToFloat(hn::ShiftRight<4>(q)), d, d8);
      sink(j, lo, j + kQK / 2, hi);
    }
  }
};

ARKV_QUANT32_WEIGHT_TYPES(ARKV_KERNEL_IMPL)

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace arkv {
ARKV_QUANT32_WEIGHT_TYPES(ARKV_KERNEL_DISPATCH)
}  // namespace arkv
#endif  // HWY_ONCE
