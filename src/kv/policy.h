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

// Byte budgets [ours]: a layer holds at most ctx.limits.original_cap Original
// past tokens (budget.h). When a batch takes a head over the cap, its
// lowest-scored Original past tokens are quantized down to OriginalCapMark:
// the cap after a prompt batch, as ARKV's prompt compression keeps exactly
// its budget; after a decode step, the cap less the window, the Original
// past that ARKV's decode compression leaves (ARKV.md Decoding 4: o =
// origin_budget - W), so that the next W decode steps leave the layer alone,
// as a decode compression keeps the layer under C for a while (the keep
// fraction) instead of evicting one token a step. No-op without a cap.
// Scores as in HeadTokens; unscored heads quantize the oldest first.
void EnforceOriginalCap(const LayerContext& ctx, const HeadTokens& tokens,
                        std::vector<TokenState>& next);

// The Original past tokens EnforceOriginalCap leaves when the cap binds (the
// layer must have a cap).
size_t OriginalCapMark(const LayerContext& ctx);

// Whether EnforceOriginalCap changes a head of `original_past` Original past
// tokens, and whether its choice then depends on the scores (it does not when
// every Original past token is quantized). The cache scores a decode step
// only when a policy or the cap needs it; a 1-token batch may be a prompt
// chunk, so `needs_scores` answers for either kind.
struct CapDemand {
  bool binds = false;
  bool needs_scores = false;
};
CapDemand OriginalCapDemand(const LayerLimits& limits, size_t original_past);

}  // namespace arkv::kv
