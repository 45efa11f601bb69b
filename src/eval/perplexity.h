// Perplexity with llama-perplexity's chunked scoring rule, so the numbers can
// be compared with llama.cpp's:
//  - chunk k is tokens[k*n_ctx, (k+1)*n_ctx) with its first token replaced by
//    BOS (when the vocabulary adds one), evaluated from an empty cache at
//    positions 0..n_ctx-1 in one batch;
//  - only the second half is scored: the logits at positions n_ctx/2 .. n_ctx-2
//    predict the tokens at n_ctx/2+1 .. n_ctx-1;
//  - NLL = logsumexp(logits) - logit[target] in double; PPL = exp(mean NLL).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/session.h"

namespace arkv {

struct PerplexityResult {
  double ppl = 0.0;
  double ppl_stderr = 0.0;  // llama.cpp's "±" value
  int n_chunks = 0;
  int64_t n_scored = 0;
  std::vector<double> running;    // running PPL after each chunk (llama.cpp's printed values)
  std::vector<double> chunk_nll;  // mean NLL of each chunk
};

// Negative log-likelihood of `target` under `logits` (double precision).
double TokenNll(std::span<const float> logits, int32_t target);

// bos_id < 0: chunks keep their first token. max_chunks <= 0: all full chunks.
// on_chunk(k, running_ppl) is called after each chunk (for progress output).
PerplexityResult ChunkedPerplexity(Session& session, std::span<const int32_t> tokens, int n_ctx,
                                   int max_chunks, int32_t bos_id,
                                   const std::function<void(int, double)>& on_chunk = nullptr);

}  // namespace arkv
