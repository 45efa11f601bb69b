// The fused attention kernel, vectorized with Highway: compiled once per SIMD
// target (foreach_target) and chosen at run time (HWY_DYNAMIC_DISPATCH).
//
// Per tile of kTile keys of a span:
//   1. K and V of the tile are decoded in registers (codecs-inl.h: fp16 via
//      F16C where the target has it, fp8 e4m3 / int8 / int4 with their
//      per-token scales) into f32 rows of dp floats: head_dim rounded up to
//      whole vectors, zero padded, so that every head_dim (8..256, odd
//      multiples included) works. Decoded values equal DecodeSlot's.
//   2. Scores: dot products over dp, two query rows by four keys at a time,
//      finished by a transposing horizontal sum of the eight accumulators.
//   3. Online softmax per row: causal mask, tile max, a vectorized exp.
//   4. P.V into f32 accumulators, two rows by four vectors at a time.
// Probabilities are captured as raw logits during the sweep and normalized at
// the end with the final max and denominator.
// With at most kMaxDirectRows query rows (a decode step) and a head dim of
// whole vectors, steps 1, 2 and 4 read K and V straight from the slots
// instead (attention_direct-inl.h): same values, same sums, one read per key.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/aligned.h"
#include "hwy/cache_control.h"
#include "kv/attention.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kv/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Per-target headers, after foreach_target (keep this order).
#include "hwy/highway.h"
// Exp, after highway.h.
#include "hwy/contrib/math/math-inl.h"
// The slot formats' SIMD decoders (DecodeTile).
#include "kv/codecs-inl.h"
// The tiles of few query rows, read straight from the slots (and StoreSum4).
#include "kv/attention_direct-inl.h"
// The tiles of many query rows, lanes along the rows (512-bit targets).
#include "kv/attention_block-inl.h"

HWY_BEFORE_NAMESPACE();
namespace arkv::kv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int kTile = 32;  // keys per tile: K and V of a tile stay in L1
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline size_t RoundUp(size_t n, size_t m) { return (n + m - 1) / m * m; }

// ---------------------------------------------------------------------------
// Scores.

// s[r * s_stride + j] = q_r . k_j for rows r < n_rows (1 or 2) of q (stride dp)
// and keys j < nks (a multiple of 4) of kb (stride dp).
template <int kRows>
HWY_INLINE void ScoreRows(const float* HWY_RESTRICT q, const float* HWY_RESTRICT kb, int dp,
                          int nks, float* HWY_RESTRICT s, size_t s_stride) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const float* q1 = q + (kRows == 2 ? dp : 0);
  for (int j = 0; j < nks; j += 4) {
    const float* k0 = kb + static_cast<size_t>(j) * dp;
    const float* k1 = k0 + dp;
    const float* k2 = k1 + dp;
    const float* k3 = k2 + dp;
    VF a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
    VF b0 = hn::Zero(df), b1 = hn::Zero(df), b2 = hn::Zero(df), b3 = hn::Zero(df);
    for (int c = 0; c < dp; c += n) {
      const VF x0 = hn::Load(df, k0 + c), x1 = hn::Load(df, k1 + c);
      const VF x2 = hn::Load(df, k2 + c), x3 = hn::Load(df, k3 + c);
      const VF qa = hn::Load(df, q + c);
      a0 = hn::MulAdd(qa, x0, a0);
      a1 = hn::MulAdd(qa, x1, a1);
      a2 = hn::MulAdd(qa, x2, a2);
      a3 = hn::MulAdd(qa, x3, a3);
      if constexpr (kRows == 2) {
        const VF qb = hn::Load(df, q1 + c);
        b0 = hn::MulAdd(qb, x0, b0);
        b1 = hn::MulAdd(qb, x1, b1);
        b2 = hn::MulAdd(qb, x2, b2);
        b3 = hn::MulAdd(qb, x3, b3);
      }
    }
    StoreSum4(a0, a1, a2, a3, s + j);
    if constexpr (kRows == 2) StoreSum4(b0, b1, b2, b3, s + s_stride + j);
  }
}

// ---------------------------------------------------------------------------
// P.V: acc_r[0, dp) += sum_j p_r[j] * v_j for rows r < kRows (stride dp for
// acc, s_stride for p), keys j < nk.
template <int kRows>
HWY_INLINE void AccumulatePV(const float* HWY_RESTRICT p, size_t s_stride,
                             const float* HWY_RESTRICT vb, int nk, int dp,
                             float* HWY_RESTRICT acc) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const float* p1 = p + (kRows == 2 ? s_stride : 0);
  float* acc1 = acc + (kRows == 2 ? dp : 0);
  int c = 0;
  for (; c + 4 * n <= dp; c += 4 * n) {
    VF a0 = hn::Load(df, acc + c), a1 = hn::Load(df, acc + c + n);
    VF a2 = hn::Load(df, acc + c + 2 * n), a3 = hn::Load(df, acc + c + 3 * n);
    VF b0 = hn::Zero(df), b1 = hn::Zero(df), b2 = hn::Zero(df), b3 = hn::Zero(df);
    if constexpr (kRows == 2) {
      b0 = hn::Load(df, acc1 + c);
      b1 = hn::Load(df, acc1 + c + n);
      b2 = hn::Load(df, acc1 + c + 2 * n);
      b3 = hn::Load(df, acc1 + c + 3 * n);
    }
    const float* v = vb + c;
    for (int j = 0; j < nk; ++j, v += dp) {
      const VF v0 = hn::Load(df, v), v1 = hn::Load(df, v + n);
      const VF v2 = hn::Load(df, v + 2 * n), v3 = hn::Load(df, v + 3 * n);
      const VF pa = hn::Set(df, p[j]);
      a0 = hn::MulAdd(pa, v0, a0);
      a1 = hn::MulAdd(pa, v1, a1);
      a2 = hn::MulAdd(pa, v2, a2);
      a3 = hn::MulAdd(pa, v3, a3);
      if constexpr (kRows == 2) {
        const VF pb = hn::Set(df, p1[j]);
        b0 = hn::MulAdd(pb, v0, b0);
        b1 = hn::MulAdd(pb, v1, b1);
        b2 = hn::MulAdd(pb, v2, b2);
        b3 = hn::MulAdd(pb, v3, b3);
      }
    }
    hn::Store(a0, df, acc + c);
    hn::Store(a1, df, acc + c + n);
    hn::Store(a2, df, acc + c + 2 * n);
    hn::Store(a3, df, acc + c + 3 * n);
    if constexpr (kRows == 2) {
      hn::Store(b0, df, acc1 + c);
      hn::Store(b1, df, acc1 + c + n);
      hn::Store(b2, df, acc1 + c + 2 * n);
      hn::Store(b3, df, acc1 + c + 3 * n);
    }
  }
  for (; c < dp; c += n) {
    VF a = hn::Load(df, acc + c);
    VF b = kRows == 2 ? hn::Load(df, acc1 + c) : hn::Zero(df);
    const float* v = vb + c;
    for (int j = 0; j < nk; ++j, v += dp) {
      const VF vj = hn::Load(df, v);
      a = hn::MulAdd(hn::Set(df, p[j]), vj, a);
      if constexpr (kRows == 2) b = hn::MulAdd(hn::Set(df, p1[j]), vj, b);
    }
    hn::Store(a, df, acc + c);
    if constexpr (kRows == 2) hn::Store(b, df, acc1 + c);
  }
}

// Every cache line of tokens [begin, end) of a span, page by page.
HWY_INLINE void PrefetchTokens(const SlotSpan& span, int begin, int end) {
  const int per_page = span.tokens_per_page;
  for (int i = begin; i < end;) {
    const int page_end = std::min(end, (i / per_page + 1) * per_page);
    const uint8_t* p = span.token(i);
    const uint8_t* last = span.token(page_end - 1) + span.stride;
    for (; p < last; p += 64) hwy::Prefetch(p);
    i = page_end;
  }
}

// ---------------------------------------------------------------------------

// Per-thread scratch, grown on demand, so that the hot path does not allocate.
struct Scratch {
  AlignedPtr<float> qs, acc, s, kb, vb;
  AlignedPtr<int32_t> kpos;
  std::vector<float> m, l;
  std::vector<uint8_t> live;
  size_t rows_dp = 0, rows_tile = 0, tile_dp = 0;
  // The block tiles (rp: rows padded to whole vectors): the transposed
  // queries qt, the key-major scores st, and per row m, l, alpha, position.
  AlignedPtr<float> qt, st, bm, bl, balpha;
  AlignedPtr<int32_t> bpos;
  std::vector<float*> capture_rows;
  size_t block_rows = 0, block_qt = 0, block_st = 0;

  void ReserveBlock(int rp, int dp, int tile) {
    const size_t nq = static_cast<size_t>(rp) * dp, ns = static_cast<size_t>(rp) * tile;
    if (nq > block_qt) {
      qt = AllocAligned<float>(nq);
      block_qt = nq;
    }
    if (ns > block_st) {
      st = AllocAligned<float>(ns);
      block_st = ns;
    }
    if (static_cast<size_t>(rp) > block_rows) {
      bm = AllocAligned<float>(rp);
      bl = AllocAligned<float>(rp);
      balpha = AllocAligned<float>(rp);
      bpos = AllocAligned<int32_t>(rp);
      block_rows = rp;
    }
    std::fill(bm.get(), bm.get() + rp, kNegInf);
    std::fill(bl.get(), bl.get() + rp, 0.0f);
    capture_rows.assign(rp, nullptr);
  }

  // rows query rows of dp floats; tiles of `tile` keys.
  void Reserve(int rows, int dp, int tile) {
    const size_t rd = static_cast<size_t>(rows) * dp, rt = static_cast<size_t>(rows) * tile,
                 td = static_cast<size_t>(tile) * dp;
    if (rd > rows_dp) {
      qs = AllocAligned<float>(rd);
      acc = AllocAligned<float>(rd);
      rows_dp = rd;
    }
    if (rt > rows_tile) {
      s = AllocAligned<float>(rt);
      rows_tile = rt;
    }
    if (td > tile_dp) {
      kb = AllocAligned<float>(td);
      vb = AllocAligned<float>(td);
      tile_dp = td;
    }
    if (!kpos) kpos = AllocAligned<int32_t>(tile);
    std::fill(acc.get(), acc.get() + rd, 0.0f);
    m.assign(rows, kNegInf);
    l.assign(rows, 0.0f);
    live.assign(rows, 0);
  }
};

// The span sweep with the block tiles (attention_block-inl.h) for `rows`
// scaled query rows qs (stride dp); leaves each row's m and l in sc.m, sc.l
// and its unnormalized output in sc.acc. Returns the number of keys swept.
template <class CaptureRow>
int SweepBlockTiles(const SlotSpan* spans, int n_spans, const QueryBlock& block, const float* qs,
                    int rows, int dp, int32_t max_pos, bool capturing,
                    const CaptureRow& capture_row, Scratch& sc) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const int d = block.head_dim;
  const int group = block.group;
  const int quantum = std::max(4, n);
  const int tile_cap = static_cast<int>(RoundUp(kTile, quantum));
  float* acc = sc.acc.get();
  float* kb = sc.kb.get();
  float* vb = sc.vb.get();
  int32_t* kpos = sc.kpos.get();
  int key_base = 0;
  const int rp = static_cast<int>(RoundUp(rows, n));
  sc.ReserveBlock(rp, dp, tile_cap);
  // The scaled query rows transposed: qt[c * rp + r], padded rows zero.
  float* qt = sc.qt.get();
  for (int c = 0; c < dp; ++c) {
    for (int r = 0; r < rp; ++r) {
      qt[static_cast<size_t>(c) * rp + r] = r < rows ? qs[static_cast<size_t>(r) * dp + c] : 0.0f;
    }
  }
  int32_t min_pos = std::numeric_limits<int32_t>::max();
  for (int r = 0; r < rp; ++r) {
    sc.bpos[r] = r < rows ? block.positions[r / group] : std::numeric_limits<int32_t>::min();
    if (r < rows) {
      sc.capture_rows[r] = capture_row(r);
      min_pos = std::min(min_pos, sc.bpos[r]);
    }
  }
  float* st = sc.st.get();
  for (int si = 0; si < n_spans; ++si) {
    const SlotSpan& span = spans[si];
    for (int start = 0; start < span.n_tokens; start += kTile) {
      const int nk = std::min(kTile, span.n_tokens - start);
      int32_t tile_min_pos = std::numeric_limits<int32_t>::max();
      int32_t tile_max_pos = std::numeric_limits<int32_t>::min();
      for (int j = 0; j < nk; ++j) {
        kpos[j] = span.position(start + j);
        tile_min_pos = std::min(tile_min_pos, kpos[j]);
        tile_max_pos = std::max(tile_max_pos, kpos[j]);
      }
      // No key visible to any row (tile_min_pos > max_pos): skipped unless captured.
      if (tile_min_pos > max_pos && !capturing) continue;
      const int nks = static_cast<int>(RoundUp(nk, quantum));
      for (int j = nk; j < nks; ++j) kpos[j] = std::numeric_limits<int32_t>::max();
      DecodeTile(span, start, nk, d, dp, kb, vb);
      std::fill(kb + static_cast<size_t>(nk) * dp, kb + static_cast<size_t>(nks) * dp, 0.0f);
      ScoreBlock(kb, dp, nks, qt, rp, st);
      const bool live = SoftmaxBlock(
          st, rp, nks, kpos, sc.bpos.get(), tile_max_pos <= min_pos, sc.bm.get(), sc.bl.get(),
          sc.balpha.get(), sc.capture_rows.data(), static_cast<size_t>(key_base + start), nk);
      if (live) AccumulateBlock(st, rp, rows, sc.balpha.get(), vb, nk, dp, acc);
    }
    key_base += span.n_tokens;
  }
  std::copy(sc.bm.get(), sc.bm.get() + rows, sc.m.begin());
  std::copy(sc.bl.get(), sc.bl.get() + rows, sc.l.begin());
  return key_base;
}

void AttendKvHeadImpl(const SlotSpan* spans, int n_spans, const QueryBlock& block,
                      const ProbCapture* capture) {
  const DF df;
  const DI di;
  const int n = static_cast<int>(hn::Lanes(df));
  const int d = block.head_dim;
  const int dp = static_cast<int>(RoundUp(d, n));
  const int group = block.group;
  const int rows = block.n_queries * group;
  // Tiles are scored in whole vectors and quads of keys.
  const int quantum = std::max(4, n);
  const int tile_cap = static_cast<int>(RoundUp(kTile, quantum));
  // Few rows with whole-vector head dims: K and V straight from the slots.
  const bool direct = rows <= kMaxDirectRows && DirectHeadDim(d);
  thread_local Scratch sc;
  sc.Reserve(rows, dp, tile_cap);
  float* qs = sc.qs.get();
  float* acc = sc.acc.get();
  float* kb = sc.kb.get();
  float* vb = sc.vb.get();
  int32_t* kpos = sc.kpos.get();

  // Scaled query rows, zero padded; the largest query position bounds the keys.
  int32_t max_pos = std::numeric_limits<int32_t>::min();
  for (int t = 0; t < block.n_queries; ++t) {
    max_pos = std::max(max_pos, block.positions[t]);
    for (int g = 0; g < group; ++g) {
      const float* src = block.q + t * block.q_token_stride + static_cast<size_t>(g) * d;
      float* dst = qs + static_cast<size_t>(t * group + g) * dp;
      for (int c = 0; c < d; ++c) dst[c] = src[c] * block.scale;
      for (int c = d; c < dp; ++c) dst[c] = 0.0f;
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

  const VF neg_inf = hn::Set(df, kNegInf);
  int key_base = 0;
  // Many rows on 512-bit targets: the transposed tiles (attention_block-inl.h).
  const bool block_tiles = kHaveBlockTiles && !direct && rows >= n;
  if (block_tiles) {
    key_base = SweepBlockTiles(spans, n_spans, block, qs, rows, dp, max_pos, capture != nullptr,
                               capture_row, sc);
  } else {
    for (int si = 0; si < n_spans; ++si) {
      const SlotSpan& span = spans[si];
      for (int start = 0; start < span.n_tokens; start += kTile) {
        const int nk = std::min(kTile, span.n_tokens - start);
        // The next tile's tokens, one tile ahead: pages are separate blocks, so
        // the hardware prefetcher loses the stream at every page boundary.
        if (!direct)
          PrefetchTokens(span, start + kTile, std::min(start + 2 * kTile, span.n_tokens));
        bool any_visible = false;
        for (int j = 0; j < nk; ++j) {
          kpos[j] = span.position(start + j);
          any_visible |= kpos[j] <= max_pos;
        }
        if (!any_visible && capture == nullptr) continue;
        // Keys [nk, nks) are padding: zero rows, masked by an unreachable position.
        const int nks = static_cast<int>(RoundUp(nk, quantum));
        for (int j = nk; j < nks; ++j) kpos[j] = std::numeric_limits<int32_t>::max();
        float* s = sc.s.get();
        int r = 0;
        if (direct) {
          ScoreTileDirect(rows, span, start, nk, nks, d, qs, s, tile_cap);
        } else {
          DecodeTile(span, start, nk, d, dp, kb, vb);
          std::fill(kb + static_cast<size_t>(nk) * dp, kb + static_cast<size_t>(nks) * dp, 0.0f);
          for (; r + 2 <= rows; r += 2) {
            ScoreRows<2>(qs + static_cast<size_t>(r) * dp, kb, dp, nks,
                         s + static_cast<size_t>(r) * tile_cap, tile_cap);
          }
          if (r < rows) {
            ScoreRows<1>(qs + static_cast<size_t>(r) * dp, kb, dp, nks,
                         s + static_cast<size_t>(r) * tile_cap, tile_cap);
          }
        }

        // Online softmax; s becomes the tile's probabilities relative to m.
        for (r = 0; r < rows; ++r) {
          float* sr = s + static_cast<size_t>(r) * tile_cap;
          const auto qpos = hn::Set(di, block.positions[r / group]);
          VF vmax = neg_inf;
          for (int j = 0; j < nks; j += n) {
            const auto masked = hn::RebindMask(df, hn::Gt(hn::Load(di, kpos + j), qpos));
            const VF x = hn::IfThenElse(masked, neg_inf, hn::Load(df, sr + j));
            hn::Store(x, df, sr + j);
            vmax = hn::Max(vmax, x);
          }
          const float tile_max = hn::GetLane(hn::MaxOfLanes(df, vmax));
          if (float* cap = capture_row(r)) std::copy(sr, sr + nk, cap + key_base + start);
          sc.live[r] = tile_max != kNegInf;
          if (!sc.live[r]) continue;
          float& m = sc.m[r];
          if (tile_max > m) {
            const float alpha = std::exp(m - tile_max);  // 0 when m was -inf
            sc.l[r] *= alpha;
            float* ar = acc + static_cast<size_t>(r) * dp;
            const VF va = hn::Set(df, alpha);
            for (int c = 0; c < dp; c += n)
              hn::Store(hn::Mul(hn::Load(df, ar + c), va), df, ar + c);
            m = tile_max;
          }
          const VF vm = hn::Set(df, m);
          VF sum = hn::Zero(df);
          for (int j = 0; j < nks; j += n) {
            const VF p = hn::Exp(df, hn::Sub(hn::Load(df, sr + j), vm));  // 0 where masked
            hn::Store(p, df, sr + j);
            sum = hn::Add(sum, p);
          }
          sc.l[r] += hn::GetLane(hn::SumOfLanes(df, sum));
        }

        // P.V over live rows, in pairs where possible; all rows at once from the
        // slots when every row is live (always so for a single query).
        if (direct) {
          if (std::all_of(sc.live.begin(), sc.live.end(), [](uint8_t x) { return x != 0; })) {
            AccumulatePVTileDirect(rows, s, tile_cap, span, start, nk, d, acc);
            continue;
          }
          DecodeTile(span, start, nk, d, dp, kb, vb);
        }
        int pending = -1;
        for (r = 0; r < rows; ++r) {
          if (!sc.live[r]) continue;
          if (pending >= 0 && pending + 1 == r) {
            AccumulatePV<2>(s + static_cast<size_t>(pending) * tile_cap, tile_cap, vb, nk, dp,
                            acc + static_cast<size_t>(pending) * dp);
            pending = -1;
          } else {
            if (pending >= 0) {
              AccumulatePV<1>(s + static_cast<size_t>(pending) * tile_cap, tile_cap, vb, nk, dp,
                              acc + static_cast<size_t>(pending) * dp);
            }
            pending = r;
          }
        }
        if (pending >= 0) {
          AccumulatePV<1>(s + static_cast<size_t>(pending) * tile_cap, tile_cap, vb, nk, dp,
                          acc + static_cast<size_t>(pending) * dp);
        }
      }
      key_base += span.n_tokens;
    }
  }

  for (int r = 0; r < rows; ++r) {
    const int t = r / group;
    const int g = r % group;
    float* dst = block.out + t * block.out_token_stride + static_cast<size_t>(g) * d;
    const float inv = sc.l[r] > 0.0f ? 1.0f / sc.l[r] : 0.0f;
    const float* ar = acc + static_cast<size_t>(r) * dp;
    const VF vinv = hn::Set(df, inv);
    int c = 0;
    for (; c + n <= d; c += n) hn::StoreU(hn::Mul(hn::Load(df, ar + c), vinv), df, dst + c);
    for (; c < d; ++c) dst[c] = ar[c] * inv;
    if (block.row_max != nullptr) {
      block.row_max[r] = sc.m[r];
      block.row_sum[r] = sc.l[r];
    }
    if (float* cap = capture_row(r)) {
      // Masked keys (-inf) and rows with nothing visible give 0.
      const float m = sc.m[r];
      if (inv == 0.0f) {
        std::fill(cap, cap + key_base, 0.0f);
        continue;
      }
      const VF vm = hn::Set(df, m);
      int k = 0;
      for (; k + n <= key_base; k += n) {
        const VF p = hn::Exp(df, hn::Sub(hn::LoadU(df, cap + k), vm));
        hn::StoreU(hn::Mul(p, vinv), df, cap + k);
      }
      for (; k < key_base; ++k) cap[k] = cap[k] == kNegInf ? 0.0f : std::exp(cap[k] - m) * inv;
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv::kv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace arkv::kv {

HWY_EXPORT(AttendKvHeadImpl);

void AttendKvHead(const SlotSpan* spans, int n_spans, const QueryBlock& block,
                  const ProbCapture* capture) {
  HWY_DYNAMIC_DISPATCH(AttendKvHeadImpl)(spans, n_spans, block, capture);
}

}  // namespace arkv::kv
#endif  // HWY_ONCE
