#include "kv/observation.h"

#include <algorithm>

namespace arkv::kv {

Observation PrepareObservation(std::span<const HeadStores> heads, int group, int n_tokens,
                               int window) {
  Observation obs;
  obs.group = group;
  obs.window_queries = std::min(n_tokens, window);
  const int w = obs.window_queries;
  obs.probs.resize(heads.size());
  obs.captures.resize(heads.size());
  for (size_t h = 0; h < heads.size(); ++h) {
    const int n_keys = heads[h].size();
    obs.probs[h].assign(static_cast<size_t>(group) * w * n_keys, 0.0f);
    ProbCapture& cap = obs.captures[h];
    cap.probs = obs.probs[h].data();
    cap.capture_first = n_tokens - w;
    cap.capture_count = w;
    cap.n_keys = n_keys;
  }
  return obs;
}

LayerScores ScoreObservation(const Observation& obs, std::span<const HeadStores> heads,
                             const CacheConfig& config, TokenScore score, bool with_oq,
                             Parallel& threads) {
  const int hkv = static_cast<int>(heads.size());
  const int group = obs.group;
  const int w_obs = obs.window_queries;
  LayerScores scores;
  scores.past.resize(hkv);
  std::vector<OqScore> oq(hkv);
  const OqTemperatures taus{config.tau1, config.tau2, config.tau3};
  threads.ParallelFor(hkv, 1, [&](int64_t b, int64_t e) {
    for (int64_t h = b; h < e; ++h) {
      // The probabilities of the past tokens, from store order to cache order.
      const std::vector<int> order = heads[h].CacheOrder();
      const size_t n = order.size();
      const size_t past = n - std::min(n, static_cast<size_t>(config.window));
      std::vector<float> sorted(static_cast<size_t>(group) * w_obs * past);
      for (int row = 0; row < group * w_obs; ++row) {
        // Pointer arithmetic, not operator[]: with no past, `sorted` is empty.
        const float* src = obs.probs[h].data() + static_cast<size_t>(row) * n;
        float* dst = sorted.data() + static_cast<size_t>(row) * past;
        for (size_t j = 0; j < past; ++j) dst[j] = src[order[j]];
      }
      const AttentionView<float> view{
          sorted.data(), static_cast<size_t>(group),        static_cast<size_t>(w_obs),
          past,          static_cast<size_t>(w_obs) * past, past};
      scores.past[h].assign(past, 0.0);
      const size_t kernel = static_cast<size_t>(config.pool_kernel);
      if (past > 0 && score == TokenScore::kHeavyHitter) {
        // With the OQ score, one pass computes each head's key moments for both.
        if (with_oq) {
          oq[h] = ComputeOqScoreAndPrefillHeavyHitter(view, taus, 1, scores.past[h], config.gamma,
                                                      kernel);
        } else {
          ComputePrefillHeavyHitter(view, 1, scores.past[h], config.gamma, kernel);
        }
      } else {
        if (with_oq) oq[h] = ComputeOqScore(view, taus);
        if (past > 0) ComputeSnapKvScore(view, 1, scores.past[h], kernel);
      }
    }
  });
  if (with_oq) scores.oq = SumOqScores(oq, taus);
  return scores;
}

}  // namespace arkv::kv
