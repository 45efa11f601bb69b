// Matmul kernels for the plain weight types F32, F16 and BF16.
#include <cstring>

#include "core/fp16.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/matmul_float.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "tensor/matmul-inl.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {

// Plain types are decoded in chunks of 32 elements; a row's remainder goes
// through ScalarAt.
struct DecodeF32 {
  static constexpr int64_t kBlockElems = 32;
  static constexpr size_t kBlockBytes = 32 * sizeof(float);
  static constexpr bool kHasTail = true;
  static float ScalarAt(const uint8_t* row, int64_t i) {
    float v;
    std::memcpy(&v, row + i * sizeof(float), sizeof(v));
    return v;
  }
  template <class Sink>
  static HWY_INLINE void Decode(DF df, const uint8_t* block, Sink&& sink) {
    const auto* p = reinterpret_cast<const float*>(block);
    const size_t n = hn::Lanes(df);
    for (size_t i = 0; i < 32; i += 2 * n)
      sink(i, hn::LoadU(df, p + i), i + n, hn::LoadU(df, p + i + n));
  }
};

struct DecodeF16 {
  static constexpr int64_t kBlockElems = 32;
  static constexpr size_t kBlockBytes = 32 * sizeof(uint16_t);
  static constexpr bool kHasTail = true;
  static float ScalarAt(const uint8_t* row, int64_t i) {
    uint16_t h;
    std::memcpy(&h, row + i * sizeof(h), sizeof(h));
    return F16ToF32(h);
  }
  template <class Sink>
  static HWY_INLINE void Decode(DF df, const uint8_t* block, Sink&& sink) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    const auto* p = reinterpret_cast<const hwy::float16_t*>(block);
    const size_t n = hn::Lanes(df);
    for (size_t i = 0; i < 32; i += 2 * n) {
      sink(i, hn::PromoteTo(df, hn::LoadU(dh, p + i)), i + n,
           hn::PromoteTo(df, hn::LoadU(dh, p + i + n)));
    }
  }
};

struct DecodeBF16 {
  static constexpr int64_t kBlockElems = 32;
  static constexpr size_t kBlockBytes = 32 * sizeof(uint16_t);
  static constexpr bool kHasTail = true;
  static float ScalarAt(const uint8_t* row, int64_t i) {
    uint16_t h;
    std::memcpy(&h, row + i * sizeof(h), sizeof(h));
    return Bf16ToF32(h);
  }
  template <class Sink>
  static HWY_INLINE void Decode(DF df, const uint8_t* block, Sink&& sink) {
    // bf16 is the top half of an f32: widen and shift into place.
    const hn::Rebind<uint16_t, DF> du16;
    const hn::RebindToUnsigned<DF> du32;
    const auto* p = reinterpret_cast<const uint16_t*>(block);
    const size_t n = hn::Lanes(df);
    const auto widen = [&](const uint16_t* q) HWY_ATTR {
      return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, q))));
    };
    for (size_t i = 0; i < 32; i += 2 * n) sink(i, widen(p + i), i + n, widen(p + i + n));
  }
};

ARKV_PLAIN_WEIGHT_TYPES(ARKV_KERNEL_IMPL)

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace arkv {
ARKV_PLAIN_WEIGHT_TYPES(ARKV_KERNEL_DISPATCH)
}  // namespace arkv
#endif  // HWY_ONCE
