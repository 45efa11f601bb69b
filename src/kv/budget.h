// The budget planner: from the cache's shape and configuration, the policy's
// view of each layer's OQ ratio and the prompt length, the per-layer limits
// the policy compresses to. A pure function of its inputs (no cache state),
// so that the arithmetic of budgets can be tested and changed on its own.
//
// Token budgets: every layer gets C. Byte budgets [ours]: every layer holds
// its window; the bytes beyond the windows are shared in proportion to the
// layers' Original shares (equally when they are all 0 or all equal), so that
// the layers the OQ score marks as sensitive get more tokens as well as more
// Original ones. A layer's capacity is the largest whose worst case (W +
// original_budget Original tokens, the rest Quantized) fits its share; what the
// shares leave unused goes, one token at a time, to the layers whose next
// token costs least. The total never exceeds the budget.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"

namespace arkv::kv {

// The limits of one layer (per KV head).
struct LayerLimits {
  // C_l: most cached tokens; nullopt: unlimited (the full policy).
  std::optional<int64_t> capacity;
  // ARKV's Original budget (origin_budget_l of ARKV.md Prefill 3): past tokens kept at
  // prefill, clip(round(share * (C_l - W)), 0, min(C_l - W, T - W)); the T - W
  // bound applies once the prompt is scored.
  int64_t original_budget = 0;
  // Byte budgets with a quantizing policy: most Original past tokens (the
  // lowest-scored others are Quantized). nullopt: no cap.
  std::optional<int64_t> original_cap;
};

struct PlanInput {
  CacheShape shape;
  CacheConfig config;
  // Policy::Quantizes(): whether Original past tokens may be traded for
  // Quantized ones (byte budgets then cap them at original_budget).
  bool quantizes = false;
  // Per layer: the share of the past the policy keeps Original
  // (Policy::OriginalShare of ARKV's ratio_l), in [0, 1].
  std::span<const double> original_shares;
  // T, the prompt tokens so far, once the prompt's OQ scores exist.
  std::optional<int64_t> scored_prompt_tokens;
};

// One layer's limits per layer of input.original_shares. Throws arkv::Error
// when a byte budget cannot hold the window in every layer.
std::vector<LayerLimits> PlanLayerLimits(const PlanInput& input);

// Bytes of one cached token of a layer (all KV heads) in each state.
struct TokenBytes {
  int64_t original = 0;
  int64_t quantized = 0;
};
TokenBytes LayerTokenBytes(const CacheShape& shape, const CacheConfig& config);

}  // namespace arkv::kv
