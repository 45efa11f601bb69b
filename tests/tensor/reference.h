// Test-only reference decoding of ggml weight encodings, written from the
// layout descriptions element by element in double precision. It shares no
// code with src/tensor (no block structs, no fp16 helpers), so a layout
// mistake in the kernels cannot hide behind the same mistake here.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gguf/ggml_types.h"

namespace arkv::testref {

// Exact value of the little-endian fp16 at p (finite values only).
inline double HalfAt(const uint8_t* p) {
  const unsigned h = p[0] | (p[1] << 8);
  const int exponent = (h >> 10) & 31;
  const int mantissa = h & 1023;
  const double magnitude =
      exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return (h & 0x8000) ? -magnitude : magnitude;
}

// The 6-bit scale (is_min false) or min of sub-block s of a Q4_K/Q5_K
// 12-byte scale area: sub-blocks 0-3 in the low 6 bits of bytes s and s+4;
// sub-blocks 4-7 from a nibble of byte s+4 and the top 2 bits of byte s-4
// (scale) or byte s (min).
inline int KScaleField(const uint8_t* S, int s, bool is_min) {
  if (s < 4) return is_min ? (S[s + 4] & 0x3F) : (S[s] & 0x3F);
  return is_min ? ((S[s + 4] >> 4) + 16 * (S[s] >> 6)) : ((S[s + 4] & 0x0F) + 16 * (S[s - 4] >> 6));
}

// Value of element i (0..255) of a Q4_K (qh == nullptr) or Q5_K super-block.
inline double KQuantElement(const uint8_t* blk, const uint8_t* qh, const uint8_t* qs, int i) {
  const double d = HalfAt(blk), dmin = HalfAt(blk + 2);
  const uint8_t* S = blk + 4;
  const int chunk = i / 64, pos = i % 64, s = i / 32;
  const uint8_t byte = qs[32 * chunk + pos % 32];
  int q = pos < 32 ? (byte & 15) : (byte >> 4);
  if (qh != nullptr) q += 16 * ((qh[pos % 32] >> (2 * chunk + (pos >= 32 ? 1 : 0))) & 1);
  return d * KScaleField(S, s, false) * q - dmin * KScaleField(S, s, true);
}

// Decodes n elements of one row. Every product here is exact in double and
// the result is rounded once to float, as ggml's float code rounds it.
inline std::vector<float> Dequantize(GgmlType type, const uint8_t* p, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    switch (type) {
      case GgmlType::kF32: {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        v = f;
        break;
      }
      case GgmlType::kF16:
        v = HalfAt(p + 2 * i);
        break;
      case GgmlType::kBF16: {
        const uint32_t bits = static_cast<uint32_t>(p[2 * i] | (p[2 * i + 1] << 8)) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        v = f;
        break;
      }
      case GgmlType::kQ8_0: {
        const uint8_t* blk = p + 34 * (i / 32);
        v = HalfAt(blk) * static_cast<int8_t>(blk[2 + i % 32]);
        break;
      }
      case GgmlType::kQ4_0: {
        const uint8_t* blk = p + 18 * (i / 32);
        const int j = static_cast<int>(i % 32);
        const uint8_t byte = blk[2 + j % 16];
        v = HalfAt(blk) * ((j < 16 ? (byte & 15) : (byte >> 4)) - 8);
        break;
      }
      case GgmlType::kQ4_K: {
        const uint8_t* blk = p + 144 * (i / 256);
        v = KQuantElement(blk, nullptr, blk + 16, static_cast<int>(i % 256));
        break;
      }
      case GgmlType::kQ5_K: {
        const uint8_t* blk = p + 176 * (i / 256);
        v = KQuantElement(blk, blk + 16, blk + 48, static_cast<int>(i % 256));
        break;
      }
      case GgmlType::kQ6_K: {
        // ql[128] qh[64] scales[16] d: per half of 128, quarter k of 32
        // elements takes nibble (k >= 2 ? high : low) of ql[l + 32 * (k & 1)]
        // and bits 2k, 2k+1 of qh[l].
        const uint8_t* blk = p + 210 * (i / 256);
        const int e = static_cast<int>(i % 256), half = e / 128, j = e % 128;
        const int quarter = j / 32, l = j % 32;
        const uint8_t byte = blk[64 * half + l + 32 * (quarter & 1)];
        const int nib = quarter < 2 ? (byte & 15) : (byte >> 4);
        const int high = (blk[128 + 32 * half + l] >> (2 * quarter)) & 3;
        const int scale = static_cast<int8_t>(blk[192 + 8 * half + j / 16]);
        v = HalfAt(blk + 208) * scale * ((nib | (high << 4)) - 32);
        break;
      }
      default:
        break;
    }
    out[static_cast<size_t>(i)] = static_cast<float>(v);
  }
  return out;
}

// The integer parts of element i (0-based within its row) of a quantized row,
// as llama.cpp's integer dot products use them: value = d * scale * q - dmin
// * min, where scale and min are the integer scale and min of the element's
// sub-block (1 and 0 where the type has none) and q is signed (Q4_0: nibble
// - 8; Q6_K: 6 bits - 32).
struct IntElement {
  double d = 0, dmin = 0;
  int scale = 1, min = 0, q = 0;
};

inline IntElement IntElementAt(GgmlType type, const uint8_t* p, int64_t i) {
  IntElement r;
  switch (type) {
    case GgmlType::kQ8_0: {
      const uint8_t* blk = p + 34 * (i / 32);
      r.d = HalfAt(blk);
      r.q = static_cast<int8_t>(blk[2 + i % 32]);
      break;
    }
    case GgmlType::kQ4_0: {
      const uint8_t* blk = p + 18 * (i / 32);
      const int j = static_cast<int>(i % 32);
      const uint8_t byte = blk[2 + j % 16];
      r.d = HalfAt(blk);
      r.q = (j < 16 ? (byte & 15) : (byte >> 4)) - 8;
      break;
    }
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K: {
      const bool q5 = type == GgmlType::kQ5_K;
      const uint8_t* blk = p + (q5 ? 176 : 144) * (i / 256);
      const uint8_t* qh = q5 ? blk + 16 : nullptr;
      const uint8_t* qs = blk + (q5 ? 48 : 16);
      const int e = static_cast<int>(i % 256), chunk = e / 64, pos = e % 64;
      const uint8_t byte = qs[32 * chunk + pos % 32];
      r.q = pos < 32 ? (byte & 15) : (byte >> 4);
      if (qh != nullptr) r.q += 16 * ((qh[pos % 32] >> (2 * chunk + (pos >= 32 ? 1 : 0))) & 1);
      r.d = HalfAt(blk);
      r.dmin = HalfAt(blk + 2);
      r.scale = KScaleField(blk + 4, e / 32, false);
      r.min = KScaleField(blk + 4, e / 32, true);
      break;
    }
    case GgmlType::kQ6_K: {
      const uint8_t* blk = p + 210 * (i / 256);
      const int e = static_cast<int>(i % 256), half = e / 128, j = e % 128;
      const int quarter = j / 32, l = j % 32;
      const uint8_t byte = blk[64 * half + l + 32 * (quarter & 1)];
      const int nib = quarter < 2 ? (byte & 15) : (byte >> 4);
      const int high = (blk[128 + 32 * half + l] >> (2 * quarter)) & 3;
      r.d = HalfAt(blk + 208);
      r.scale = static_cast<int8_t>(blk[192 + 8 * half + j / 16]);
      r.q = (nib | (high << 4)) - 32;
      break;
    }
    default:
      break;
  }
  return r;
}

// Byte offsets of the fp16 fields within one block of a quantized type.
inline std::vector<int> HalfFieldOffsets(GgmlType type) {
  switch (type) {
    case GgmlType::kQ8_0:
    case GgmlType::kQ4_0:
      return {0};
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
      return {0, 2};
    case GgmlType::kQ6_K:
      return {208};
    default:
      return {};
  }
}

// A random finite fp16 bit pattern whose magnitude lies in [2^lo_exp, 2^hi_exp).
inline uint16_t RandomHalf(std::mt19937& rng, int lo_exp, int hi_exp) {
  std::uniform_real_distribution<double> u(lo_exp, hi_exp);
  const double mag = std::exp2(u(rng));
  // Round to fp16 by search over the exact decoder (independent of src/core).
  int exponent = std::max(-14, static_cast<int>(std::floor(std::log2(mag))));
  exponent = std::min(exponent, 15);
  const double unit = std::ldexp(1.0, exponent - 10);
  long m = std::lround(mag / unit);
  uint16_t bits;
  if (exponent == -14 && m < 1024) {
    bits = static_cast<uint16_t>(std::max(1L, m));  // subnormal
  } else {
    if (m >= 2048) {
      m /= 2;
      ++exponent;
    }
    if (exponent > 15) return 0x7bff;
    bits = static_cast<uint16_t>(((exponent + 15) << 10) | (m - 1024));
  }
  if (rng() & 1) bits |= 0x8000;
  return bits;
}

// Random encoded row of n elements: random quant bytes, and fp16 scales drawn
// from [2^lo_exp, 2^hi_exp). Plain types get random normal-ish values.
inline std::vector<uint8_t> RandomRow(GgmlType type, int64_t n, std::mt19937& rng, int lo_exp,
                                      int hi_exp) {
  const size_t bytes = RowBytes(type, n);
  std::vector<uint8_t> row(bytes);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  if (type == GgmlType::kF32) {
    for (int64_t i = 0; i < n; ++i) {
      const float f = normal(rng);
      std::memcpy(row.data() + 4 * i, &f, 4);
    }
    return row;
  }
  if (type == GgmlType::kF16 || type == GgmlType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      if (type == GgmlType::kF16) {
        h = RandomHalf(rng, lo_exp, hi_exp);
      } else {
        const float f = normal(rng);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        h = static_cast<uint16_t>(bits >> 16);
      }
      row[2 * i] = static_cast<uint8_t>(h & 0xFF);
      row[2 * i + 1] = static_cast<uint8_t>(h >> 8);
    }
    return row;
  }
  for (auto& b : row) b = static_cast<uint8_t>(rng());
  const size_t block_bytes = GetTypeTraits(type).type_size;
  for (size_t off = 0; off < bytes; off += block_bytes) {
    for (int f : HalfFieldOffsets(type)) {
      const uint16_t h = RandomHalf(rng, lo_exp, hi_exp);
      row[off + f] = static_cast<uint8_t>(h & 0xFF);
      row[off + f + 1] = static_cast<uint8_t>(h >> 8);
    }
  }
  return row;
}

inline const GgmlType kAllTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16,
                                     GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_K,
                                     GgmlType::kQ5_K, GgmlType::kQ6_K};

}  // namespace arkv::testref
