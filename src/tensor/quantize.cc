// Reference quantizers: float rows into ggml block encodings. Q8_0 and Q4_0
// follow ggml's deterministic *_ref quantizers exactly (same bytes); the
// K-quants use our own least-squares scale/min search, written into ggml's
// exact layouts so llama.cpp reads what we write.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "tensor/kernels.h"
#include "tensor/quant_blocks.h"

namespace arkv {
namespace {

// Rounded fp16 value of f, as a float: what a decoder will see.
float RoundToF16(float f) { return F16ToF32(F32ToF16(f)); }

int RoundToInt(float f) { return static_cast<int>(std::nearbyint(f)); }

void QuantizeQ8_0(const float* x, BlockQ8_0* out, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kQK) {
    float amax = 0.0f;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = F32ToF16(d);
    for (int i = 0; i < kQK; ++i) out[b].qs[i] = static_cast<int8_t>(std::round(x[i] * id));
  }
}

void QuantizeQ4_0(const float* x, BlockQ4_0* out, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kQK) {
    // The signed value of largest magnitude (the first one on ties) maps to -8.
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < kQK; ++i) {
      if (amax < std::fabs(x[i])) {
        amax = std::fabs(x[i]);
        max = x[i];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = F32ToF16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      // Truncation of x/d + 8.5 (always >= 0 here) is ggml's round to nearest.
      const int lo = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int hi = std::min(15, static_cast<int>(x[j + kQK / 2] * id + 8.5f));
      out[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

// Fits x[i] ~= scale * L[i] - min with L[i] in [0, nmax] and min >= 0 (a
// sub-block of Q4_K/Q5_K). Tries a range of step sizes around (max - lo) / nmax
// and refits scale and min by least squares for each assignment.
void FitScaleMin(const float* x, int n, int nmax, float* scale, float* min) {
  float lo = 0.0f, hi = x[0];
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  *scale = 0.0f;
  *min = -lo;
  if (hi <= lo) return;                           // constant sub-block: its value is -min exactly
  *scale = (hi - lo) / static_cast<float>(nmax);  // used if no refit does better

  float best_err = INFINITY;
  for (int step = -10; step <= 5; ++step) {
    const float iscale = (static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / (hi - lo);
    double sum_l = 0, sum_l2 = 0, sum_x = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(RoundToInt(iscale * (x[i] - lo)), 0, nmax);
      sum_l += l;
      sum_l2 += static_cast<double>(l) * l;
      sum_x += x[i];
      sum_xl += static_cast<double>(x[i]) * l;
    }
    const double det = n * sum_l2 - sum_l * sum_l;
    if (det <= 0) continue;
    double s = (n * sum_xl - sum_x * sum_l) / det;
    double offset = (sum_l2 * sum_x - sum_l * sum_xl) / det;  // x ~= s * l + offset
    if (offset > 0) {  // the format needs min >= 0: refit the scale alone
      offset = 0;
      s = sum_l2 > 0 ? sum_xl / sum_l2 : 0;
    }
    if (s <= 0) continue;
    double err = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(RoundToInt(iscale * (x[i] - lo)), 0, nmax);
      const double e = s * l + offset - x[i];
      err += e * e;
    }
    if (err < best_err) {
      best_err = static_cast<float>(err);
      *scale = static_cast<float>(s);
      *min = static_cast<float>(-offset);
    }
  }
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fits the 8 sub-blocks, encodes
// their scales and mins in 6 bits under fp16 super-scales, and returns the
// final quantized levels L[256] computed with the values a decoder will see.
void QuantizeSuperBlockK(const float* x, int nmax, uint16_t* d_out, uint16_t* dmin_out,
                         uint8_t packed_scales[12], uint8_t L[kQK_K]) {
  float scales[8], mins[8];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int s = 0; s < 8; ++s) {
    FitScaleMin(x + 32 * s, 32, nmax, &scales[s], &mins[s]);
    max_scale = std::max(max_scale, scales[s]);
    max_min = std::max(max_min, mins[s]);
  }
  const float d = RoundToF16(max_scale / 63.0f);
  const float dmin = RoundToF16(max_min / 63.0f);
  uint8_t sc[8], m[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = d > 0 ? static_cast<uint8_t>(std::clamp(RoundToInt(scales[s] / d), 0, 63)) : 0;
    m[s] = dmin > 0 ? static_cast<uint8_t>(std::clamp(RoundToInt(mins[s] / dmin), 0, 63)) : 0;
  }
  *d_out = F32ToF16(d);
  *dmin_out = F32ToF16(dmin);
  PackScalesMinsK4(sc, m, packed_scales);
  for (int s = 0; s < 8; ++s) {
    const float step = d * sc[s];
    const float offset = dmin * m[s];
    for (int i = 0; i < 32; ++i) {
      const int l = step > 0 ? RoundToInt((x[32 * s + i] + offset) / step) : 0;
      L[32 * s + i] = static_cast<uint8_t>(std::clamp(l, 0, nmax));
    }
  }
}

void QuantizeQ4_K(const float* x, BlockQ4_K* out, int64_t n_blocks) {
  uint8_t L[kQK_K];
  for (int64_t b = 0; b < n_blocks; ++b, x += kQK_K) {
    BlockQ4_K& blk = out[b];
    QuantizeSuperBlockK(x, 15, &blk.d, &blk.dmin, blk.scales, L);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        blk.qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
      }
    }
  }
}

void QuantizeQ5_K(const float* x, BlockQ5_K* out, int64_t n_blocks) {
  uint8_t L[kQK_K];
  for (int64_t b = 0; b < n_blocks; ++b, x += kQK_K) {
    BlockQ5_K& blk = out[b];
    QuantizeSuperBlockK(x, 31, &blk.d, &blk.dmin, blk.scales, L);
    std::memset(blk.qh, 0, sizeof(blk.qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
        blk.qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        blk.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
  }
}

// Fits x[i] ~= scale * L[i] with L[i] in [-32, 31] for a 16-element Q6_K
// sub-block: the value of largest magnitude goes near -32 (the extra negative
// level), with a small search over the step and a least-squares scale.
float FitSymmetric6(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < 16; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax == 0.0f) return 0.0f;
  float best_scale = max / -32.0f;
  double best_score = -1;
  for (int step = -9; step <= 9; ++step) {
    const float iscale = -(32.0f + 0.1f * static_cast<float>(step)) / max;
    double sum_xl = 0, sum_l2 = 0;
    for (int i = 0; i < 16; ++i) {
      const int l = std::clamp(RoundToInt(iscale * x[i]), -32, 31);
      sum_xl += static_cast<double>(x[i]) * l;
      sum_l2 += static_cast<double>(l) * l;
    }
    // With the least-squares scale, the error is sum x^2 - sum_xl^2 / sum_l2.
    if (sum_l2 > 0 && sum_xl * sum_xl / sum_l2 > best_score) {
      best_score = sum_xl * sum_xl / sum_l2;
      best_scale = static_cast<float>(sum_xl / sum_l2);
    }
  }
  return best_scale;
}

void QuantizeQ6_K(const float* x, BlockQ6_K* out, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, x += kQK_K) {
    BlockQ6_K& blk = out[b];
    float scales[16];
    float amax = 0.0f, max_scale = 0.0f;
    for (int s = 0; s < 16; ++s) {
      scales[s] = FitSymmetric6(x + 16 * s);
      if (std::fabs(scales[s]) > amax) {
        amax = std::fabs(scales[s]);
        max_scale = scales[s];
      }
    }
    // The sub-block scales become int8 under an fp16 super-scale d; the
    // largest maps to -128 as in ggml.
    const float iscale = max_scale != 0.0f ? -128.0f / max_scale : 0.0f;
    const float d = RoundToF16(iscale != 0.0f ? 1.0f / iscale : 0.0f);
    blk.d = F32ToF16(d);
    uint8_t L[kQK_K];
    for (int s = 0; s < 16; ++s) {
      const int sc = std::clamp(RoundToInt(iscale * scales[s]), -128, 127);
      blk.scales[s] = static_cast<int8_t>(sc);
      const float step = d * static_cast<float>(sc);
      for (int i = 0; i < 16; ++i) {
        const int l = step != 0.0f ? RoundToInt(x[16 * s + i] / step) : 0;
        L[16 * s + i] = static_cast<uint8_t>(std::clamp(l, -32, 31) + 32);
      }
    }
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        blk.ql[64 * h + l] = static_cast<uint8_t>((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
        blk.ql[64 * h + l + 32] =
            static_cast<uint8_t>((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
        blk.qh[32 * h + l] =
            static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                 ((q[l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace

void QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n) {
  const TypeTraits tr = GetTypeTraits(type);
  if (!tr.supported) Fail("QuantizeRow: unsupported tensor type {}", tr.name);
  if (n < 0 || n % tr.block_size != 0) {
    Fail("QuantizeRow: {} elements is not a multiple of the {} block size {}", n, tr.name,
         tr.block_size);
  }
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(src[i])) Fail("QuantizeRow: non-finite value {} at index {}", src[i], i);
  }
  const int64_t n_blocks = n / tr.block_size;
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::kF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = F32ToF16(src[i]);
      return;
    }
    case GgmlType::kBF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = F32ToBf16(src[i]);
      return;
    }
    case GgmlType::kQ8_0:
      return QuantizeQ8_0(src, static_cast<BlockQ8_0*>(dst), n_blocks);
    case GgmlType::kQ4_0:
      return QuantizeQ4_0(src, static_cast<BlockQ4_0*>(dst), n_blocks);
    case GgmlType::kQ4_K:
      return QuantizeQ4_K(src, static_cast<BlockQ4_K*>(dst), n_blocks);
    case GgmlType::kQ5_K:
      return QuantizeQ5_K(src, static_cast<BlockQ5_K*>(dst), n_blocks);
    case GgmlType::kQ6_K:
      return QuantizeQ6_K(src, static_cast<BlockQ6_K*>(dst), n_blocks);
    default:
      Fail("QuantizeRow: unsupported tensor type {}", tr.name);
  }
}

}  // namespace arkv
