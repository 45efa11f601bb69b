#include "kv/budget.h"

#include <algorithm>
#include <cstdint>

#include "arkv/kv_memory.h"
#include "core/error.h"
#include "kv/scoring.h"
#include "kv/token_store.h"

namespace arkv::kv {
namespace {

// Everything one layer's arithmetic needs.
struct LayerCosts {
  int64_t window = 0;
  int64_t heads = 0;
  int64_t page_bytes = 0;
  PageCapacity per_page;
  bool quantizes = false;
  std::optional<int64_t> prompt_tokens;
};

int64_t OriginalBudgetAt(const LayerCosts& costs, double share, int64_t capacity) {
  std::optional<size_t> prompt;
  if (costs.prompt_tokens) prompt = static_cast<size_t>(*costs.prompt_tokens);
  return static_cast<int64_t>(OriginalBudget(share, static_cast<size_t>(capacity),
                                             static_cast<size_t>(costs.window), prompt));
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Worst-case bytes of a layer of capacity c (see budget.h): the most pages
// of x Original and c - x Quantized tokens per KV head, for x from min(c, W)
// to W + original_budget (c when the policy never quantizes). Fewer tokens
// never take more pages. Pages(x) = ceil(x / pO) + ceil((c - x) / pQ) only
// rises where x starts a new Original page (x = k pO + 1) and falls or stays
// in between, so its maximum is at the lowest x or at one of those steps.
int64_t LayerBytesBound(const LayerCosts& costs, double share, int64_t c) {
  const int64_t po = costs.per_page.original;
  const int64_t pq = costs.per_page.quantized;
  int64_t pages = CeilDiv(c, po);
  if (costs.quantizes) {
    const int64_t lo = std::min(c, costs.window);
    const int64_t hi = std::min(c, costs.window + OriginalBudgetAt(costs, share, c));
    auto at = [&](int64_t x) { return CeilDiv(x, po) + CeilDiv(c - x, pq); };
    pages = at(lo);
    for (int64_t x = (lo / po) * po + 1; x <= hi; x += po) {
      if (x > lo) pages = std::max(pages, at(x));
    }
  }
  return pages * costs.page_bytes * costs.heads;
}

// Byte budgets: capacities as described in budget.h.
std::vector<int64_t> ByteCapacities(const LayerCosts& costs, std::span<const double> shares,
                                    int64_t budget) {
  const int64_t w = costs.window;
  const int64_t n_layers = static_cast<int64_t>(shares.size());
  const int64_t window_bytes = LayerBytesBound(costs, 1.0, w);  // the same in every layer
  if (window_bytes * n_layers > budget) {
    Fail(
        "KV budget of {} bytes cannot hold the window of {} tokens in {} layers ({} bytes in "
        "pages of {} bytes)",
        budget, w, n_layers, window_bytes * n_layers, costs.page_bytes);
  }
  double share_sum = 0.0;
  for (double s : shares) share_sum += s;
  const int64_t spare = budget - window_bytes * n_layers;
  // Every token takes at least a page's share of its store.
  const int64_t min_token =
      costs.heads * costs.page_bytes / std::max(costs.per_page.original, costs.per_page.quantized);
  std::vector<int64_t> capacity(shares.size());
  std::vector<int64_t> share_bytes(shares.size());
  int64_t used = 0;
  for (size_t l = 0; l < shares.size(); ++l) {
    const double weight = share_sum > 0.0 ? shares[l] / share_sum : 1.0 / n_layers;
    const int64_t bytes = window_bytes + static_cast<int64_t>(weight * static_cast<double>(spare));
    share_bytes[l] = bytes;
    int64_t lo = w;                                                // fits
    int64_t hi = w + bytes / std::max<int64_t>(1, min_token) + 1;  // does not fit
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      (LayerBytesBound(costs, shares[l], mid) <= bytes ? lo : hi) = mid;
    }
    capacity[l] = lo;
    used += LayerBytesBound(costs, shares[l], lo);
  }
  // What the shares leave unused (whole pages do not divide them exactly):
  // first every token that needs no new page, then a page at a time to the
  // layer furthest below its share (ties to the lower layer).
  for (;;) {
    std::optional<size_t> best;
    int64_t best_key = 0;
    for (size_t l = 0; l < shares.size(); ++l) {
      const int64_t now = LayerBytesBound(costs, shares[l], capacity[l]);
      const int64_t cost = LayerBytesBound(costs, shares[l], capacity[l] + 1) - now;
      if (used + cost > budget) continue;
      const int64_t key = cost == 0 ? INT64_MAX : share_bytes[l] - now;
      if (!best || key > best_key) {
        best = l;
        best_key = key;
      }
    }
    if (!best) break;
    used += LayerBytesBound(costs, shares[*best], capacity[*best] + 1) -
            LayerBytesBound(costs, shares[*best], capacity[*best]);
    ++capacity[*best];
  }
  return capacity;
}

}  // namespace

int64_t MinByteBudget(const CacheShape& shape, const CacheConfig& config, size_t page_bytes) {
  LayerCosts costs;
  costs.window = config.window;
  costs.heads = shape.n_kv_heads;
  costs.page_bytes = static_cast<int64_t>(page_bytes);
  costs.per_page = TokensPerPage(shape, config, page_bytes);
  if (costs.per_page.original < 1 || costs.per_page.quantized < 1) {
    Fail("KV byte budget: a page of {} bytes cannot hold one token", page_bytes);
  }
  // The window's bound is the same whatever the policy and shares (ByteCapacities).
  return LayerBytesBound(costs, 1.0, costs.window) * shape.n_layers;
}

PageCapacity TokensPerPage(const CacheShape& shape, const CacheConfig& config, size_t page_bytes) {
  const size_t original = TokenStride(OriginalFormat(config.original), shape.head_dim);
  const size_t quantized = TokenStride(QuantizedFormat(config.quant), shape.head_dim);
  return {static_cast<int64_t>(page_bytes / original),
          static_cast<int64_t>(page_bytes / quantized)};
}

std::vector<LayerLimits> PlanLayerLimits(const PlanInput& in) {
  std::vector<LayerLimits> limits(in.original_shares.size());
  const Budget& budget = in.config.budget;
  if (in.config.policy == PolicyKind::kFull || budget.unit == Budget::Unit::kUnlimited) {
    return limits;
  }
  LayerCosts costs;
  costs.window = in.config.window;
  costs.heads = in.shape.n_kv_heads;
  costs.page_bytes = static_cast<int64_t>(in.page_bytes);
  costs.per_page = TokensPerPage(in.shape, in.config, in.page_bytes);
  costs.quantizes = in.quantizes;
  costs.prompt_tokens = in.scored_prompt_tokens;
  std::vector<int64_t> capacity(limits.size(), budget.value);
  if (budget.unit == Budget::Unit::kBytes) {
    if (costs.per_page.original < 1 || costs.per_page.quantized < 1) {
      Fail("KV byte budget: a page of {} bytes cannot hold one token", in.page_bytes);
    }
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
