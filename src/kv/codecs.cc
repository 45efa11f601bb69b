#include "kv/codecs.h"

#include <array>
#include <bit>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace arkv::kv {
namespace {

constexpr float DecodeFp8(uint8_t code) {
  const int exp = (code >> 3) & 0xf;
  const int mant = code & 0x7;
  const float sign = (code & 0x80) ? -1.0f : 1.0f;
  if (exp == 0xf && mant == 0x7) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) return sign * static_cast<float>(mant) * (1.0f / 512.0f);  // m * 2^-9
  float v = 1.0f + static_cast<float>(mant) / 8.0f;
  for (int e = exp - 7; e > 0; --e) v *= 2.0f;
  for (int e = exp - 7; e < 0; ++e) v *= 0.5f;
  return sign * v;
}

constexpr std::array<float, 256> MakeFp8Table() {
  std::array<float, 256> t{};
  for (int i = 0; i < 256; ++i) t[i] = DecodeFp8(static_cast<uint8_t>(i));
  return t;
}

const std::array<float, 256> kFp8Table = MakeFp8Table();

float AbsMax(const float* x, int n) {
  float m = 0.0f;
  for (int i = 0; i < n; ++i) m = std::fmax(m, std::fabs(x[i]));
  return m;
}

// Round to nearest, ties to even (the default FP environment).
inline float RoundEven(float x) { return std::nearbyint(x); }

}  // namespace

uint8_t F32ToFp8E4M3(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80);
  const uint32_t abs_bits = u & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return 0x7f;  // NaN
  const float a = std::bit_cast<float>(abs_bits);
  if (a >= kFp8E4M3Max) return sign | 0x7e;  // saturate (also +-inf)
  if (a < 0.015625f) {
    // Below the smallest normal 2^-6: subnormal steps of 2^-9. A result of 8
    // is exactly the code of 2^-6 (exponent 1, mantissa 0).
    return sign | static_cast<uint8_t>(RoundEven(a * 512.0f));
  }
  // Normal: keep 3 mantissa bits, round to nearest even on the float bits.
  uint32_t r = abs_bits + 0x7ffffu + ((abs_bits >> 20) & 1u);
  const uint32_t exp = ((r >> 23) & 0xffu) - 127u + 7u;
  const uint32_t mant = (r >> 20) & 0x7u;
  const uint32_t code = (exp << 3) | mant;
  return sign | static_cast<uint8_t>(code > 0x7e ? 0x7e : code);
}

float Fp8E4M3ToF32(uint8_t code) { return kFp8Table[code]; }
const float* Fp8E4M3Table() { return kFp8Table.data(); }

size_t QuantRowBytes(QuantType type, int n) {
  switch (type) {
    case QuantType::kFp8E4M3:
    case QuantType::kInt8:
      return static_cast<size_t>(n);
    case QuantType::kInt4:
      return static_cast<size_t>(n + 1) / 2;
  }
  Fail("unknown quant type {}", static_cast<int>(type));
}

float QuantizeRow(QuantType type, const float* x, int n, uint8_t* codes) {
  const float amax = AbsMax(x, n);
  switch (type) {
    case QuantType::kFp8E4M3: {
      if (!(amax > 0.0f) || !std::isfinite(amax)) {
        for (int i = 0; i < n; ++i) codes[i] = 0;
        return 0.0f;
      }
      const float scale = amax / kFp8E4M3Max;
      const float inv = 1.0f / scale;
      for (int i = 0; i < n; ++i) codes[i] = F32ToFp8E4M3(x[i] * inv);
      return scale;
    }
    case QuantType::kInt8: {
      if (!(amax > 0.0f) || !std::isfinite(amax)) {
        for (int i = 0; i < n; ++i) codes[i] = 0;
        return 0.0f;
      }
      const float scale = amax / 127.0f;
      const float inv = 1.0f / scale;
      for (int i = 0; i < n; ++i) {
        const float q = std::fmin(127.0f, std::fmax(-127.0f, RoundEven(x[i] * inv)));
        codes[i] = static_cast<uint8_t>(static_cast<int8_t>(q));
      }
      return scale;
    }
    case QuantType::kInt4: {
      const size_t bytes = QuantRowBytes(type, n);
      for (size_t b = 0; b < bytes; ++b) codes[b] = 0x88;  // both nibbles decode to 0
      if (!(amax > 0.0f) || !std::isfinite(amax)) return 0.0f;
      const float scale = amax / 7.0f;
      const float inv = 1.0f / scale;
      for (int i = 0; i < n; ++i) {
        const float q = std::fmin(7.0f, std::fmax(-7.0f, RoundEven(x[i] * inv)));
        const uint8_t nibble = static_cast<uint8_t>(static_cast<int>(q) + 8);
        uint8_t& byte = codes[i / 2];
        byte = (i & 1) ? static_cast<uint8_t>((byte & 0x0f) | (nibble << 4))
                       : static_cast<uint8_t>((byte & 0xf0) | nibble);
      }
      return scale;
    }
  }
  Fail("unknown quant type {}", static_cast<int>(type));
}

void DequantizeRow(QuantType type, const uint8_t* codes, float scale, int n, float* out) {
  switch (type) {
    case QuantType::kFp8E4M3:
      for (int i = 0; i < n; ++i) out[i] = scale * kFp8Table[codes[i]];
      return;
    case QuantType::kInt8:
      for (int i = 0; i < n; ++i)
        out[i] = scale * static_cast<float>(static_cast<int8_t>(codes[i]));
      return;
    case QuantType::kInt4:
      for (int i = 0; i < n; ++i) {
        const int nibble = (i & 1) ? (codes[i / 2] >> 4) : (codes[i / 2] & 0xf);
        out[i] = scale * static_cast<float>(nibble - 8);
      }
      return;
  }
  Fail("unknown quant type {}", static_cast<int>(type));
}

}  // namespace arkv::kv
