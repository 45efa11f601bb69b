// Scalar decoding of one encoded row, in ggml's exact float operation order
// so the values equal ggml's to_float bit for bit. Used for embedding rows and
// tests; the matmul kernels decode the same values with SIMD.
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "tensor/kernels.h"
#include "tensor/quant_blocks.h"

namespace arkv {
namespace {

void DequantizeQ8_0(const BlockQ8_0* blocks, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const float d = F16ToF32(blocks[b].d);
    for (int i = 0; i < kQK; ++i) dst[b * kQK + i] = static_cast<float>(blocks[b].qs[i]) * d;
  }
}

void DequantizeQ4_0(const BlockQ4_0* blocks, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const float d = F16ToF32(blocks[b].d);
    float* out = dst + b * kQK;
    for (int j = 0; j < kQK / 2; ++j) {
      out[j] = static_cast<float>((blocks[b].qs[j] & 0xF) - 8) * d;
      out[j + kQK / 2] = static_cast<float>((blocks[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void DequantizeQ4_K(const BlockQ4_K* blocks, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ4_K& blk = blocks[b];
    const float d = F16ToF32(blk.d);
    const float dmin = F16ToF32(blk.dmin);
    uint8_t sc[8], m[8];
    UnpackScalesMinsK4(blk.scales, sc, m);
    float* out = dst + b * kQK_K;
    for (int c = 0; c < 4; ++c) {
      const float d_lo = d * sc[2 * c], m_lo = dmin * m[2 * c];
      const float d_hi = d * sc[2 * c + 1], m_hi = dmin * m[2 * c + 1];
      const uint8_t* q = blk.qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        out[64 * c + l] = d_lo * static_cast<float>(q[l] & 0xF) - m_lo;
        out[64 * c + 32 + l] = d_hi * static_cast<float>(q[l] >> 4) - m_hi;
      }
    }
  }
}

void DequantizeQ5_K(const BlockQ5_K* blocks, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ5_K& blk = blocks[b];
    const float d = F16ToF32(blk.d);
    const float dmin = F16ToF32(blk.dmin);
    uint8_t sc[8], m[8];
    UnpackScalesMinsK4(blk.scales, sc, m);
    float* out = dst + b * kQK_K;
    for (int c = 0; c < 4; ++c) {
      const float d_lo = d * sc[2 * c], m_lo = dmin * m[2 * c];
      const float d_hi = d * sc[2 * c + 1], m_hi = dmin * m[2 * c + 1];
      const uint8_t* q = blk.qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        const int lo = (q[l] & 0xF) | (((blk.qh[l] >> (2 * c)) & 1) << 4);
        const int hi = (q[l] >> 4) | (((blk.qh[l] >> (2 * c + 1)) & 1) << 4);
        out[64 * c + l] = d_lo * static_cast<float>(lo) - m_lo;
        out[64 * c + 32 + l] = d_hi * static_cast<float>(hi) - m_hi;
      }
    }
  }
}

void DequantizeQ6_K(const BlockQ6_K* blocks, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ6_K& blk = blocks[b];
    const float d = F16ToF32(blk.d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = blk.ql + 64 * h;
      const uint8_t* qh = blk.qh + 32 * h;
      const int8_t* sc = blk.scales + 8 * h;
      float* out = dst + b * kQK_K + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // (d * scale) * q, the order ggml uses: d * scale is exact in float.
        out[l] = d * static_cast<float>(sc[s]) * static_cast<float>(q1);
        out[l + 32] = d * static_cast<float>(sc[s + 2]) * static_cast<float>(q2);
        out[l + 64] = d * static_cast<float>(sc[s + 4]) * static_cast<float>(q3);
        out[l + 96] = d * static_cast<float>(sc[s + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace

void CheckWeightType(GgmlType type, int64_t cols, const char* tensor_name) {
  const TypeTraits tr = GetTypeTraits(type);
  if (!tr.supported) Fail("unsupported tensor type {} in tensor {}", tr.name, tensor_name);
  if (cols <= 0 || cols % tr.block_size != 0) {
    Fail("tensor {}: row length {} is not a positive multiple of the {} block size {}", tensor_name,
         cols, tr.name, tr.block_size);
  }
}

void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n) {
  const TypeTraits tr = GetTypeTraits(type);
  if (!tr.supported) Fail("DequantizeRow: unsupported tensor type {}", tr.name);
  if (n < 0 || n % tr.block_size != 0) {
    Fail("DequantizeRow: {} elements is not a multiple of the {} block size {}", n, tr.name,
         tr.block_size);
  }
  const int64_t n_blocks = n / tr.block_size;
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::kF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(h[i]);
      return;
    }
    case GgmlType::kBF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToF32(h[i]);
      return;
    }
    case GgmlType::kQ8_0:
      return DequantizeQ8_0(static_cast<const BlockQ8_0*>(src), dst, n_blocks);
    case GgmlType::kQ4_0:
      return DequantizeQ4_0(static_cast<const BlockQ4_0*>(src), dst, n_blocks);
    case GgmlType::kQ4_K:
      return DequantizeQ4_K(static_cast<const BlockQ4_K*>(src), dst, n_blocks);
    case GgmlType::kQ5_K:
      return DequantizeQ5_K(static_cast<const BlockQ5_K*>(src), dst, n_blocks);
    case GgmlType::kQ6_K:
      return DequantizeQ6_K(static_cast<const BlockQ6_K*>(src), dst, n_blocks);
    default:
      Fail("DequantizeRow: unsupported tensor type {}", tr.name);
  }
}

}  // namespace arkv
