// KV slot formats: the one description of how a cached token is stored, and
// the scalar codecs. A slot holds one token's K and V rows of one KV head:
//   header (quantized formats: f32 K scale, f32 V scale), K row, V row.
// Row codecs (n values):
//   f16:  IEEE half per value (llama.cpp's default F16 KV cache); f32: as is.
//   fp8:  scale = amax / 448, code = e4m3fn(x / scale) (OCP e4m3fn), round
//         to nearest even, saturating to +-448; finite input never gives NaN.
//   int8: scale = amax / 127, code = round(x / scale) in [-127, 127].
//   int4: scale = amax / 7, code = round(x / scale) in [-7, 7], stored as
//         code + 8 in a nibble, element 2i in the low nibble of byte i.
// A quantized row of zeros gets scale 0 and decodes to zeros. The SIMD
// decoders of the attention kernel are in codecs-inl.h, beside these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "arkv/kv_config.h"
#include "core/fp16.h"

namespace arkv::kv {

enum class SlotFormat : uint8_t { kF16, kF32, kFp8, kInt8, kInt4 };

// The formats of the public configuration's storage types.
SlotFormat OriginalFormat(OriginalType type);
SlotFormat QuantizedFormat(QuantType type);

// The layout.
constexpr bool HasScales(SlotFormat format) {
  return format == SlotFormat::kFp8 || format == SlotFormat::kInt8 || format == SlotFormat::kInt4;
}
constexpr size_t SlotHeaderBytes(SlotFormat format) {
  return HasScales(format) ? 2 * sizeof(float) : 0;
}
constexpr size_t RowBytes(SlotFormat format, int n) {
  const size_t count = static_cast<size_t>(n);
  switch (format) {
    case SlotFormat::kF16:
      return sizeof(uint16_t) * count;
    case SlotFormat::kF32:
      return sizeof(float) * count;
    case SlotFormat::kFp8:
    case SlotFormat::kInt8:
      return count;
    case SlotFormat::kInt4:
      return (count + 1) / 2;
  }
  return 0;
}
constexpr size_t SlotBytes(SlotFormat format, int head_dim) {
  return SlotHeaderBytes(format) + 2 * RowBytes(format, head_dim);
}

inline constexpr float kFp8E4M3Max = 448.0f;

// Scalar e4m3fn conversions. NaN input -> 0x7f (NaN); +-inf saturates.
uint8_t F32ToFp8E4M3(float x);
float Fp8E4M3ToF32(uint8_t code);

// Element c of a row, before its scale (the scalar decoders, shared with the
// tails of the SIMD ones).
template <SlotFormat F>
inline float RowElement(const uint8_t* row, int c) {
  if constexpr (F == SlotFormat::kF16) {
    uint16_t h;
    std::memcpy(&h, row + sizeof(uint16_t) * c, sizeof(h));
    return F16ToF32(h);
  } else if constexpr (F == SlotFormat::kF32) {
    float x;
    std::memcpy(&x, row + sizeof(float) * c, sizeof(x));
    return x;
  } else if constexpr (F == SlotFormat::kFp8) {
    return Fp8E4M3ToF32(row[c]);
  } else if constexpr (F == SlotFormat::kInt8) {
    return static_cast<float>(static_cast<int8_t>(row[c]));
  } else {
    const int nibble = (c & 1) ? (row[c / 2] >> 4) : (row[c / 2] & 0xf);
    return static_cast<float>(nibble - 8);
  }
}

// Encodes n values into a row of `format` and returns its scale (1 for the
// formats without scales).
float EncodeRow(SlotFormat format, const float* x, int n, uint8_t* row);
// out[i] = scale * element i.
void DecodeRow(SlotFormat format, const uint8_t* row, float scale, int n, float* out);

// A token's K and V rows (f32, head_dim each) into a slot, and back.
void EncodeSlot(SlotFormat format, const float* k, const float* v, int head_dim, uint8_t* slot);
void DecodeSlot(SlotFormat format, const uint8_t* slot, int head_dim, float* k, float* v);

}  // namespace arkv::kv
