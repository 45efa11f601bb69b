// Decode-mode scoring of several KV policies in lockstep, on identical tokens.
//
// The rule (docs/EVAL.md): the token stream (BOS + the text) is cut into
// windows of n_ctx tokens, window k = tokens[k*n_ctx, (k+1)*n_ctx) with its
// first token replaced by BOS when the vocabulary has one (as llama.cpp).
// For every window and every session:
//   1. Reset, then Prefill(window[0, prefix)) in chunks of the session's
//      prefill size: the cache sees the prefix as a prompt and compresses it
//      to its budget at the end;
//   2. the logits of the last prefix token score window[prefix]; then for
//      t = prefix .. n_ctx-2, Decode(window[t]) goes through the policy's cache
//      (which may quantize or evict after each step) and its logits score
//      window[t+1].
// So n_ctx - prefix tokens per window are scored, each predicted from a cache
// that holds what the policy kept. With prefix = n_ctx/2 + 1 the scored
// tokens are exactly those of llama-perplexity's rule (the second half of the
// window minus its first token), and for the full cache the result equals
// the batched (chunked) perplexity up to float rounding.
//
// With a reference session (the full cache), each other session's next-token
// distribution is compared with the reference's at every scored position:
// KL(P_ref || P_policy) in nats, and top-1 agreement (same argmax).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "runtime/session.h"

namespace arkv::eval {

struct DecodeScoringOptions {
  int n_ctx = 512;
  int prefix = 0;       // <= 0: n_ctx / 2 + 1
  int max_windows = 0;  // <= 0: every full window of the text
  int32_t bos_id = -1;  // < 0: windows keep their first token
};

// Resolves prefix <= 0 to its default and validates; throws arkv::Error.
int ResolvePrefix(const DecodeScoringOptions& options);
// Number of windows the text gives (throws if not even one).
int CountWindows(size_t n_tokens, const DecodeScoringOptions& options);

struct PolicyScore {
  double ppl = 0.0;
  double ppl_stderr = 0.0;  // llama.cpp's formula on the per-token NLLs
  double mean_nll = 0.0;
  int64_t n_scored = 0;
  // Against the reference; empty (n == 0) when there is no reference.
  Summary kl;
  double top1_agreement = 0.0;  // share of scored positions with the same argmax
  // KV cache memory, sampled after the last token of each window.
  double mean_final_bytes = 0.0;
  int64_t max_final_bytes = 0;
  int64_t peak_bytes = 0;             // largest BytesHeld() seen, inside batches too
  // The pool pages behind them (CacheStats::pool_bytes, page-granular).
  double mean_final_pool_bytes = 0.0;
  int64_t max_final_pool_bytes = 0;
  double mean_original_tokens = 0.0;  // summed over layers and KV heads
  double mean_quantized_tokens = 0.0;
  int64_t evictions = 0;  // summed over windows
  int64_t quantizations = 0;
};

// progress(window_done, n_windows) after each window.
using ScoringProgress = std::function<void(int, int)>;

// Scores every session on the same windows. reference: index into sessions
// of the full-cache session that the KL and top-1 figures compare against,
// or -1 for none. Returns one PolicyScore per session, in order.
std::vector<PolicyScore> ScoreDecodeMode(std::span<Session* const> sessions, int reference,
                                         std::span<const int32_t> tokens,
                                         const DecodeScoringOptions& options,
                                         const ScoringProgress& progress = nullptr);

}  // namespace arkv::eval
