// KV policies: each decides the next state of every cached token of one layer
// and KV head at EndBatch; the cache carries the decision out. Policies are
// stateless beyond their validated parameters; per-layer numbers (capacity,
// Original budget) come in a LayerContext.
//
// Tokens are handed over in position order. The newest min(n, W) tokens are
// the window (always Original); the others are the "past", whose scores (when
// the policy asked for them) come from the latest Attend of the layer, over
// the last min(batch, W) queries of that batch: the heavy-hitter score of
// ARKV.md (for one query, the decode score), or SnapKV's score for `snapkv`.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "arkv/kv_cache.h"
#include "kv/budget.h"
#include "kv/scoring.h"

namespace arkv::kv {

struct LayerContext {
  BatchKind kind = BatchKind::kDecode;
  LayerLimits limits;  // from the budget planner
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
  // Whether Attend must capture attention and compute token scores.
  virtual bool NeedsScores() const = 0;
  // Which token score ranks the past (when NeedsScores()).
  virtual TokenScore Score() const { return TokenScore::kHeavyHitter; }
  // Whether the per-layer OQ scores (and Original budgets) matter.
  virtual bool UsesOqScores() const { return false; }
  // Whether the policy ever turns Original tokens Quantized.
  virtual bool Quantizes() const { return false; }
  // The share of a layer's past this policy keeps Original, given ARKV's
  // ratio_l of the layer (1 before the prompt is scored).
  virtual double OriginalShare(double oq_ratio) const { return 1.0; }
  // next[i]: the next state of token i (position order). Never turns a
  // Quantized token Original.
  virtual void Decide(const LayerContext& ctx, const HeadTokens& tokens,
                      std::vector<TokenState>& next) const = 0;
  // False when Decide leaves every state of a head of n_tokens as it is, so
  // the cache can skip that head (its snapshot sorts every token: at depth,
  // a cost per decode step that grows with the context). Default: only a
  // layer over its capacity changes.
  virtual bool MayChange(const LayerContext& ctx, size_t n_tokens) const;
};

std::unique_ptr<Policy> MakePolicy(const CacheConfig& config);

// Byte budgets: quantizes the lowest-scored Original past tokens until at most
// ctx.limits.original_cap remain (no-op without a cap). Scores as in
// HeadTokens; unscored heads quantize the oldest first.
void EnforceOriginalCap(const LayerContext& ctx, const HeadTokens& tokens,
                        std::vector<TokenState>& next);

}  // namespace arkv::kv
