#include "kv/scoring.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <type_traits>

#include "core/error.h"
#include "kv/scoring_rows.h"

namespace arkv::kv {
namespace {

// Rejects views whose rows would overlap or whose data is missing. An empty
// view (a zero extent) is valid and may have null data.
template <typename T>
bool CheckView(const AttentionView<T>& view, const char* what) {
  if (view.num_heads == 0 || view.num_queries == 0 || view.num_keys == 0) {
    return false;
  }
  if (view.data == nullptr) {
    Fail("{}: attention data is null", what);
  }
  if (view.num_queries > 1 && view.query_stride < view.num_keys) {
    Fail("{}: query stride {} is smaller than the {} keys of a row", what, view.query_stride,
         view.num_keys);
  }
  const size_t head_extent = (view.num_queries - 1) * view.query_stride + view.num_keys;
  if (view.num_heads > 1 && view.head_stride < head_extent) {
    Fail("{}: head stride {} is smaller than one head's extent {}", what, view.head_stride,
         head_extent);
  }
  return true;
}

// Per-key moments over the queries of one head: mean[j], the sum of squared
// deviations s2[j] and (optionally) of 4th powers s4[j]. Two passes over data
// shifted by the first query's value, so that queries which agree give exactly
// zero deviations (a plain mean of three 0.1s is not exactly 0.1, and the
// fractional powers of the OQ score would blow that noise up to ~1e-15).
template <typename T>
void KeyMoments(const AttentionView<T>& view, size_t head, std::vector<double>& mean,
                std::vector<double>& s2, std::vector<double>* s4) {
  const T* head_data = view.data + head * view.head_stride;
  const size_t n = view.num_keys;
  std::fill(mean.begin(), mean.end(), 0.0);  // holds the shifted mean until the end
  std::fill(s2.begin(), s2.end(), 0.0);
  if (s4 != nullptr) {
    std::fill(s4->begin(), s4->end(), 0.0);
  }
  for (size_t i = 1; i < view.num_queries; ++i) {
    const T* row = head_data + i * view.query_stride;
    if constexpr (std::is_same_v<T, float>) {
      AddShiftedRow(row, head_data, n, mean.data());
    } else {
      for (size_t j = 0; j < n; ++j) {
        mean[j] += static_cast<double>(row[j]) - static_cast<double>(head_data[j]);
      }
    }
  }
  const double inv_w = 1.0 / static_cast<double>(view.num_queries);
  for (size_t j = 0; j < n; ++j) {
    mean[j] *= inv_w;
  }
  for (size_t i = 0; i < view.num_queries; ++i) {
    const T* row = head_data + i * view.query_stride;
    if constexpr (std::is_same_v<T, float>) {
      AddDeviationPowers(row, head_data, mean.data(), n, s2.data(),
                         s4 != nullptr ? s4->data() : nullptr);
    } else {
      for (size_t j = 0; j < n; ++j) {
        const double d =
            (static_cast<double>(row[j]) - static_cast<double>(head_data[j])) - mean[j];
        const double d2 = d * d;
        s2[j] += d2;
        if (s4 != nullptr) {
          (*s4)[j] += d2 * d2;
        }
      }
    }
  }
  for (size_t j = 0; j < n; ++j) {
    mean[j] += static_cast<double>(head_data[j]);
  }
}

void CheckTemperature(double tau, const char* name) {
  if (!std::isfinite(tau) || tau <= 0) {
    Fail("OQ temperature {} must be positive, got {}", name, tau);
  }
}

// Python's round(): to nearest, ties to even (the reference rounds budgets so).
double RoundHalfEven(double x) {
  const double lower = std::floor(x);
  const double frac = x - lower;
  if (frac > 0.5) {
    return lower + 1;
  }
  if (frac < 0.5) {
    return lower;
  }
  return std::fmod(lower, 2.0) == 0 ? lower : lower + 1;
}

void CheckGroups(size_t num_heads, size_t num_kv_heads, const char* what) {
  if (num_kv_heads == 0 || num_heads == 0 || num_heads % num_kv_heads != 0) {
    Fail("{}: {} query heads cannot be grouped into {} KV heads", what, num_heads, num_kv_heads);
  }
}

void CheckPoolKernel(size_t kernel) {
  if (kernel == 0 || kernel % 2 == 0) {
    Fail("pooling kernel must be odd and >= 1, got {}", kernel);
  }
}

// The OQ score's sums over heads: the entropy's p log(p + eps) (negated at
// the end), the unbiased variances and the kurtoses.
struct OqSums {
  double neg_entropy = 0;
  double variance = 0;
  double kurtosis = 0;
};

// Adds head h of view a to the sums, from the head's key moments s2, s4.
template <typename T>
void AddOqHead(const AttentionView<T>& a, size_t h, const std::vector<double>& s2,
               const std::vector<double>& s4, OqSums& sums) {
  const size_t n = a.num_keys;
  const double w = static_cast<double>(a.num_queries);
  for (size_t i = 0; i < a.num_queries; ++i) {
    const T* row = a.data + h * a.head_stride + i * a.query_stride;
    if constexpr (std::is_same_v<T, float>) {
      sums.neg_entropy += SumPLogP(row, n, kEntropyEpsilon);
    } else {
      for (size_t j = 0; j < n; ++j) {
        const double p = static_cast<double>(row[j]);
        sums.neg_entropy += p * std::log(p + kEntropyEpsilon);
      }
    }
  }
  for (size_t j = 0; j < n; ++j) {
    // Unbiased variance needs w >= 2; a single query has no spread: 0.
    if (a.num_queries > 1) {
      sums.variance += s2[j] / (w - 1);
    }
    const double m2 = std::max(s2[j] / w, kKurtosisM2Floor);
    sums.kurtosis += (s4[j] / w) / (m2 * m2);
  }
}

OqScore FinishOqScore(const OqSums& sums, const OqTemperatures& taus) {
  OqScore result;
  result.entropy = -sums.neg_entropy;
  result.variance = sums.variance;
  result.kurtosis = sums.kurtosis;
  // The epsilon makes a one-hot row's entropy about -1e-10; a negative base
  // would make the fractional power NaN, so the factor is taken at >= 0.
  const double entropy_base = std::max(result.entropy, 0.0);
  result.score = std::pow(entropy_base, 1.0 / taus.tau1) *
                 std::pow(result.variance, 1.0 / taus.tau2) *
                 std::pow(result.kurtosis, 1.0 / taus.tau3);
  return result;
}

void CheckTemperatures(const OqTemperatures& taus) {
  CheckTemperature(taus.tau1, "tau1");
  CheckTemperature(taus.tau2, "tau2");
  CheckTemperature(taus.tau3, "tau3");
}

// Shared by the prefill and decode scores: the decode score is the prefill
// formula with a single query (no variance term). With `oq`, each head's OQ
// terms are added to it from the same key moments (ComputeOqScore's).
template <typename T>
void HeavyHitter(const AttentionView<T>& view, size_t num_kv_heads, std::span<double> out,
                 double gamma, size_t pool_kernel, const char* what, OqSums* oq = nullptr) {
  CheckGroups(view.num_heads, num_kv_heads, what);
  CheckPoolKernel(pool_kernel);
  if (!std::isfinite(gamma)) {
    Fail("{}: gamma must be finite, got {}", what, gamma);
  }
  if (out.size() != num_kv_heads * view.num_keys) {
    Fail("{}: output has {} elements, expected {} KV heads x {} keys", what, out.size(),
         num_kv_heads, view.num_keys);
  }
  if (view.num_keys == 0) {
    return;
  }
  if (view.num_queries == 0) {
    Fail("{}: no queries to score {} keys with", what, view.num_keys);
  }
  CheckView(view, what);

  const size_t n = view.num_keys;
  const size_t group = view.num_heads / num_kv_heads;
  const bool with_variance = view.num_queries > 1;
  const double var_scale = with_variance ? gamma / static_cast<double>(view.num_queries - 1) : 0;
  std::vector<double> mean(n), s2(n), s4(oq != nullptr ? n : 0), group_sum(n);
  for (size_t kv = 0; kv < num_kv_heads; ++kv) {
    std::fill(group_sum.begin(), group_sum.end(), 0.0);
    for (size_t g = 0; g < group; ++g) {
      const size_t head = kv * group + g;
      KeyMoments(view, head, mean, s2, oq != nullptr ? &s4 : nullptr);
      if (oq != nullptr) AddOqHead(view, head, s2, s4, *oq);
      for (size_t j = 0; j < n; ++j) {
        group_sum[j] += mean[j] + var_scale * s2[j];
      }
    }
    for (double& v : group_sum) {
      v /= static_cast<double>(group);
    }
    AveragePool1d(group_sum, pool_kernel, out.subspan(kv * n, n));
  }
}

}  // namespace

size_t ObservationWindow(size_t prompt_len, size_t window) { return std::min(prompt_len, window); }

size_t ObservationPastKeys(size_t prompt_len, size_t window) {
  return prompt_len - ObservationWindow(prompt_len, window);
}

template <typename T>
OqScore ComputeOqScore(const AttentionView<T>& past_attention, const OqTemperatures& taus) {
  CheckTemperatures(taus);
  if (!CheckView(past_attention, "OQ score")) {
    return OqScore{};
  }
  const size_t n = past_attention.num_keys;
  std::vector<double> mean(n), s2(n), s4(n);
  OqSums sums;
  for (size_t h = 0; h < past_attention.num_heads; ++h) {
    KeyMoments(past_attention, h, mean, s2, &s4);
    AddOqHead(past_attention, h, s2, s4, sums);
  }
  return FinishOqScore(sums, taus);
}

template <typename T>
OqScore ComputeOqScoreAndPrefillHeavyHitter(const AttentionView<T>& past_attention,
                                            const OqTemperatures& taus, size_t num_kv_heads,
                                            std::span<double> out, double gamma,
                                            size_t pool_kernel) {
  CheckTemperatures(taus);
  OqSums sums;
  HeavyHitter(past_attention, num_kv_heads, out, gamma, pool_kernel, "prefill heavy-hitter score",
              &sums);
  if (past_attention.num_keys == 0 || past_attention.num_heads == 0) return OqScore{};
  return FinishOqScore(sums, taus);
}

OqScore SumOqScores(std::span<const OqScore> head_scores, const OqTemperatures& taus) {
  OqScore sum;
  for (const OqScore& x : head_scores) {
    sum.entropy += x.entropy;
    sum.variance += x.variance;
    sum.kurtosis += x.kurtosis;
  }
  // As in ComputeOqScore: one-hot rows make each head's entropy about -1e-10
  // (the reference, in float32, gets exactly 0); the factor is taken at >= 0
  // so that such a layer scores 0, not NaN.
  sum.score = std::pow(std::max(sum.entropy, 0.0), 1.0 / taus.tau1) *
              std::pow(sum.variance, 1.0 / taus.tau2) * std::pow(sum.kurtosis, 1.0 / taus.tau3);
  return sum;
}

std::vector<double> OqRatios(std::span<const double> oq_scores) {
  double max_finite = 0;
  for (size_t l = 0; l < oq_scores.size(); ++l) {
    const double s = oq_scores[l];
    if (s < 0) {
      Fail("OQ score of layer {} is negative ({})", l, s);
    }
    if (std::isfinite(s)) {
      max_finite = std::max(max_finite, s);
    }
  }
  std::vector<double> ratios(oq_scores.size());
  for (size_t l = 0; l < oq_scores.size(); ++l) {
    const double s = oq_scores[l];
    ratios[l] = (max_finite > 0 && std::isfinite(s)) ? s / max_finite : 1.0;
  }
  return ratios;
}

size_t OriginalBudget(double ratio, size_t cache_size, size_t window,
                      std::optional<size_t> prompt_len) {
  if (cache_size < window) {
    Fail("cache size {} is smaller than the window {}", cache_size, window);
  }
  const size_t available = cache_size - window;
  size_t cap = available;
  if (prompt_len) {
    cap = std::min(available, *prompt_len > window ? *prompt_len - window : 0);
  }
  const double rounded = RoundHalfEven(ratio * static_cast<double>(available));
  return std::min(static_cast<size_t>(std::max(rounded, 0.0)), cap);
}

std::vector<LayerBudget> ComputeOriginalBudgets(std::span<const double> oq_scores,
                                                size_t cache_size, size_t window,
                                                size_t prompt_len) {
  if (cache_size < window) {
    Fail("cache size {} is smaller than the window {}", cache_size, window);
  }
  const std::vector<double> ratios = OqRatios(oq_scores);
  std::vector<LayerBudget> budgets(oq_scores.size());
  for (size_t l = 0; l < oq_scores.size(); ++l) {
    LayerBudget& b = budgets[l];
    b.ratio = ratios[l];
    b.quant_ratio = 1.0 - b.ratio;
    b.original_budget = OriginalBudget(b.ratio, cache_size, window, prompt_len);
  }
  return budgets;
}

void AveragePool1d(std::span<const double> in, size_t kernel, std::span<double> out) {
  CheckPoolKernel(kernel);
  if (in.size() != out.size()) {
    Fail("pooling: output has {} elements, input {}", out.size(), in.size());
  }
  const size_t n = in.size();
  if (n == 0) {
    return;
  }
  const std::less<const double*> before;
  if (before(out.data(), in.data() + n) && before(in.data(), out.data() + n)) {
    Fail("pooling: input and output overlap");
  }
  const size_t half = kernel / 2;
  const double inv_kernel = 1.0 / static_cast<double>(kernel);
  for (size_t j = 0; j < n; ++j) {
    // Zero padding: out-of-range taps add nothing but still count in the divisor.
    const size_t first = j >= half ? j - half : 0;
    const size_t last = std::min(j + half, n - 1);
    double sum = 0;
    for (size_t t = first; t <= last; ++t) {
      sum += in[t];
    }
    out[j] = sum * inv_kernel;
  }
}

template <typename T>
void ComputePrefillHeavyHitter(const AttentionView<T>& past_attention, size_t num_kv_heads,
                               std::span<double> out, double gamma, size_t pool_kernel) {
  HeavyHitter(past_attention, num_kv_heads, out, gamma, pool_kernel, "prefill heavy-hitter score");
}

template <typename T>
void ComputeSnapKvScore(const AttentionView<T>& view, size_t num_kv_heads, std::span<double> out,
                        size_t pool_kernel) {
  const char* what = "SnapKV score";
  CheckGroups(view.num_heads, num_kv_heads, what);
  CheckPoolKernel(pool_kernel);
  if (out.size() != num_kv_heads * view.num_keys) {
    Fail("{}: output has {} elements, expected {} KV heads x {} keys", what, out.size(),
         num_kv_heads, view.num_keys);
  }
  if (view.num_keys == 0) return;
  if (view.num_queries == 0) Fail("{}: no queries to score {} keys with", what, view.num_keys);
  CheckView(view, what);
  const size_t n = view.num_keys;
  const size_t group = view.num_heads / num_kv_heads;
  std::vector<double> sum(n), pooled(n);
  for (size_t kv = 0; kv < num_kv_heads; ++kv) {
    std::span<double> row = out.subspan(kv * n, n);
    std::fill(row.begin(), row.end(), 0.0);
    for (size_t g = 0; g < group; ++g) {
      // SnapKV's order: sum over queries, pool per query head, then the group mean.
      const T* head = view.data + (kv * group + g) * view.head_stride;
      std::fill(sum.begin(), sum.end(), 0.0);
      for (size_t i = 0; i < view.num_queries; ++i) {
        const T* a = head + i * view.query_stride;
        for (size_t j = 0; j < n; ++j) sum[j] += static_cast<double>(a[j]);
      }
      AveragePool1d(sum, pool_kernel, pooled);
      for (size_t j = 0; j < n; ++j) row[j] += pooled[j];
    }
    for (double& x : row) x /= static_cast<double>(group);
  }
}

template <typename T>
void ComputeDecodeHeavyHitter(const T* probs, size_t num_heads, size_t head_stride, size_t num_keys,
                              size_t num_kv_heads, std::span<double> out, size_t pool_kernel) {
  const AttentionView<T> view{probs, num_heads, 1, num_keys, head_stride, num_keys};
  HeavyHitter(view, num_kv_heads, out, 0.0, pool_kernel, "decode heavy-hitter score");
}

namespace {

// Strict weak order on (is NaN, -score, index): the better token first.
struct Better {
  std::span<const double> scores;
  bool operator()(size_t a, size_t b) const {
    const double sa = scores[a];
    const double sb = scores[b];
    const bool nan_a = std::isnan(sa);
    const bool nan_b = std::isnan(sb);
    if (nan_a != nan_b) {
      return nan_b;
    }
    if (!nan_a && sa != sb) {
      return sa > sb;
    }
    return a < b;
  }
};

}  // namespace

std::vector<size_t> TopKSplit(std::span<const double> scores, size_t k, size_t split) {
  if (k > scores.size() || split > k) {
    Fail("top-k split: need split ({}) <= k ({}) <= the {} scores", split, k, scores.size());
  }
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // The order is total (ties go to the index), so the sets are those of a
  // sort; two selections instead of one.
  const auto kth = order.begin() + static_cast<ptrdiff_t>(k);
  if (kth != order.end()) std::nth_element(order.begin(), kth, order.end(), Better{scores});
  const auto split_at = order.begin() + static_cast<ptrdiff_t>(split);
  if (split_at != kth) std::nth_element(order.begin(), split_at, kth, Better{scores});
  order.resize(k);
  return order;
}

DecodeSplit ComputeDecodeSplit(size_t num_cached, size_t window, size_t original_budget,
                               double keep_fraction) {
  if (num_cached < window) {
    Fail("decode split: {} cached tokens are fewer than the window {}", num_cached, window);
  }
  if (!(keep_fraction >= 0 && keep_fraction <= 1)) {
    Fail("decode split: keep fraction must be in [0, 1], got {}", keep_fraction);
  }
  DecodeSplit split;
  split.past = num_cached - window;
  split.keep = static_cast<size_t>(std::floor(keep_fraction * static_cast<double>(split.past)));
  // The reference subtracts W from the (already past-only) budget; ARKV.md keeps that.
  split.original = original_budget > window ? std::min(original_budget - window, split.keep) : 0;
  split.quantized = split.keep - split.original;
  split.evicted = split.past - split.keep;
  return split;
}

std::vector<TokenState> SplitDecodeStates(std::span<const double> past_scores, size_t window,
                                          size_t original_budget, double keep_fraction) {
  const DecodeSplit split =
      ComputeDecodeSplit(past_scores.size() + window, window, original_budget, keep_fraction);
  std::vector<TokenState> states(split.past + window, TokenState::kEvicted);
  const std::vector<size_t> ranked = TopKSplit(past_scores, split.keep, split.original);
  for (size_t r = 0; r < ranked.size(); ++r) {
    states[ranked[r]] = r < split.original ? TokenState::kOriginal : TokenState::kQuantized;
  }
  std::fill(states.begin() + static_cast<ptrdiff_t>(split.past), states.end(),
            TokenState::kOriginal);
  return states;
}

template OqScore ComputeOqScore<float>(const AttentionView<float>&, const OqTemperatures&);
template OqScore ComputeOqScore<double>(const AttentionView<double>&, const OqTemperatures&);
template OqScore ComputeOqScoreAndPrefillHeavyHitter<float>(const AttentionView<float>&,
                                                            const OqTemperatures&, size_t,
                                                            std::span<double>, double, size_t);
template OqScore ComputeOqScoreAndPrefillHeavyHitter<double>(const AttentionView<double>&,
                                                             const OqTemperatures&, size_t,
                                                             std::span<double>, double, size_t);
template void ComputePrefillHeavyHitter<float>(const AttentionView<float>&, size_t,
                                               std::span<double>, double, size_t);
template void ComputePrefillHeavyHitter<double>(const AttentionView<double>&, size_t,
                                                std::span<double>, double, size_t);
template void ComputeSnapKvScore<float>(const AttentionView<float>&, size_t, std::span<double>,
                                        size_t);
template void ComputeSnapKvScore<double>(const AttentionView<double>&, size_t, std::span<double>,
                                         size_t);
template void ComputeDecodeHeavyHitter<float>(const float*, size_t, size_t, size_t, size_t,
                                              std::span<double>, size_t);
template void ComputeDecodeHeavyHitter<double>(const double*, size_t, size_t, size_t, size_t,
                                               std::span<double>, size_t);

}  // namespace arkv::kv
