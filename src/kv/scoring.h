// ARKV token and layer scoring (shared/ARKV.md, "Prefill" and "Decoding").
// Pure functions over plain views: the OQ score of a layer, the per-layer
// Original budgets, heavy-hitter scores, top-k selection and the decode-time
// tri-state split. Everything is computed in double whatever the input type.
// Depends on src/core, the public configuration and the standard library only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "arkv/kv_config.h"

namespace arkv::kv {

// Reference defaults (ARKV.md, "Parameters and the reference defaults"), as
// CacheConfig{} holds them.
inline constexpr double kDefaultTau1 = CacheConfig{}.tau1;  // entropy temperature
inline constexpr double kDefaultTau2 = CacheConfig{}.tau2;  // variance temperature
inline constexpr double kDefaultTau3 = CacheConfig{}.tau3;  // kurtosis temperature
inline constexpr double kDefaultGamma = CacheConfig{}.gamma;
inline constexpr double kDefaultKeepFraction = CacheConfig{}.keep_fraction;
inline constexpr size_t kDefaultPoolKernel = static_cast<size_t>(CacheConfig{}.pool_kernel);
// Inside the log of the entropy, so that A == 0 contributes 0 instead of NaN.
inline constexpr double kEntropyEpsilon = 1e-10;
// Floor of the 2nd central moment in the kurtosis denominator.
inline constexpr double kKurtosisM2Floor = 1e-8;

// A read-only view of attention probabilities A[h][i][j] for h < num_heads
// query heads, i < num_queries queries and j < num_keys keys. Element (h, i, j)
// is data[h * head_stride + i * query_stride + j]: keys are contiguous, the
// strides are in elements. Callers pass exactly the slice to score, e.g. for
// the prefill the past keys j < ObservationPastKeys(T, W) of the last
// ObservationWindow(T, W) queries. Distinct rows must not overlap.
template <typename T>
struct AttentionView {
  const T* data = nullptr;
  size_t num_heads = 0;
  size_t num_queries = 0;
  size_t num_keys = 0;
  size_t head_stride = 0;
  size_t query_stride = 0;
};

// w = min(T, W): the number of observation queries of a prompt of T tokens.
size_t ObservationWindow(size_t prompt_len, size_t window);
// T - w: the past keys the OQ and heavy-hitter scores look at. For T >= W this
// is T - W; for T < W it is 0 (the whole prompt is the window).
size_t ObservationPastKeys(size_t prompt_len, size_t window);

struct OqTemperatures {
  double tau1 = kDefaultTau1;
  double tau2 = kDefaultTau2;
  double tau3 = kDefaultTau3;
};

// The OQ score of one layer and its three factors.
struct OqScore {
  double entropy = 0;   // -sum_{h,i,j} A log(A + 1e-10)
  double variance = 0;  // sum_{h,j} unbiased Var_i A[h,:,j]
  double kurtosis = 0;  // sum_{h,j} m4 / max(m2, 1e-8)^2 (Pearson, population moments)
  double score = 0;     // entropy^(1/tau1) * variance^(1/tau2) * kurtosis^(1/tau3)
};

// OQ score of a layer from its observation attention over the past keys.
// Moments are taken over the queries i. m2 and m4 are population central
// moments (divided by w), as in the reference code; the variance term is the
// unbiased one (divided by w - 1). With a single query (w == 1) the unbiased
// variance is undefined (the reference gets NaN); here it is 0, so the layer
// scores 0. No past keys (num_keys == 0) or no heads gives all zeros. NaN in
// the input propagates to the score (ComputeOriginalBudgets copes with it).
// Throws arkv::Error on a malformed view or a temperature that is not a
// positive finite number.
template <typename T>
OqScore ComputeOqScore(const AttentionView<T>& past_attention, const OqTemperatures& taus = {});

// The OQ score of a layer from the scores of its KV heads (each computed over
// that head's query heads): the three factors summed, then combined as in
// ComputeOqScore (a summed entropy that rounding made slightly negative, as
// one-hot attention does, counts as 0, so such a layer scores 0).
OqScore SumOqScores(std::span<const OqScore> head_scores, const OqTemperatures& taus);

// ratio_l = oq_l / max_l' oq_l' over the finite scores; 1 for a layer whose
// score is not finite and for every layer when the largest finite score is 0.
std::vector<double> OqRatios(std::span<const double> oq_scores);

// original_budget = clip(round(ratio * (C - W)), 0, min(C - W, T - W)), round
// half to even, T - W floored at 0; without a prompt length (nothing scored
// yet) only the C - W bound applies. Requires C >= W and ratio in [0, 1].
size_t OriginalBudget(double ratio, size_t cache_size, size_t window,
                      std::optional<size_t> prompt_len);

// Budget of one layer, from ComputeOriginalBudgets.
struct LayerBudget {
  double ratio = 0;            // oq_l / max_l' oq_l', in [0, 1]
  double quant_ratio = 0;      // 1 - ratio
  size_t original_budget = 0;  // Original past tokens kept at prefill
};

// Per-layer Original budgets (ARKV.md and the reference code call them
// origin_budget) from the OQ scores of all layers:
//   ratio_l = oq_l / max oq, original_budget_l = clip(round(ratio_l * (C - W)), 0,
//   min(C - W, T - W)) (0 when T < W). round() is half to even, like Python's
// round() in the reference code. Degenerate scores get the conservative
// ratio 1 (all Original, no quantization): every layer when the largest
// finite score is 0 (the reference's own fallback), and any layer whose score
// is NaN or infinite (the maximum is taken over the finite scores).
// Throws arkv::Error when C < W or a score is negative.
std::vector<LayerBudget> ComputeOriginalBudgets(std::span<const double> oq_scores,
                                                size_t cache_size, size_t window,
                                                size_t prompt_len);

// 1-D average pooling with stride 1, zero padding of (kernel - 1) / 2 on each
// side, always divided by `kernel` (padding counted): out has in.size()
// elements. `kernel` must be odd and >= 1; in and out must not overlap.
void AveragePool1d(std::span<const double> in, size_t kernel, std::span<double> out);

// Prefill heavy-hitter scores. For each query head and past key
//   s[h, j] = mean_i A[h,i,j] + gamma * Var_i A[h,i,j]
// (unbiased variance, only when w > 1), then per KV head the mean over its
// G = num_heads / num_kv_heads query heads (h / G == kv), then AveragePool1d
// along j. (The reference pools each head before the group mean; both are
// linear, so the order changes only rounding.) `out` is [num_kv_heads][num_keys]
// row-major and must have exactly that many elements.
template <typename T>
void ComputePrefillHeavyHitter(const AttentionView<T>& past_attention, size_t num_kv_heads,
                               std::span<double> out, double gamma = kDefaultGamma,
                               size_t pool_kernel = kDefaultPoolKernel);

// ComputeOqScore(past_attention, taus) and ComputePrefillHeavyHitter of the
// same arguments in one pass: the same results, bit for bit, with each head's
// key moments computed once for both (a prompt batch under ARKV scores every
// layer's observation window with both).
template <typename T>
OqScore ComputeOqScoreAndPrefillHeavyHitter(const AttentionView<T>& past_attention,
                                            const OqTemperatures& taus, size_t num_kv_heads,
                                            std::span<double> out, double gamma = kDefaultGamma,
                                            size_t pool_kernel = kDefaultPoolKernel);

// SnapKV's score (Li et al. 2024, "SnapKV: LLM Knows What You are Looking for
// Before Generation"), the `snapkv` policy's score instead of the heavy-hitter
// one: per query head the SUM over the observation queries of their attention
// to each past key, AveragePool1d along j (SnapKV's avg_pool1d, zero padding
// counted), then per KV head the mean over its G query heads. No variance
// term. With a single query (decoding) it is the decode heavy-hitter score.
// `out` is [num_kv_heads][num_keys] row-major.
template <typename T>
void ComputeSnapKvScore(const AttentionView<T>& past_attention, size_t num_kv_heads,
                        std::span<double> out, size_t pool_kernel = kDefaultPoolKernel);

// Decode heavy-hitter scores from one query's attention: probs[h * head_stride
// + j] for h < num_heads and the first num_keys tokens in cache order (pass
// the past tokens only, the window excluded). Per KV head: mean over its query
// heads, then AveragePool1d. `out` is [num_kv_heads][num_keys] row-major.
template <typename T>
void ComputeDecodeHeavyHitter(const T* probs, size_t num_heads, size_t head_stride, size_t num_keys,
                              size_t num_kv_heads, std::span<double> out,
                              size_t pool_kernel = kDefaultPoolKernel);

// Indices of the k highest scores (ties go to the lower index; NaN ranks
// below every number), the best `split` of them first, in no particular
// order within [0, split) and [split, k): what a split into states needs,
// in linear time instead of a sort. Throws arkv::Error unless
// split <= k <= scores.size().
std::vector<size_t> TopKSplit(std::span<const double> scores, size_t k, size_t split);

// The per-token score a policy ranks past tokens by.
enum class TokenScore : uint8_t {
  kHeavyHitter,  // ARKV's mean + gamma * var (ComputePrefillHeavyHitter)
  kSnapKv,       // SnapKV's pooled sum (ComputeSnapKvScore)
};

enum class TokenState : uint8_t { kOriginal, kQuantized, kEvicted };

// Token counts of one decode-time compression of a layer holding `num_cached`
// tokens (ARKV.md, "Decoding", steps 2 and 4).
struct DecodeSplit {
  size_t past = 0;       // num_cached - W
  size_t keep = 0;       // floor(keep_fraction * past)
  size_t original = 0;   // o = clip(original_budget - W, 0, keep)
  size_t quantized = 0;  // keep - o
  size_t evicted = 0;    // past - keep
};

// Throws arkv::Error when num_cached < W or keep_fraction is outside [0, 1].
DecodeSplit ComputeDecodeSplit(size_t num_cached, size_t window, size_t original_budget,
                               double keep_fraction = kDefaultKeepFraction);

// States of one KV head's cached tokens after a decode-time compression.
// past_scores are the scores of the past tokens (cache order, e.g. from
// ComputeDecodeHeavyHitter); the `window` tokens after them are the recent
// window. Result: past_scores.size() + window states in cache order; the
// top-o past tokens Original, the next keep - o Quantized, the other past
// tokens Evicted, the window Original (ranking as TopKSplit).
std::vector<TokenState> SplitDecodeStates(std::span<const double> past_scores, size_t window,
                                          size_t original_budget,
                                          double keep_fraction = kDefaultKeepFraction);

}  // namespace arkv::kv
