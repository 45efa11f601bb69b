// Attention tiles for blocks of many query rows (a prompt chunk: 32 queries
// times the query heads of one KV head), per Highway target, on 512-bit
// vectors. The general kernel scores one row against four keys with lanes
// along the head dim, which ends every score in a horizontal sum; here the
// lanes run along the query rows instead ("transposed"): the scaled queries
// are stored once per block as qt[c][row], and a key's score with 16 rows is
// one vector, sum over c of k[c] (broadcast) times qt[c]. No horizontal sums,
// and the softmax statistics (max, denominator) of 16 rows update as one
// vector per key. P.V reads each probability as a broadcast.
//
// The sums over the head dim run in two interleaved chains (even and odd c),
// added at the end: a different rounding order than the general kernel's,
// equally accurate (tests/kv/attention_test.cc compares both with a
// double-precision reference on every target).
//
// Include after hwy/highway.h inside a foreach_target translation unit.

// Per-target include guard.
#if defined(ARKV_KV_ATTENTION_BLOCK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ARKV_KV_ATTENTION_BLOCK_INL_H_
#undef ARKV_KV_ATTENTION_BLOCK_INL_H_
#else
#define ARKV_KV_ATTENTION_BLOCK_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "hwy/highway.h"
// Exp, after highway.h.
#include "hwy/contrib/math/math-inl.h"
#include "kv/codecs-inl.h"

HWY_BEFORE_NAMESPACE();
namespace arkv::kv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Whether this target takes the transposed tiles (32 vector registers hold
// their 16 accumulators and operands; narrower targets keep the general path).
inline constexpr bool kHaveBlockTiles = HWY_MAX_BYTES == 64 && !HWY_HAVE_SCALABLE;

// st[j * rp + r] = sum_c kb[j * dp + c] * qt[c * rp + r] for keys j < nks (a
// multiple of 4) and the rows of row vectors [v0, v0 + V) (rp: padded rows).
template <int V>
HWY_INLINE void ScoreBlockKeys(const float* HWY_RESTRICT kb, int dp, int nks,
                               const float* HWY_RESTRICT qt, int rp, int v0,
                               float* HWY_RESTRICT st) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const float* q = qt + v0 * n;
  for (int j = 0; j < nks; j += 4) {
    const float* k = kb + static_cast<size_t>(j) * dp;
    VF even[4][V], odd[4][V];
    for (int i = 0; i < 4; ++i) {
      for (int v = 0; v < V; ++v) even[i][v] = odd[i][v] = hn::Zero(df);
    }
    for (int c = 0; c < dp; c += 2) {
      VF qe[V], qo[V];
      for (int v = 0; v < V; ++v) {
        qe[v] = hn::Load(df, q + static_cast<size_t>(c) * rp + v * n);
        qo[v] = hn::Load(df, q + static_cast<size_t>(c + 1) * rp + v * n);
      }
      for (int i = 0; i < 4; ++i) {
        const VF ke = hn::Set(df, k[static_cast<size_t>(i) * dp + c]);
        const VF ko = hn::Set(df, k[static_cast<size_t>(i) * dp + c + 1]);
        for (int v = 0; v < V; ++v) {
          even[i][v] = hn::MulAdd(ke, qe[v], even[i][v]);
          odd[i][v] = hn::MulAdd(ko, qo[v], odd[i][v]);
        }
      }
    }
    for (int i = 0; i < 4; ++i) {
      for (int v = 0; v < V; ++v) {
        hn::Store(hn::Add(even[i][v], odd[i][v]), df,
                  st + static_cast<size_t>(j + i) * rp + (v0 + v) * n);
      }
    }
  }
}

// Scores of every row vector of the block.
HWY_INLINE void ScoreBlock(const float* kb, int dp, int nks, const float* qt, int rp, float* st) {
  const DF df;
  const int nv = rp / static_cast<int>(hn::Lanes(df));
  int v = 0;
  for (; v + 2 <= nv; v += 2) ScoreBlockKeys<2>(kb, dp, nks, qt, rp, v, st);
  if (v < nv) ScoreBlockKeys<1>(kb, dp, nks, qt, rp, v, st);
}

// Online softmax of one tile for the row vectors: masks keys whose position
// (kpos[j]) is after the row's (qpos, per row), updates the running max m and
// denominator l (per row), turns st into probabilities relative to the new max
// and writes each row's rescale factor of its accumulator to alpha (1: none).
// Returns whether any row saw a key. Padded keys have position INT32_MAX.
// Captured rows (capture_rows[r] not null) get their masked raw logits of the
// tile's first capture_nk keys at capture_rows[r] + capture_offset.
// all_visible: every real key (the first capture_nk) is at or before every
// row's position, so only the padding keys need masking.
HWY_INLINE bool SoftmaxBlock(float* HWY_RESTRICT st, int rp, int nks,
                             const int32_t* HWY_RESTRICT kpos, const int32_t* HWY_RESTRICT qpos,
                             bool all_visible, float* HWY_RESTRICT m, float* HWY_RESTRICT l,
                             float* HWY_RESTRICT alpha, float* const* capture_rows,
                             size_t capture_offset, int capture_nk) {
  const DF df;
  const DI di;
  const int n = static_cast<int>(hn::Lanes(df));
  const VF neg_inf = hn::Set(df, -std::numeric_limits<float>::infinity());
  bool any_live = false;
  for (int r0 = 0; r0 < rp; r0 += n) {
    VF vmax = neg_inf;
    if (all_visible) {
      int j = 0;
      for (; j < capture_nk; ++j) {
        vmax = hn::Max(vmax, hn::Load(df, st + static_cast<size_t>(j) * rp + r0));
      }
      for (; j < nks; ++j) hn::Store(neg_inf, df, st + static_cast<size_t>(j) * rp + r0);
    } else {
      const auto qp = hn::Load(di, qpos + r0);
      for (int j = 0; j < nks; ++j) {
        float* sj = st + static_cast<size_t>(j) * rp + r0;
        const auto masked = hn::RebindMask(df, hn::Gt(hn::Set(di, kpos[j]), qp));
        const VF x = hn::IfThenElse(masked, neg_inf, hn::Load(df, sj));
        hn::Store(x, df, sj);
        vmax = hn::Max(vmax, x);
      }
    }
    // Raw logits of the captured rows (normalized at the end).
    for (int i = 0; i < n; ++i) {
      if (float* cap = capture_rows[r0 + i]) {
        cap += capture_offset;
        for (int j = 0; j < capture_nk; ++j) cap[j] = st[static_cast<size_t>(j) * rp + r0 + i];
      }
    }
    const VF m_old = hn::Load(df, m + r0);
    const VF m_new = hn::Max(m_old, vmax);
    const auto none = hn::Eq(m_new, neg_inf);  // nothing visible yet
    any_live |= !hn::AllTrue(df, none);
    // exp(-inf) = 0 where a row sees its first keys; 1 where nothing changes.
    const VF a =
        hn::IfThenElse(hn::Eq(m_new, m_old), hn::Set(df, 1.0f), hn::Exp(df, hn::Sub(m_old, m_new)));
    hn::Store(a, df, alpha + r0);
    hn::Store(m_new, df, m + r0);
    const VF base = hn::IfThenZeroElse(none, m_new);  // avoids -inf - -inf
    VF sum = hn::Mul(hn::Load(df, l + r0), a);
    for (int j = 0; j < nks; ++j) {
      float* sj = st + static_cast<size_t>(j) * rp + r0;
      const VF p = hn::Exp(df, hn::Sub(hn::Load(df, sj), base));  // 0 where masked
      hn::Store(p, df, sj);
      sum = hn::Add(sum, p);
    }
    hn::Store(sum, df, l + r0);
  }
  return any_live;
}

// acc_r[c0, c0 + NV * Lanes) = alpha_r * acc_r + sum_j p[j * rp + r] * v_j for
// rows [r0, r0 + R) (acc stride dp) and keys j < nk of vb (stride dp). R and
// NV are compile-time so that the accumulators stay in registers.
template <int R, int NV>
HWY_INLINE void AccumulateBlockPV(const float* HWY_RESTRICT pt, int rp, int r0,
                                  const float* HWY_RESTRICT alpha, const float* HWY_RESTRICT vb,
                                  int nk, int dp, int c0, float* HWY_RESTRICT acc) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  VF a[R][NV];
  for (int r = 0; r < R; ++r) {
    const VF ar = hn::Set(df, alpha[r0 + r]);
    for (int v = 0; v < NV; ++v) {
      a[r][v] = hn::Mul(hn::Load(df, acc + static_cast<size_t>(r0 + r) * dp + c0 + v * n), ar);
    }
  }
  for (int j = 0; j < nk; ++j) {
    const float* vj = vb + static_cast<size_t>(j) * dp + c0;
    VF x[NV];
    for (int v = 0; v < NV; ++v) x[v] = hn::Load(df, vj + v * n);
    const float* p = pt + static_cast<size_t>(j) * rp + r0;
    for (int r = 0; r < R; ++r) {
      const VF pr = hn::Set(df, p[r]);
      for (int v = 0; v < NV; ++v) a[r][v] = hn::MulAdd(pr, x[v], a[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < NV; ++v) {
      hn::Store(a[r][v], df, acc + static_cast<size_t>(r0 + r) * dp + c0 + v * n);
    }
  }
}

// Rows [r0, r0 + R), the head dim in passes of up to 4 vectors.
template <int R>
HWY_INLINE void AccumulateBlockRows(const float* pt, int rp, int r0, const float* alpha,
                                    const float* vb, int nk, int dp, float* acc) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  int c0 = 0;
  for (; c0 + 4 * n <= dp; c0 += 4 * n) {
    AccumulateBlockPV<R, 4>(pt, rp, r0, alpha, vb, nk, dp, c0, acc);
  }
  switch ((dp - c0) / n) {
    case 3:
      return AccumulateBlockPV<R, 3>(pt, rp, r0, alpha, vb, nk, dp, c0, acc);
    case 2:
      return AccumulateBlockPV<R, 2>(pt, rp, r0, alpha, vb, nk, dp, c0, acc);
    case 1:
      return AccumulateBlockPV<R, 1>(pt, rp, r0, alpha, vb, nk, dp, c0, acc);
    default:
      return;
  }
}

// P.V for rows [0, rows).
HWY_INLINE void AccumulateBlock(const float* pt, int rp, int rows, const float* alpha,
                                const float* vb, int nk, int dp, float* acc) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) AccumulateBlockRows<4>(pt, rp, r, alpha, vb, nk, dp, acc);
  switch (rows - r) {
    case 3:
      return AccumulateBlockRows<3>(pt, rp, r, alpha, vb, nk, dp, acc);
    case 2:
      return AccumulateBlockRows<2>(pt, rp, r, alpha, vb, nk, dp, acc);
    case 1:
      return AccumulateBlockRows<1>(pt, rp, r, alpha, vb, nk, dp, acc);
    default:
      return;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv::kv
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
