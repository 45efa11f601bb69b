#include "eval/decode_scoring.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace arkv::eval {

int ResolvePrefix(const DecodeScoringOptions& o) {
  if (o.n_ctx < 4) {
    Fail("evaluation context must be >= 4 tokens (got {})", o.n_ctx);
  }
  const int prefix = o.prefix > 0 ? o.prefix : o.n_ctx / 2 + 1;
  if (prefix >= o.n_ctx) {
    Fail("prefix of {} tokens leaves nothing to score in a context of {}", prefix, o.n_ctx);
  }
  return prefix;
}

int CountWindows(size_t n_tokens, const DecodeScoringOptions& o) {
  const int available = static_cast<int>(n_tokens / static_cast<size_t>(o.n_ctx));
  if (available == 0) {
    Fail(
        "the text has {} tokens, fewer than one context of {}: use a smaller context or a longer "
        "text",
        n_tokens, o.n_ctx);
  }
  return o.max_windows > 0 ? std::min(o.max_windows, available) : available;
}

namespace {

// Running sums of one session.
struct Accumulator {
  double nll_sum = 0.0, nll2_sum = 0.0;
  int64_t n = 0, top1_same = 0;
  std::vector<double> kl;
  double final_bytes_sum = 0.0, original_sum = 0.0, quantized_sum = 0.0;
  int64_t max_final_bytes = 0, peak_bytes = 0, evictions = 0, quantizations = 0;
  double final_pool_bytes_sum = 0.0;
  int64_t max_final_pool_bytes = 0;
  std::vector<double> log_probs;
};

}  // namespace

std::vector<PolicyScore> ScoreDecodeMode(std::span<Session* const> sessions, int reference,
                                         std::span<const int32_t> tokens,
                                         const DecodeScoringOptions& options,
                                         const ScoringProgress& progress) {
  if (sessions.empty()) {
    Fail("decode scoring: no sessions");
  }
  if (reference >= static_cast<int>(sessions.size())) {
    Fail("decode scoring: reference index {} out of range", reference);
  }
  const int prefix = ResolvePrefix(options);
  const int n_windows = CountWindows(tokens.size(), options);
  const int n_ctx = options.n_ctx;
  const size_t n_vocab = sessions[0]->model().config().n_vocab;
  for (Session* s : sessions) {
    if (s->model().config().n_vocab != static_cast<int>(n_vocab)) {
      Fail("decode scoring: sessions of models with different vocabularies");
    }
  }
  const size_t n_sessions = sessions.size();
  std::vector<Accumulator> acc(n_sessions);
  std::vector<int32_t> window(n_ctx);

  // Scores the next token `target` from every session's current logits.
  auto score = [&](int32_t target) {
    if (reference >= 0) {
      // Reference first, so the others can compare against its log-probs.
      Accumulator& ref = acc[reference];
      const int32_t ref_top = ArgmaxIndex(ref.log_probs);
      for (size_t i = 0; i < n_sessions; ++i) {
        Accumulator& a = acc[i];
        a.kl.push_back(KlDivergence(ref.log_probs, a.log_probs));
        if (ArgmaxIndex(a.log_probs) == ref_top) {
          ++a.top1_same;
        }
      }
    }
    for (Accumulator& a : acc) {
      const double nll = -a.log_probs[target];
      a.nll_sum += nll;
      a.nll2_sum += nll * nll;
      ++a.n;
    }
  };

  for (int w = 0; w < n_windows; ++w) {
    std::copy_n(tokens.begin() + static_cast<size_t>(w) * n_ctx, n_ctx, window.begin());
    if (options.bos_id >= 0) {
      window[0] = options.bos_id;
    }
    for (size_t i = 0; i < n_sessions; ++i) {
      sessions[i]->Reset();
      const std::span<const float> logits =
          sessions[i]->Prefill(std::span<const int32_t>(window).first(prefix));
      LogSoftmax(logits.last(n_vocab), acc[i].log_probs);
    }
    score(window[prefix]);
    for (int t = prefix; t < n_ctx - 1; ++t) {
      for (size_t i = 0; i < n_sessions; ++i) {
        LogSoftmax(sessions[i]->Decode(window[t]), acc[i].log_probs);
      }
      score(window[t + 1]);
    }
    for (size_t i = 0; i < n_sessions; ++i) {
      const kv::CacheStats st = sessions[i]->cache().Stats();
      Accumulator& a = acc[i];
      a.final_bytes_sum += static_cast<double>(st.bytes);
      a.max_final_bytes = std::max(a.max_final_bytes, st.bytes);
      a.peak_bytes = std::max(a.peak_bytes, st.peak_bytes);
      a.final_pool_bytes_sum += static_cast<double>(st.pool_bytes);
      a.max_final_pool_bytes = std::max(a.max_final_pool_bytes, st.pool_bytes);
      a.original_sum += static_cast<double>(st.original_tokens);
      a.quantized_sum += static_cast<double>(st.quantized_tokens);
      a.evictions += st.evictions;
      a.quantizations += st.quantizations;
    }
    if (progress) {
      progress(w + 1, n_windows);
    }
  }

  std::vector<PolicyScore> out(n_sessions);
  for (size_t i = 0; i < n_sessions; ++i) {
    const Accumulator& a = acc[i];
    PolicyScore& r = out[i];
    r.n_scored = a.n;
    r.mean_nll = a.nll_sum / static_cast<double>(a.n);
    r.ppl = std::exp(r.mean_nll);
    const double var = a.nll2_sum / static_cast<double>(a.n) - r.mean_nll * r.mean_nll;
    r.ppl_stderr =
        a.n > 1 ? r.ppl * std::sqrt(std::max(0.0, var) / static_cast<double>(a.n - 1)) : 0.0;
    if (reference >= 0) {
      r.kl = Summarize(a.kl);
      r.top1_agreement = static_cast<double>(a.top1_same) / static_cast<double>(a.n);
    }
    r.mean_final_bytes = a.final_bytes_sum / n_windows;
    r.max_final_bytes = a.max_final_bytes;
    r.peak_bytes = a.peak_bytes;
    r.mean_final_pool_bytes = a.final_pool_bytes_sum / n_windows;
    r.max_final_pool_bytes = a.max_final_pool_bytes;
    r.mean_original_tokens = a.original_sum / n_windows;
    r.mean_quantized_tokens = a.quantized_sum / n_windows;
    r.evictions = a.evictions;
    r.quantizations = a.quantizations;
  }
  return out;
}

}  // namespace arkv::eval
