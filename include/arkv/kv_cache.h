// ARKV KV cache: the engine-facing interface of the KV library (src/kv).
// This library depends on src/core only, so any engine can embed it.
//
// Contract with the engine (src/model): for each layer of each batch the
// engine calls Attend() once with the batch's RoPE-rotated q, k, v; the cache
// stores k and v and writes the attention output. After every layer of a
// batch has been processed the engine calls EndBatch(), where the policy may
// quantize or evict tokens. The cache never exceeds its budget after EndBatch.
//
// Policy semantics (ARKV.md; [ours] marks choices beyond it):
// - Scores. Attend captures the probabilities of the batch's last
//   w = min(batch, W) queries over every cached token. The "past" is every
//   cached token but the newest min(n, W); its heavy-hitter scores (mean +
//   gamma * var over the w queries, group mean, average pooling in position
//   order) rank tokens at EndBatch. With one query this is the decode score.
// - Prompt (kPromptChunk / kPromptEnd): a layer over C keeps its best C - W
//   past tokens and the window (all Original for arkv/evict/snapkv; Quantized
//   past for quant). Decode (kDecode): a layer over C is compressed per
//   ARKV.md Decoding (keep = floor(0.75 * past), o = clip(original_budget - W,
//   0, keep)); evict keeps all `keep` Original, quant none.
// - Chunked prefill [ours]: the engine sends each chunk but the last as
//   kPromptChunk and the last as kPromptEnd; every prompt batch is compressed,
//   so memory peaks near budget + chunk. Each prompt batch's OQ score (from its
//   own observation window over the past at that time) is folded into a
//   running mean per layer; ratios and Original budgets are recomputed from
//   the means after every prompt batch, with T = prompt tokens so far. With a
//   single chunk this is exactly the one-shot method.
// - snapkv [ours]: during decoding a layer over C evicts its lowest-scored
//   past token, so that the budget holds while generating.
// - quant: nothing is quantized until a layer exceeds C; at each compression
//   every kept past token is Quantized (ARKV.md baselines); tokens leaving the
//   window in between stay Original until the next compression.
// - Byte budgets [ours]: every layer holds its window, and the bytes beyond
//   the windows are shared in proportion to the layers' OQ ratios (equally
//   before scores exist); each layer's token capacity C_l is the largest whose
//   worst case fits its share (bytes the shares leave unused go to the layers
//   whose next token is cheapest). arkv and quant cap the Original past tokens of a layer at its
//   Original budget (round(ratio_l * (C_l - W)), 0 for quant) by quantizing
//   the lowest-scored ones, so a layer holds at most (W + cap) Original and
//   C_l - W - cap Quantized tokens per KV head. (An even split measured worse:
//   on stories260K at 40 KiB, ppl 3.9932 vs 3.9715 with the ratio split.)
//   Before the prompt's OQ scores exist, arkv assumes ratio 1 (all Original).
//   A budget that cannot hold W Original tokens in every layer is an error.
// - Quantized tokens are never promoted back to Original.
// - BytesHeld() counts K/V data and scales (ARKV.md "Memory accounting");
//   the pool pages behind them hold at most one partly used page per store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arkv/kv_config.h"
#include "arkv/kv_page_pool.h"

namespace arkv {
class ThreadPool;
}

namespace arkv::kv {

struct CacheShape {
  int n_layers = 0;
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // n_heads % n_kv_heads == 0 (GQA)
  int head_dim = 0;
};

// What kind of batch just finished, so the policy knows when to compress.
enum class BatchKind {
  kPromptChunk,  // a chunk of the prompt; more prompt follows
  kPromptEnd,    // the last (or only) chunk of the prompt
  kDecode,       // one generated token
};

// Per-layer statistics (all KV heads of the layer summed).
struct LayerStats {
  int64_t original_tokens = 0;
  int64_t quantized_tokens = 0;
  int64_t original_bytes = 0;
  int64_t quantized_bytes = 0;  // codes + scales
  int64_t capacity_tokens = 0;  // current per-KV-head token capacity (0: unlimited)
  int64_t evictions = 0;        // tokens evicted so far (summed over KV heads)
  int64_t quantizations = 0;    // tokens quantized so far (summed over KV heads)
  double oq_ratio = 1;          // ratio_l of ARKV.md (1 until scored)
  double quant_ratio = 0;       // 1 - ratio_l
};

struct CacheStats {
  std::vector<LayerStats> layers;
  int64_t original_tokens = 0;
  int64_t quantized_tokens = 0;
  int64_t bytes = 0;       // == BytesHeld()
  int64_t peak_bytes = 0;  // largest BytesHeld() seen, also inside batches
  int64_t evictions = 0;
  int64_t quantizations = 0;
  int64_t pages_held = 0;  // pool pages held by this cache
  int64_t page_bytes = 0;
};

// One cached token of one layer and KV head (for inspection and tests).
struct CachedToken {
  int32_t position = 0;
  bool quantized = false;
};

class SequenceCache {
 public:
  virtual ~SequenceCache() = default;

  // q: [n_tokens][n_heads][head_dim], k and v: [n_tokens][n_kv_heads][head_dim],
  // positions: [n_tokens], out: [n_tokens][n_heads][head_dim]. Query t attends
  // to every cached token of `layer` with position <= positions[t] (including
  // the tokens of this batch), scaled by `scale` (usually 1/sqrt(head_dim)).
  virtual void Attend(int layer, const float* q, const float* k, const float* v,
                      const int32_t* positions, int n_tokens, float scale, float* out,
                      ThreadPool& pool) = 0;

  // Called once after all layers of a batch.
  virtual void EndBatch(BatchKind kind) = 0;

  // Forgets every token (the pages return to the pool).
  virtual void Clear() = 0;

  // Bytes of K/V data and scales currently held (all layers).
  virtual size_t BytesHeld() const = 0;

  // Token counts and bytes per state and layer, at any time.
  virtual CacheStats Stats() const = 0;

  // The tokens held for one layer and KV head, in position order.
  virtual std::vector<CachedToken> Tokens(int layer, int kv_head) const = 0;
};

// A per-layer table for --kv-stats.
std::string FormatStats(const CacheStats& stats);

// The cache for one sequence. pool == nullptr: a private pool owned by the
// cache; otherwise the pool must outlive the cache. Throws arkv::Error on a bad
// shape or configuration (unknown values, a budget that cannot hold the window).
std::unique_ptr<SequenceCache> CreateSequenceCache(const CacheShape& shape,
                                                   const CacheConfig& config,
                                                   PagePool* pool = nullptr);

}  // namespace arkv::kv
