#include "kv/budget.h"

#include <algorithm>

#include "core/error.h"
#include "kv/scoring.h"
#include "kv/token_store.h"

namespace arkv::kv {
namespace {

// Everything one layer's arithmetic needs.
struct LayerCosts {
  int64_t window = 0;
  TokenBytes token;
  bool quantizes = false;
  std::optional<int64_t> prompt_tokens;
};

int64_t OriginalBudgetAt(const LayerCosts& costs, double share, int64_t capacity) {
  std::optional<size_t> prompt;
  if (costs.prompt_tokens) prompt = static_cast<size_t>(*costs.prompt_tokens);
  return static_cast<int64_t>(OriginalBudget(share, static_cast<size_t>(capacity),
                                             static_cast<size_t>(costs.window), prompt));
}

// Worst-case bytes of a layer of capacity c: at most W + original_budget
// Original tokens when the policy quantizes, all Original otherwise.
int64_t LayerBytesBound(const LayerCosts& costs, double share, int64_t c) {
  const int64_t original = costs.quantizes ? costs.window + OriginalBudgetAt(costs, share, c) : c;
  return original * costs.token.original + (c - original) * costs.token.quantized;
}

// Byte budgets: capacities as described in budget.h.
std::vector<int64_t> ByteCapacities(const LayerCosts& costs, std::span<const double> shares,
                                    int64_t budget) {
  const int64_t w = costs.window;
  const int64_t n_layers = static_cast<int64_t>(shares.size());
  const int64_t window_bytes = w * costs.token.original;  // LayerBytesBound(w), every layer
  if (window_bytes * n_layers > budget) {
    Fail("KV budget of {} bytes cannot hold the window of {} tokens in {} layers ({} bytes)",
         budget, w, n_layers, window_bytes * n_layers);
  }
  double share_sum = 0.0;
  for (double s : shares) share_sum += s;
  const int64_t spare = budget - window_bytes * n_layers;
  std::vector<int64_t> capacity(shares.size());
  int64_t used = 0;
  for (size_t l = 0; l < shares.size(); ++l) {
    const double weight = share_sum > 0.0 ? shares[l] / share_sum : 1.0 / n_layers;
    const int64_t bytes = window_bytes + static_cast<int64_t>(weight * static_cast<double>(spare));
    int64_t lo = w;                                                            // fits
    int64_t hi = w + bytes / std::max<int64_t>(1, costs.token.quantized) + 1;  // does not fit
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      (LayerBytesBound(costs, shares[l], mid) <= bytes ? lo : hi) = mid;
    }
    capacity[l] = lo;
    used += LayerBytesBound(costs, shares[l], lo);
  }
  for (;;) {
    std::optional<size_t> cheapest;
    int64_t cheapest_cost = 0;
    for (size_t l = 0; l < shares.size(); ++l) {
      const int64_t cost = LayerBytesBound(costs, shares[l], capacity[l] + 1) -
                           LayerBytesBound(costs, shares[l], capacity[l]);
      if (used + cost <= budget && (!cheapest || cost < cheapest_cost)) {
        cheapest = l;
        cheapest_cost = cost;
      }
    }
    if (!cheapest) break;
    ++capacity[*cheapest];
    used += cheapest_cost;
  }
  return capacity;
}

}  // namespace

TokenBytes LayerTokenBytes(const CacheShape& shape, const CacheConfig& config) {
  const int64_t heads = shape.n_kv_heads;
  return {static_cast<int64_t>(SlotBytes(OriginalFormat(config.original), shape.head_dim)) * heads,
          static_cast<int64_t>(SlotBytes(QuantizedFormat(config.quant), shape.head_dim)) * heads};
}

std::vector<LayerLimits> PlanLayerLimits(const PlanInput& in) {
  std::vector<LayerLimits> limits(in.original_shares.size());
  const Budget& budget = in.config.budget;
  if (in.config.policy == PolicyKind::kFull || budget.unit == Budget::Unit::kUnlimited) {
    return limits;
  }
  const LayerCosts costs{in.config.window, LayerTokenBytes(in.shape, in.config), in.quantizes,
                         in.scored_prompt_tokens};
  std::vector<int64_t> capacity(limits.size(), budget.value);
  if (budget.unit == Budget::Unit::kBytes) {
    capacity = ByteCapacities(costs, in.original_shares, budget.value);
  }
  for (size_t l = 0; l < limits.size(); ++l) {
    limits[l].capacity = capacity[l];
    limits[l].original_budget = OriginalBudgetAt(costs, in.original_shares[l], capacity[l]);
    if (budget.unit == Budget::Unit::kBytes && in.quantizes) {
      limits[l].original_cap = limits[l].original_budget;
    }
  }
  return limits;
}

}  // namespace arkv::kv
