// Block layouts of the ggml quantized weight types, byte for byte as ggml
// stores them in GGUF files (ggml-common.h). All multi-byte fields are
// little-endian fp16; the structs have no padding, so a row of blocks can be
// read in place from a memory-mapped file.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arkv {

inline constexpr int kQK = 32;     // elements per Q4_0 / Q8_0 block
inline constexpr int kQK_K = 256;  // elements per K-quant super-block

// Q8_0: value[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;  // fp16 scale
  int8_t qs[kQK];
};

// Q4_0: value[i] = d * (nibble[i] - 8). Byte j holds element j in its low
// nibble and element j + 16 in its high nibble.
struct BlockQ4_0 {
  uint16_t d;  // fp16 scale
  uint8_t qs[kQK / 2];
};

// Q4_K: 8 sub-blocks of 32; value = d * sc[s] * q - dmin * m[s], q in [0, 15].
// The 8 six-bit scales sc and mins m are packed into 12 bytes (see
// UnpackScalesMinsK4). Byte 32 * c + l of qs holds element 64 * c + l (low
// nibble) and 64 * c + 32 + l (high nibble).
struct BlockQ4_K {
  uint16_t d;     // fp16 super-scale of the scales
  uint16_t dmin;  // fp16 super-scale of the mins
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};

// Q5_K: as Q4_K with a fifth bit per element: bit 2c of qh[l] is the high bit
// of element 64 * c + l, bit 2c + 1 that of element 64 * c + 32 + l.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// Q6_K: 16 sub-blocks of 16; value = d * scales[s] * (q - 32), q in [0, 63].
// Per half h of 128 elements (ql += 64 h, qh += 32 h), for l < 32:
//   element l      : low nibble of ql[l],      bits 0-1 of qh[l]
//   element l + 32 : low nibble of ql[l + 32], bits 2-3 of qh[l]
//   element l + 64 : high nibble of ql[l],     bits 4-5 of qh[l]
//   element l + 96 : high nibble of ql[l + 32], bits 6-7 of qh[l]
// and element e of the half uses scales[8 h + e / 16].
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Q8_K: ggml's activation block for the K-quant dot products (never stored in
// files). value[i] = d * qs[i]; bsums[j] = sum of qs[16 j .. 16 j + 15].
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);

// The 12-byte scale/min packing of Q4_K and Q5_K (ggml's get_scale_min_k4):
// sub-blocks 0-3 keep their 6-bit scale and min in the low 6 bits of bytes
// 0-3 and 4-7; sub-blocks 4-7 keep their low 4 bits in the nibbles of bytes
// 8-11 and their top 2 bits in the top bits of bytes 0-3 (scale) and 4-7 (min).
inline void UnpackScalesMinsK4(const uint8_t* packed, uint8_t sc[8], uint8_t m[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = packed[j] & 63;
    m[j] = packed[j + 4] & 63;
    sc[j + 4] = static_cast<uint8_t>((packed[j + 8] & 0xF) | ((packed[j] >> 6) << 4));
    m[j + 4] = static_cast<uint8_t>((packed[j + 8] >> 4) | ((packed[j + 4] >> 6) << 4));
  }
}

// Inverse of UnpackScalesMinsK4; every input must be < 64.
inline void PackScalesMinsK4(const uint8_t sc[8], const uint8_t m[8], uint8_t packed[12]) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

}  // namespace arkv
