// Codecs of Quantized KV tokens: fp8 e4m3 (OCP e4m3fn), int8 and int4, each
// with one f32 scale per row (a token's K or V of one KV head).
//   fp8:  scale = amax / 448, code = e4m3fn(x / scale), round to nearest even,
//         saturating to +-448; finite input never gives NaN.
//   int8: scale = amax / 127, code = round(x / scale) in [-127, 127].
//   int4: scale = amax / 7, code = round(x / scale) in [-7, 7], stored as
//         code + 8 in a nibble, element 2i in the low nibble of byte i.
// A row of zeros gets scale 0 and decodes to zeros.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arkv/kv_config.h"

namespace arkv::kv {

inline constexpr float kFp8E4M3Max = 448.0f;

// Scalar e4m3fn conversions. NaN input -> 0x7f (NaN); +-inf saturates.
uint8_t F32ToFp8E4M3(float x);
float Fp8E4M3ToF32(uint8_t code);
// The 256 decoded values, for table lookups in kernels.
const float* Fp8E4M3Table();

// Bytes of the codes of one row of n values.
size_t QuantRowBytes(QuantType type, int n);

// Encodes n values into codes and returns the row's scale.
float QuantizeRow(QuantType type, const float* x, int n, uint8_t* codes);
// out[i] = scale * decode(codes, i).
void DequantizeRow(QuantType type, const uint8_t* codes, float scale, int n, float* out);

}  // namespace arkv::kv
