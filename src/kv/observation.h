// What a layer's Attend observes for its policy: the attention probabilities
// of the batch's last w = min(batch, W) queries over every cached token
// (captured by the attention kernel), and the scores EndBatch ranks tokens
// by: per KV head, the heavy-hitter score of each past token in cache order
// (the past is every token but the newest min(n, W)), and for prompt batches
// the layer's OQ score (ARKV.md Prefill 2 and 4; one query gives the decode
// score of Decoding 3).
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "arkv/kv_config.h"
#include "kv/attention.h"
#include "kv/head_store.h"
#include "kv/scoring.h"

namespace arkv {
class ThreadPool;
}

namespace arkv::kv {

// Capture buffers of one layer's Attend.
struct Observation {
  int group = 1;                          // query heads per KV head
  int window_queries = 0;                 // w
  std::vector<std::vector<float>> probs;  // per KV head: [group][w][keys in store order]
  std::vector<ProbCapture> captures;      // per KV head, into probs
};

// Buffers for the last min(n_tokens, window) queries of a batch over the
// current tokens of `heads` (the batch's own tokens already appended).
Observation PrepareObservation(std::span<const HeadStores> heads, int group, int n_tokens,
                               int window);

struct LayerScores {
  std::vector<std::vector<double>> past;  // per KV head, cache order
  std::optional<OqScore> oq;              // when asked for (SumOqScores over the KV heads)
};

// Scores from the filled capture buffers. with_oq: also the layer's OQ score.
LayerScores ScoreObservation(const Observation& observation, std::span<const HeadStores> heads,
                             const CacheConfig& config, bool with_oq, ThreadPool& threads);

}  // namespace arkv::kv
