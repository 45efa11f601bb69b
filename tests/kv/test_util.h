// Helpers shared by the KV tests: random inputs and a double-precision
// reference attention written independently of the kernels under test.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "arkv/kv_cache.h"
#include "core/thread_pool.h"

namespace arkv::kv::testing {

inline std::vector<float> RandomVector(size_t n, std::mt19937& rng, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Runs one batch of n tokens at positions first, first + 1, ... through every
// layer of `cache` (shape `shape`, scale 1/sqrt(head_dim)), then ends it as
// `kind`; fill(l, pos, q, k, v) sets layer l's queries, keys and values.
template <class Fill>
void AttendBatch(SequenceCache& cache, const CacheShape& shape, int32_t first, int n,
                 BatchKind kind, ThreadPool& threads, Fill&& fill) {
  std::vector<int32_t> pos(n);
  for (int t = 0; t < n; ++t) pos[t] = first + t;
  std::vector<float> q, k, v;
  for (int l = 0; l < shape.n_layers; ++l) {
    fill(l, pos, q, k, v);
    std::vector<float> out(q.size());
    cache.Attend(l, q.data(), k.data(), v.data(), pos.data(), n,
                 1.0f / std::sqrt(static_cast<float>(shape.head_dim)), out.data(), threads);
  }
  cache.EndBatch(kind);
}

// AttendBatch with random queries and keys in [-2, 2], values in [-1, 1].
inline void AttendRandomBatch(SequenceCache& cache, const CacheShape& shape, int32_t first, int n,
                              BatchKind kind, std::mt19937& rng, ThreadPool& threads) {
  const size_t d = static_cast<size_t>(shape.head_dim);
  AttendBatch(cache, shape, first, n, kind, threads,
              [&](int, const std::vector<int32_t>&, std::vector<float>& q, std::vector<float>& k,
                  std::vector<float>& v) {
                q = RandomVector(static_cast<size_t>(n) * shape.n_heads * d, rng, -2, 2);
                k = RandomVector(static_cast<size_t>(n) * shape.n_kv_heads * d, rng, -2, 2);
                v = RandomVector(k.size(), rng);
              });
}

// One cached token of one KV head as the reference sees it.
struct RefToken {
  int32_t position;
  std::vector<double> k, v;
};

// out[g][c] and optional probs[g][j] for one query position over `tokens`, for
// the query heads q[g][c] of one KV head.
inline void ReferenceAttention(const std::vector<RefToken>& tokens, const float* q, int group,
                               int d, int32_t q_pos, double scale, std::vector<double>& out,
                               std::vector<double>* probs = nullptr) {
  out.assign(static_cast<size_t>(group) * d, 0.0);
  if (probs) probs->assign(static_cast<size_t>(group) * tokens.size(), 0.0);
  for (int g = 0; g < group; ++g) {
    std::vector<double> logits(tokens.size(), -INFINITY);
    double mx = -INFINITY;
    for (size_t j = 0; j < tokens.size(); ++j) {
      if (tokens[j].position > q_pos) continue;
      double s = 0;
      for (int c = 0; c < d; ++c) s += static_cast<double>(q[g * d + c]) * tokens[j].k[c];
      logits[j] = s * scale;
      mx = std::max(mx, logits[j]);
    }
    double sum = 0;
    for (double& x : logits) {
      x = std::isinf(x) ? 0.0 : std::exp(x - mx);
      sum += x;
    }
    for (size_t j = 0; j < tokens.size(); ++j) {
      const double p = logits[j] / sum;
      if (probs) (*probs)[g * tokens.size() + j] = p;
      for (int c = 0; c < d; ++c) out[g * d + c] += p * tokens[j].v[c];
    }
  }
}

}  // namespace arkv::kv::testing
