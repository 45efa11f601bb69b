// Activation quantizers, compiled for every Highway target and chosen at run
// time: a prompt of 512 tokens quantizes every activation row of every
// weight product, and the scalar loops took 3-10% of a prefill.
#include "tensor/activation_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/activation_quant.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 lanes: a block of 32 is a whole number of vectors on every target.
using DQ = hn::CappedTag<float, 16>;

// max |x[i]| over n (a multiple of the lanes) values.
HWY_INLINE float AbsMax(const float* x, size_t n) {
  const DQ d;
  auto m = hn::Zero(d);
  for (size_t i = 0; i < n; i += hn::Lanes(d)) m = hn::Max(m, hn::Abs(hn::LoadU(d, x + i)));
  return hn::GetLane(hn::MaxOfLanes(d, m));
}

// q[i] = x[i] * scale rounded to nearest, ties to even (the current rounding
// mode of the conversion, as ggml's nearest_int for |value| < 2^22), at most
// `hi`, as int8.
HWY_INLINE void ScaleRound(const float* x, float scale, int32_t hi, int8_t* q, size_t n) {
  const DQ d;
  const hn::RebindToSigned<DQ> di;
  const hn::Rebind<int8_t, DQ> d8;
  const auto s = hn::Set(d, scale);
  const auto top = hn::Set(di, hi);
  for (size_t i = 0; i < n; i += hn::Lanes(d)) {
    const auto r = hn::Min(hn::NearestInt(hn::Mul(hn::LoadU(d, x + i), s)), top);
    hn::StoreU(hn::DemoteTo(d8, r), d8, q + i);
  }
}

void QuantizeQ8_0Impl(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float amax = AbsMax(x, kQK);
    y[b].d = F32ToF16(amax / 127.0f);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    ScaleRound(x, id, 127, y[b].qs, kQK);
  }
}

// Index of the first of x[0..n) whose magnitude is amax, or n - 1 where
// none is (a NaN in x matches nothing).
HWY_INLINE size_t FirstOfMagnitude(const float* x, size_t n, float amax) {
  const DQ d;
  const auto target = hn::Set(d, amax);
  for (size_t i = 0; i < n; i += hn::Lanes(d)) {
    const auto hit = hn::Eq(hn::Abs(hn::LoadU(d, x + i)), target);
    if (!hn::AllFalse(d, hit)) return i + static_cast<size_t>(hn::FindFirstTrue(d, hit));
  }
  return n - 1;
}

// ScaleRound(x, scale, 127, q, kQK_K) that also sums each 16 quants into bsums.
HWY_INLINE void ScaleRoundSums(const float* x, float scale, int8_t* q, int16_t* bsums) {
  const DQ d;
  const hn::RebindToSigned<DQ> di;
  const hn::Rebind<int8_t, DQ> d8;
  const auto s = hn::Set(d, scale);
  const auto top = hn::Set(di, 127);
  for (size_t j = 0; j < kQK_K / 16; ++j) {
    auto sum = hn::Zero(di);
    for (size_t i = 16 * j; i < 16 * j + 16; i += hn::Lanes(d)) {
      const auto r = hn::Min(hn::NearestInt(hn::Mul(hn::LoadU(d, x + i), s)), top);
      hn::StoreU(hn::DemoteTo(d8, r), d8, q + i);
      sum = hn::Add(sum, r);
    }
    bsums[j] = static_cast<int16_t>(hn::GetLane(hn::SumOfLanes(di, sum)));
  }
}

void QuantizeQ8_KImpl(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    BlockQ8_K& out = y[b];
    const float amax = AbsMax(x, kQK_K);
    if (amax == 0.0f) {
      std::memset(&out, 0, sizeof(out));
      continue;
    }
    // The first value of largest magnitude keeps its sign.
    const float iscale = -127.0f / x[FirstOfMagnitude(x, kQK_K, amax)];
    ScaleRoundSums(x, iscale, out.qs, out.bsums);
    out.d = 1.0f / iscale;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace arkv {

HWY_EXPORT(QuantizeQ8_0Impl);
HWY_EXPORT(QuantizeQ8_KImpl);

void QuantizeActivationsQ8_0(const float* x, BlockQ8_0* y, int64_t n) {
  if (n % kQK != 0) Fail("QuantizeActivationsQ8_0: {} values is not a multiple of {}", n, kQK);
  HWY_DYNAMIC_DISPATCH(QuantizeQ8_0Impl)(x, y, n);
}

void QuantizeActivationsQ8_K(const float* x, BlockQ8_K* y, int64_t n) {
  if (n % kQK_K != 0) Fail("QuantizeActivationsQ8_K: {} values is not a multiple of {}", n, kQK_K);
  HWY_DYNAMIC_DISPATCH(QuantizeQ8_KImpl)(x, y, n);
}

}  // namespace arkv
#endif  // HWY_ONCE
