#include "kv/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/fp16.h"
#include "kv/codecs.h"

namespace arkv::kv {
namespace {

constexpr int kTile = 32;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Per-thread scratch, reused across calls so that the hot path does not allocate.
struct Scratch {
  std::vector<float> qs, acc, m, l, s, kt, vt, krow;
  std::vector<int32_t> kpos;
  void Reserve(int rows, int d) {
    qs.resize(static_cast<size_t>(rows) * d);
    acc.assign(static_cast<size_t>(rows) * d, 0.0f);
    m.assign(rows, kNegInf);
    l.assign(rows, 0.0f);
    s.resize(static_cast<size_t>(rows) * kTile);
    kt.resize(static_cast<size_t>(d) * kTile);
    vt.resize(static_cast<size_t>(d) * kTile);
    krow.resize(2 * static_cast<size_t>(d));
    kpos.resize(kTile);
  }
};

// fp16 -> f32 for every half (256 KiB), built once: a table lookup is far
// cheaper than the bit-exact scalar conversion in the inner loop.
const float* HalfTable() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = F16ToF32(static_cast<uint16_t>(h));
    return t;
  }();
  return table.data();
}

// Decodes tokens [start, start + nk) of a span: K transposed into kt[d][kTile],
// V row-major into vt[kTile][d]. `row` is scratch of 2 * d floats.
void DecodeTile(const SlotSpan& span, int start, int nk, int d, float* kt, float* vt, float* row) {
  switch (span.format) {
    case SlotFormat::kF16: {
      const float* half = HalfTable();
      uint16_t buf[2 * 1024];
      for (int j = 0; j < nk; ++j) {
        std::memcpy(buf, span.slot(start + j), sizeof(uint16_t) * 2 * d);
        for (int c = 0; c < d; ++c) kt[static_cast<size_t>(c) * kTile + j] = half[buf[c]];
        float* v = vt + static_cast<size_t>(j) * d;
        for (int c = 0; c < d; ++c) v[c] = half[buf[d + c]];
      }
      return;
    }
    case SlotFormat::kFp8: {
      const float* fp8 = Fp8E4M3Table();
      for (int j = 0; j < nk; ++j) {
        const uint8_t* slot = span.slot(start + j);
        float ks, vs;
        std::memcpy(&ks, slot, 4);
        std::memcpy(&vs, slot + 4, 4);
        const uint8_t* kc = slot + 8;
        const uint8_t* vc = kc + d;
        for (int c = 0; c < d; ++c) kt[static_cast<size_t>(c) * kTile + j] = ks * fp8[kc[c]];
        float* v = vt + static_cast<size_t>(j) * d;
        for (int c = 0; c < d; ++c) v[c] = vs * fp8[vc[c]];
      }
      return;
    }
    default:
      for (int j = 0; j < nk; ++j) {
        DecodeSlot(span.format, span.slot(start + j), d, row, vt + static_cast<size_t>(j) * d);
        for (int c = 0; c < d; ++c) kt[static_cast<size_t>(c) * kTile + j] = row[c];
      }
      return;
  }
}

}  // namespace

void AttendKvHead(const SlotSpan* spans, int n_spans, const QueryBlock& block,
                  const ProbCapture* capture) {
  const int d = block.head_dim;
  const int group = block.group;
  const int rows = block.n_queries * group;
  thread_local Scratch sc;
  sc.Reserve(rows, d);

  // Scaled query rows, contiguous; the largest query position bounds the keys.
  int32_t max_pos = std::numeric_limits<int32_t>::min();
  for (int t = 0; t < block.n_queries; ++t) {
    max_pos = std::max(max_pos, block.positions[t]);
    for (int g = 0; g < group; ++g) {
      const float* src = block.q + t * block.q_token_stride + static_cast<size_t>(g) * d;
      float* dst = &sc.qs[static_cast<size_t>(t * group + g) * d];
      for (int c = 0; c < d; ++c) dst[c] = src[c] * block.scale;
    }
  }

  // Whether row r's raw logits go to the capture buffer, and where.
  auto capture_row = [&](int r) -> float* {
    if (capture == nullptr || capture->probs == nullptr) return nullptr;
    const int u = capture->first_query + r / group;
    if (u < capture->capture_first || u >= capture->capture_first + capture->capture_count)
      return nullptr;
    const int g = r % group;
    return capture->probs +
           (static_cast<size_t>(g) * capture->capture_count + (u - capture->capture_first)) *
               capture->n_keys;
  };

  int key_base = 0;
  for (int si = 0; si < n_spans; ++si) {
    const SlotSpan& span = spans[si];
    for (int start = 0; start < span.n_tokens; start += kTile) {
      const int nk = std::min(kTile, span.n_tokens - start);
      bool any_visible = false;
      for (int j = 0; j < nk; ++j) {
        sc.kpos[j] = span.positions[start + j];
        any_visible |= sc.kpos[j] <= max_pos;
      }
      if (!any_visible && capture == nullptr) continue;
      // Decode the tile: K transposed [d][kTile], V row-major [kTile][d].
      DecodeTile(span, start, nk, d, sc.kt.data(), sc.vt.data(), sc.krow.data());
      for (int r = 0; r < rows; ++r) {
        float* s = &sc.s[static_cast<size_t>(r) * kTile];
        const float* qr = &sc.qs[static_cast<size_t>(r) * d];
        for (int j = 0; j < kTile; ++j) s[j] = 0.0f;
        for (int c = 0; c < d; ++c) {
          const float qc = qr[c];
          const float* kc = &sc.kt[static_cast<size_t>(c) * kTile];
          for (int j = 0; j < kTile; ++j) s[j] += qc * kc[j];
        }
        const int32_t qpos = block.positions[r / group];
        float tile_max = kNegInf;
        for (int j = 0; j < nk; ++j) {
          if (sc.kpos[j] > qpos) s[j] = kNegInf;
          tile_max = std::max(tile_max, s[j]);
        }
        if (float* cap = capture_row(r)) std::copy(s, s + nk, cap + key_base + start);
        if (tile_max == kNegInf) continue;
        float& m = sc.m[r];
        float& l = sc.l[r];
        float* acc = &sc.acc[static_cast<size_t>(r) * d];
        const float m_new = std::max(m, tile_max);
        if (m_new > m) {
          const float alpha = std::exp(m - m_new);  // 0 when m was -inf
          l *= alpha;
          for (int c = 0; c < d; ++c) acc[c] *= alpha;
          m = m_new;
        }
        for (int j = 0; j < nk; ++j) {
          if (s[j] == kNegInf) continue;
          const float p = std::exp(s[j] - m);
          l += p;
          const float* vj = &sc.vt[static_cast<size_t>(j) * d];
          for (int c = 0; c < d; ++c) acc[c] += p * vj[c];
        }
      }
    }
    key_base += span.n_tokens;
  }

  for (int r = 0; r < rows; ++r) {
    const int t = r / group;
    const int g = r % group;
    float* dst = block.out + t * block.out_token_stride + static_cast<size_t>(g) * d;
    const float inv = sc.l[r] > 0.0f ? 1.0f / sc.l[r] : 0.0f;
    const float* acc = &sc.acc[static_cast<size_t>(r) * d];
    for (int c = 0; c < d; ++c) dst[c] = acc[c] * inv;
    if (block.row_max != nullptr) {
      block.row_max[r] = sc.m[r];
      block.row_sum[r] = sc.l[r];
    }
    if (float* cap = capture_row(r)) {
      const float m = sc.m[r];
      for (int k = 0; k < key_base; ++k)
        cap[k] = (cap[k] == kNegInf || inv == 0.0f) ? 0.0f : std::exp(cap[k] - m) * inv;
    }
  }
}

SlotSpan SubSpan(const SlotSpan& span, int begin, int end) {
  SlotSpan s = span;
  s.pages = span.pages + begin / span.tokens_per_page;
  s.positions = span.positions + begin;
  s.n_tokens = end - begin;
  return s;
}

void MergeSplits(int n_splits, const float* const* outs, const float* const* maxes,
                 const float* const* sums, int rows, int group, int d, float* out,
                 size_t out_token_stride) {
  for (int r = 0; r < rows; ++r) {
    float m = kNegInf;
    for (int s = 0; s < n_splits; ++s) m = std::max(m, maxes[s][r]);
    float* dst = out + (r / group) * out_token_stride + static_cast<size_t>(r % group) * d;
    for (int c = 0; c < d; ++c) dst[c] = 0.0f;
    if (m == kNegInf) continue;
    float total = 0.0f;
    for (int s = 0; s < n_splits; ++s) {
      if (maxes[s][r] == kNegInf) continue;
      const float w = std::exp(maxes[s][r] - m) * sums[s][r];
      total += w;
      const float* src = outs[s] + static_cast<size_t>(r) * d;
      for (int c = 0; c < d; ++c) dst[c] += w * src[c];
    }
    const float inv = 1.0f / total;
    for (int c = 0; c < d; ++c) dst[c] *= inv;
  }
}

}  // namespace arkv::kv
