#include "kv/codecs.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/fp16.h"

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

SlotFormat OriginalFormat(OriginalType type) {
  return type == OriginalType::kF32 ? SlotFormat::kF32 : SlotFormat::kF16;
}

SlotFormat QuantizedFormat(QuantType type) {
  switch (type) {
    case QuantType::kFp8E4M3:
      return SlotFormat::kFp8;
    case QuantType::kInt8:
      return SlotFormat::kInt8;
    case QuantType::kInt4:
      return SlotFormat::kInt4;
  }
  Fail("unknown quant type {}", static_cast<int>(type));
}

float EncodeRow(SlotFormat format, const float* x, int n, uint8_t* row) {
  if (format == SlotFormat::kF16) {
    for (int i = 0; i < n; ++i) {
      const uint16_t h = F32ToF16(x[i]);
      std::memcpy(row + sizeof(h) * i, &h, sizeof(h));
    }
    return 1.0f;
  }
  if (format == SlotFormat::kF32) {
    std::memcpy(row, x, sizeof(float) * n);
    return 1.0f;
  }
  const float amax = AbsMax(x, n);
  if (format == SlotFormat::kInt4) {
    for (size_t b = 0; b < RowBytes(format, n); ++b) row[b] = 0x88;  // both nibbles decode to 0
  }
  if (!(amax > 0.0f) || !std::isfinite(amax)) {
    if (format != SlotFormat::kInt4) std::memset(row, 0, RowBytes(format, n));
    return 0.0f;
  }
  switch (format) {
    case SlotFormat::kFp8: {
      const float scale = amax / kFp8E4M3Max;
      const float inv = 1.0f / scale;
      for (int i = 0; i < n; ++i) row[i] = F32ToFp8E4M3(x[i] * inv);
      return scale;
    }
    case SlotFormat::kInt8: {
      const float scale = amax / 127.0f;
      const float inv = 1.0f / scale;
      for (int i = 0; i < n; ++i) {
        const float q = std::fmin(127.0f, std::fmax(-127.0f, RoundEven(x[i] * inv)));
        row[i] = static_cast<uint8_t>(static_cast<int8_t>(q));
      }
      return scale;
    }
    case SlotFormat::kInt4: {
      const float scale = amax / 7.0f;
      const float inv = 1.0f / scale;
      for (int i = 0; i < n; ++i) {
        const float q = std::fmin(7.0f, std::fmax(-7.0f, RoundEven(x[i] * inv)));
        const uint8_t nibble = static_cast<uint8_t>(static_cast<int>(q) + 8);
        uint8_t& byte = row[i / 2];
        byte = (i & 1) ? static_cast<uint8_t>((byte & 0x0f) | (nibble << 4))
                       : static_cast<uint8_t>((byte & 0xf0) | nibble);
      }
      return scale;
    }
    default:
      break;
  }
  Fail("unknown slot format {}", static_cast<int>(format));
}

namespace {

template <SlotFormat F>
void DecodeRowT(const uint8_t* row, float scale, int n, float* out) {
  if constexpr (HasScales(F)) {
    for (int i = 0; i < n; ++i) out[i] = scale * RowElement<F>(row, i);
  } else {
    for (int i = 0; i < n; ++i) out[i] = RowElement<F>(row, i);
  }
}

}  // namespace

void DecodeRow(SlotFormat format, const uint8_t* row, float scale, int n, float* out) {
  switch (format) {
    case SlotFormat::kF16:
      return DecodeRowT<SlotFormat::kF16>(row, scale, n, out);
    case SlotFormat::kF32:
      return DecodeRowT<SlotFormat::kF32>(row, scale, n, out);
    case SlotFormat::kFp8:
      return DecodeRowT<SlotFormat::kFp8>(row, scale, n, out);
    case SlotFormat::kInt8:
      return DecodeRowT<SlotFormat::kInt8>(row, scale, n, out);
    case SlotFormat::kInt4:
      return DecodeRowT<SlotFormat::kInt4>(row, scale, n, out);
  }
  Fail("unknown slot format {}", static_cast<int>(format));
}

void EncodeSlot(SlotFormat format, const float* k, const float* v, int head_dim, uint8_t* slot) {
  const size_t header = SlotHeaderBytes(format);
  const size_t row = RowBytes(format, head_dim);
  const float k_scale = EncodeRow(format, k, head_dim, slot + header);
  const float v_scale = EncodeRow(format, v, head_dim, slot + header + row);
  if (header != 0) {
    std::memcpy(slot, &k_scale, sizeof(float));
    std::memcpy(slot + sizeof(float), &v_scale, sizeof(float));
  }
}

void DecodeSlot(SlotFormat format, const uint8_t* slot, int head_dim, float* k, float* v) {
  const size_t header = SlotHeaderBytes(format);
  const size_t row = RowBytes(format, head_dim);
  float k_scale = 1.0f, v_scale = 1.0f;
  if (header != 0) {
    std::memcpy(&k_scale, slot, sizeof(float));
    std::memcpy(&v_scale, slot + sizeof(float), sizeof(float));
  }
  DecodeRow(format, slot + header, k_scale, head_dim, k);
  DecodeRow(format, slot + header + row, v_scale, head_dim, v);
}

}  // namespace arkv::kv
