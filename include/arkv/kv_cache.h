// ARKV KV cache: the engine-facing interface of the KV library (src/kv).
// This library depends on src/core only, so any engine can embed it.
//
// Contract with the engine (src/model): for each layer of each batch the
// engine calls Attend() once with the batch's RoPE-rotated q, k, v; the cache
// stores k and v and writes the attention output. After every layer of a
// batch has been processed the engine calls EndBatch(), where the policy may
// quantize or evict tokens. The cache never exceeds its budget after EndBatch.
// (Implementation: src/kv/kv_cache.cc, which names the rooms it orchestrates:
// the budget planner, the per-head stores, attention, scoring, the policies.)
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
//   single chunk this is exactly the one-shot method. A 1-token prompt batch
//   (a 1-token prompt, --prefill-chunk 1) scores OQ 0 (one query has no
//   spread), so with only such batches every ratio is 1 and every Original
//   budget min(C - W, T - W), the reference's fallback when all scores are 0
//   (tests/kv/edge_case_test.cc).
// - snapkv: SnapKV's own score (per query head the sum of the observation
//   window's attention, pooled, group mean; not ARKV's mean + gamma * var).
//   SnapKV compresses the prompt only (CacheConfig::snapkv_decode = kNone);
//   [ours] the default kEvict evicts a layer's lowest-scored past token when
//   decoding pushes it over C, so that the budget holds while generating
//   (tests/kv/baseline_test.cc, SnapKvKeepsTheTopOfItsOwnPooledSumScore).
// - window: StreamingLLM, the first `sinks` tokens and the last C - sinks.
// - quant: nothing is quantized until a layer exceeds C; at each compression
//   every kept past token is Quantized (ARKV.md baselines); tokens leaving the
//   window in between stay Original until the next compression.
// - Byte budgets [ours] bound the pool pages the cache holds (pages_held *
//   page_bytes, every partly used page counted whole), after every EndBatch:
//   every layer holds its window, and the bytes beyond the windows are shared
//   in proportion to the layers' OQ ratios (equally before scores exist);
//   each layer's token capacity C_l is the largest whose worst case in whole
//   pages fits its share (bytes the shares leave unused go first to tokens
//   that need no new page, then a page at a time to the layer furthest below
//   its share). arkv and quant cap the Original past tokens of a layer at its
//   Original budget (round(ratio_l * (C_l - W)), 0 for quant) by quantizing
//   the lowest-scored ones, so a layer holds at most (W + cap) Original and
//   C_l - W - cap Quantized tokens per KV head. (An even split measured worse
//   before positions and pages were counted: stories260K, 40 KiB of token
//   bytes, ppl 3.9932 vs 3.9715; not remeasured under page accounting.) A
//   prompt batch quantizes down to the cap; a decode step that crosses it
//   quantizes down to cap - W (at least 0), the Original past that ARKV's
//   decode compression leaves, so that the next W steps change nothing and
//   need no scores (amortized, as C is by the keep fraction).
//   Before the prompt's OQ scores exist, arkv assumes ratio 1 (all Original).
//   A budget that cannot hold W Original tokens in every layer is an error.
// - Quantized tokens are never promoted back to Original.
//
// Differences from the official ARKV code (ARKV.md's [ours] points; the
// reference's behaviour is in golden/arkv-ref/README.md section 6), each with
// the test that pins it; nothing else differs:
// - Quantized tokens are kept and attended until evicted (the official code
//   drops its whole Quantized store at the next decode step): the tri-state
//   method of the paper. tests/kv/arkv_ref_parity_test.cc compares whole
//   trajectories only up to the first compression that quantizes
//   (DecodeTrajectoryWhereTheReferenceAgrees); attention over both states:
//   tests/kv/attention_test.cc (MixedAttentionTest).
// - Cache order is position order (the official code keeps the past in
//   descending score order, head 0's order for every head), which changes
//   only the pooling neighbours at decode: scored in the reference's recorded
//   order, every decode decision is identical
//   (EveryDecodeCompressionInTheReferenceOrder, HeadStores::CacheOrder).
// - One fp8 scale per token and KV head, K and V separately (the official
//   code shares one per slot across heads): codecs.h, tests/kv/codecs_test.cc.
// - No dense dequantized copy: attention reads f16 and fp8 slots in place, and
//   the observation probabilities come from the attention kernel, not a second
//   matmul: PrefillScoresBudgetsAndHeavyHitters and
//   PrefillStatesThroughTheCache match the reference through the cache.
// - snapkv's decode eviction (kEvict, the default; kNone is SnapKV's own):
//   tests/kv/baseline_test.cc.
// Beyond the official code, which has neither: chunked prefill and byte
// budgets (above; tests/kv/policy_test.cc, budget_test.cc, bytes_test.cc).
// - Memory (ARKV.md "Memory accounting"): each token's position is stored in
//   the pages beside its K/V rows and scales, so BytesHeld() (positions,
//   scales, K, V) is what the tokens hold and the pool's pages are all the
//   cache's memory; Stats().pool_bytes = pages_held * page_bytes is that
//   page-granular total (BytesHeld() <= pool_bytes < BytesHeld() + two pages
//   per layer and KV head). A private pool's page is 16 tokens of the largest
//   slot (token_store.h), not 4 KiB, so that tiny models are not all slack;
//   a shared pool's page size is the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arkv/kv_config.h"
#include "arkv/kv_page_pool.h"
#include "arkv/parallel.h"

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
  int64_t original_bytes = 0;   // K/V + positions
  int64_t quantized_bytes = 0;  // codes + scales + positions
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
  // pages_held * page_bytes: the memory behind `bytes`, every partly used page
  // counted whole (at most one per store: two per layer and KV head). Byte
  // budgets bound this total.
  int64_t pool_bytes = 0;
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
                      Parallel& threads) = 0;

  // Called once after all layers of a batch.
  virtual void EndBatch(BatchKind kind) = 0;

  // Forgets every token (the pages return to the pool).
  virtual void Clear() = 0;

  // A new budget for a live cache, between batches (an engine sharing one
  // pool among many sequences re-sets each one's share as sequences come and
  // go). In the unit of the cache's budget; not for the full policy. The
  // limits are re-planned at once; a layer over its new limits is compressed
  // at once, as at the end of a prompt batch but without fresh scores [ours]
  // (the newest past tokens are kept, and stay Original first), so that on
  // return the cache holds at most the new budget. A larger budget compresses
  // nothing. Throws arkv::Error, leaving the cache as it was, when the budget
  // cannot hold the window.
  virtual void SetBudget(const Budget& budget) = 0;

  // Bytes of the tokens held (all layers): K/V data, scales and each token's
  // stored position. Stats().pool_bytes gives the pages behind them.
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
