#include "tensor/activation_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"

namespace arkv {
namespace {

// Round to nearest, ties to even, for |f| < 2^22 (ggml's nearest_int):
// adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits.
inline int NearestInt(float f) {
  const float biased = f + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &biased, sizeof(bits));
  return (bits & 0x007fffff) - 0x00400000;
}

}  // namespace

void QuantizeActivationsQ8_0(const float* x, BlockQ8_0* y, int64_t n) {
  if (n % kQK != 0) Fail("QuantizeActivationsQ8_0: {} values is not a multiple of {}", n, kQK);
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    // A compare, not std::fmax: that is a library call per element (NaN
    // rules), and x holds no NaN.
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(x[i]));
    y[b].d = F32ToF16(amax / 127.0f);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < kQK; ++i) y[b].qs[i] = static_cast<int8_t>(NearestInt(x[i] * id));
  }
}

void QuantizeActivationsQ8_K(const float* x, BlockQ8_K* y, int64_t n) {
  if (n % kQK_K != 0) Fail("QuantizeActivationsQ8_K: {} values is not a multiple of {}", n, kQK_K);
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < kQK_K; ++i) {
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        max = x[i];
      }
    }
    BlockQ8_K& out = y[b];
    if (amax == 0.0f) {
      std::memset(&out, 0, sizeof(out));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int i = 0; i < kQK_K; ++i) {
      out.qs[i] = static_cast<int8_t>(std::min(127, NearestInt(iscale * x[i])));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += out.qs[16 * j + i];
      out.bsums[j] = static_cast<int16_t>(sum);
    }
    out.d = 1.0f / iscale;
  }
}

}  // namespace arkv
