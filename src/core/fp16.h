// Scalar conversions between float and the 16-bit formats of GGUF files and
// the KV cache. Bit-exact with ggml: round to nearest even, NaN preserved.
// Vectorized kernels convert with Highway instead; these are for scalars,
// tests and block scales.
#pragma once

#include <bit>
#include <cstdint>

namespace arkv {

inline float Bf16ToF32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

inline uint16_t F32ToBf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

inline float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf/nan
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);
    // Subnormal: value = mant * 2^-24.
    const float v = static_cast<float>(mant) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

inline uint16_t F32ToF16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);   // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (abs < 0x38800000u) {
    // Result is subnormal or zero: scale into the integer range and round
    // to nearest even by the float unit (adding 0.5 as a magic number).
    const float a = std::bit_cast<float>(abs);
    const float r = a * 16777216.0f;  // 2^24: units of the smallest subnormal
    const float magic = 8388608.0f;   // 2^23 forces rounding to an integer
    const uint32_t q = std::bit_cast<uint32_t>(r + magic) - std::bit_cast<uint32_t>(magic);
    return static_cast<uint16_t>(sign | q);
  }
  // Normal: rebias and round mantissa to 10 bits, nearest even.
  abs += ((15u - 127u) << 23) + 0xfffu + ((abs >> 13) & 1u);
  return static_cast<uint16_t>(sign | (abs >> 13));
}

}  // namespace arkv
