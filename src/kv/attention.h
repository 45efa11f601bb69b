// Attention of a block of queries over the tokens of one KV head, read in place
// from any number of slot spans (Original and Quantized stores) with fused
// dequantization: each tile of keys is decoded into a small scratch buffer,
// scored against every query row of the KV head's group, and folded into an
// online softmax with f32 accumulation. No dense copy of the cache is made.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "kv/token_store.h"

namespace arkv {
class ThreadPool;
}

namespace arkv::kv {

// Query rows are (t, g) for t < n_queries and g < group: the query heads of
// one KV head for n_queries tokens.
struct QueryBlock {
  const float* q = nullptr;  // row (t, g) at q + t * q_token_stride + g * head_dim
  size_t q_token_stride = 0;
  const int32_t* positions = nullptr;  // [n_queries]; keys with position > it are masked
  int n_queries = 0;
  int group = 1;
  int head_dim = 0;
  float scale = 1.0f;
  float* out = nullptr;  // row (t, g) at out + t * out_token_stride + g * head_dim
  size_t out_token_stride = 0;
  // Optional, for splitting the keys among tasks: per row r = t * group + g,
  // the running max of the logits and the softmax denominator relative to it
  // (out is normalized either way; see MergeSplits).
  float* row_max = nullptr;
  float* row_sum = nullptr;
};

// Optional capture of attention probabilities. Query t of the block is query
// first_query + t of the batch; captured batch queries are [capture_first,
// capture_first + capture_count). Probability of (batch query u, group head g,
// key k) goes to probs[(g * capture_count + u - capture_first) * n_keys + k],
// where k counts the keys of all spans in order (span 0's slots first).
struct ProbCapture {
  float* probs = nullptr;
  int first_query = 0;
  int capture_first = 0;
  int capture_count = 0;
  int n_keys = 0;
};

// spans[0..n_spans). capture may be null.
void AttendKvHead(const SlotSpan* spans, int n_spans, const QueryBlock& block,
                  const ProbCapture* capture);

// The stores of one KV head as attention reads them: Original, then Quantized.
using HeadSpans = std::array<SlotSpan, 2>;

// A batch's queries for one layer: q and out are [n_tokens][n_heads][head_dim].
struct LayerQueries {
  const float* q = nullptr;
  const int32_t* positions = nullptr;  // [n_tokens]
  int n_tokens = 0;
  int n_heads = 0;
  int head_dim = 0;
  float scale = 1.0f;
  float* out = nullptr;
};

// The batch over every KV head of a layer (heads[h] serves query heads
// h * G .. h * G + G - 1). captures: one per KV head (first_query is set per
// block of queries), or empty. Tasks are (KV head, block of queries); one
// query without capture and with fewer KV heads than threads splits each
// head's keys at page boundaries among tasks and merges them (MergeSplits).
void AttendLayer(std::span<const HeadSpans> heads, const LayerQueries& queries,
                 std::span<const ProbCapture> captures, ThreadPool& threads);

// Tokens [begin, end) of a span; begin must be a multiple of tokens_per_page.
SlotSpan SubSpan(const SlotSpan& span, int begin, int end);

// Combines the normalized outputs of n_splits attentions of the same `rows`
// query rows over disjoint key sets: outs[s] is [rows][d], maxes[s] and sums[s]
// are [rows]. Writes row r to out + (r / group) * out_token_stride + (r % group) * d.
void MergeSplits(int n_splits, const float* const* outs, const float* const* maxes,
                 const float* const* sums, int rows, int group, int d, float* out,
                 size_t out_token_stride);

}  // namespace arkv::kv
