#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/log_sum_exp.h"

namespace arkv {

double TokenNll(std::span<const float> logits, int32_t target) {
  if (target < 0 || static_cast<size_t>(target) >= logits.size()) {
    Fail("target token {} is out of range (vocabulary size {})", target, logits.size());
  }
  return LogSumExp(logits) - logits[target];
}

PerplexityResult ChunkedPerplexity(Session& session, std::span<const int32_t> tokens, int n_ctx,
                                   int max_chunks, int32_t bos_id,
                                   const std::function<void(int, double)>& on_chunk) {
  if (n_ctx < 4) Fail("perplexity context must be >= 4 tokens (got {})", n_ctx);
  const int available = static_cast<int>(tokens.size() / n_ctx);
  if (available == 0) {
    Fail("the text has {} tokens, fewer than one context of {}: use a smaller -c or a longer text",
         tokens.size(), n_ctx);
  }
  const int n_chunks = max_chunks > 0 ? std::min(max_chunks, available) : available;
  const size_t n_vocab = session.model().config().n_vocab;
  const int first = n_ctx / 2;
  PerplexityResult r;
  double nll_sum = 0.0, nll2_sum = 0.0;
  std::vector<int32_t> chunk(n_ctx);
  for (int k = 0; k < n_chunks; ++k) {
    std::copy_n(tokens.begin() + static_cast<size_t>(k) * n_ctx, n_ctx, chunk.begin());
    if (bos_id >= 0) chunk[0] = bos_id;
    session.Reset();
    const std::span<const float> logits = session.EvaluateAll(chunk);
    double chunk_sum = 0.0;
    for (int p = first; p < n_ctx - 1; ++p) {
      const double nll = TokenNll(logits.subspan(p * n_vocab, n_vocab), chunk[p + 1]);
      chunk_sum += nll;
      nll2_sum += nll * nll;
    }
    const int count = n_ctx - 1 - first;
    nll_sum += chunk_sum;
    r.n_scored += count;
    r.chunk_nll.push_back(chunk_sum / count);
    r.running.push_back(std::exp(nll_sum / r.n_scored));
    if (on_chunk) on_chunk(k, r.running.back());
  }
  r.n_chunks = n_chunks;
  const double mean = nll_sum / r.n_scored;
  r.ppl = std::exp(mean);
  const double var = nll2_sum / r.n_scored - mean * mean;
  r.ppl_stderr = r.n_scored > 1 ? r.ppl * std::sqrt(std::max(0.0, var) / (r.n_scored - 1)) : 0.0;
  session.Reset();
  return r;
}

}  // namespace arkv
