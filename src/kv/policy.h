// KV policies: each decides the next state of every cached token of one layer
// and KV head at EndBatch; the cache carries the decision out. Policies are
// stateless beyond their validated parameters; per-layer numbers (capacity,
// Original budget) come in a LayerContext.
//
// Tokens are handed over in position order. The newest min(n, W) tokens are
// the window (always Original); the others are the "past", whose scores (when
// the policy asked for them) come from the latest Attend of the layer: the
// heavy-hitter score of ARKV.md over the last min(batch, W) queries of that
// batch (for one query, the decode score).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "arkv/kv_cache.h"
#include "kv/scoring.h"

namespace arkv::kv {

struct LayerContext {
  BatchKind kind = BatchKind::kDecode;
  int64_t capacity = 0;       // C (per KV head), 0: unlimited
  int64_t origin_budget = 0;  // ARKV origin_budget_l (Original past tokens at prefill)
  int64_t original_cap = -1;  // byte budgets: most Original past tokens; -1: none
  int window = 32;
};

struct HeadTokens {
  std::span<const int32_t> positions;   // n, ascending
  std::span<const TokenState> states;   // n, kOriginal or kQuantized
  std::span<const double> past_scores;  // n - min(n, W) or empty (unscored)
};

class Policy {
 public:
  virtual ~Policy() = default;
  // Whether Attend must capture attention and compute heavy-hitter scores.
  virtual bool NeedsScores() const = 0;
  // Whether the per-layer OQ scores (and Original budgets) matter.
  virtual bool UsesOqScores() const { return false; }
  // The quantization ratio this policy gives a layer of ratio `oq_ratio`.
  virtual double OriginRatio(double oq_ratio) const { return 1.0; }
  // next[i]: the next state of token i (position order). Never turns a
  // Quantized token Original.
  virtual void Decide(const LayerContext& ctx, const HeadTokens& tokens,
                      std::vector<TokenState>& next) const = 0;
};

std::unique_ptr<Policy> MakePolicy(const CacheConfig& config);

// Byte budgets: quantizes the lowest-scored Original past tokens until at most
// ctx.original_cap remain (no-op when original_cap < 0). Scores as in
// HeadTokens; unscored heads quantize the oldest first.
void EnforceOriginalCap(const LayerContext& ctx, const HeadTokens& tokens,
                        std::vector<TokenState>& next);

}  // namespace arkv::kv
