// `arkv eval`: several KV policies and budgets compared on identical inputs in
// one run. Every (policy, budget) pair gets its own session over the same
// model and thread pool; the tasks feed them the same tokens:
//   ppl, kld   decode-mode scoring in lockstep (eval/decode_scoring.h), with
//              the full cache as the KL/top-1 reference; `chunked` rule:
//              llama-perplexity's batched rule (eval/perplexity.h) per policy;
//   retrieval  passkey / needle / multikey prompts (eval/retrieval.h), greedy
//              answers scored by exact match;
//   agree      greedy continuations of text prompts under each policy against
//              the full cache's: matching prefix length and exact-match rate.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "arkv/kv_config.h"
#include "eval/decode_scoring.h"
#include "eval/perplexity.h"
#include "eval/retrieval.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace arkv::eval {

enum class PplRule { kDecode, kChunked, kBoth };
PplRule ParsePplRule(std::string_view name);
std::string_view PplRuleName(PplRule rule);

struct EvalOptions {
  std::vector<std::string> tasks = {"ppl", "kld"};  // ppl, kld, retrieval, agree
  std::vector<std::string> policies = {"full", "window", "snapkv", "evict", "quant", "arkv"};
  std::vector<std::string> budgets = {"128"};  // tokens ("128") or bytes ("48KiB")
  // Parameters shared by every policy (window, sinks, taus, gamma, keep, codecs).
  kv::CacheConfig base;
  int prefill_chunk = 512;
  uint64_t seed = 0;
  // ppl / kld
  int n_ctx = 512;
  int prefix = 0;   // <= 0: n_ctx / 2 + 1
  int windows = 8;  // <= 0: every window of the text
  PplRule rule = PplRule::kDecode;
  // retrieval
  std::vector<std::string> retrieval_tasks = {"passkey", "needle", "multikey"};
  int retrieval_ctx = 512;
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};
  int retrieval_samples = 2;  // prompts per task and depth
  int n_keys = 4;
  // agree
  int agree_prompts = 4;
  int agree_tokens = 64;
  int agree_prompt_tokens = 0;  // <= 0: n_ctx - agree_tokens

  bool HasTask(std::string_view task) const;
  // Throws arkv::Error naming the first bad value.
  void Validate() const;
};

// One evaluated configuration.
struct EvalConfig {
  std::string label;   // "full", "arkv@128", "quant@48KiB"
  std::string budget;  // as given; empty for full
  kv::CacheConfig cache;
};
// The (policy, budget) pairs of the options: `full` once, every other policy
// once per budget, in the order given. `full` is added first when kld or
// agree needs it as the reference. Validates every configuration.
std::vector<EvalConfig> ExpandConfigs(const EvalOptions& options);
// The same expansion for any list: `full` first when force_full or listed.
std::vector<EvalConfig> ExpandPolicyBudgets(const std::vector<std::string>& policies,
                                            const std::vector<std::string>& budgets,
                                            const kv::CacheConfig& base, bool force_full);

struct RetrievalCell {
  std::string task;
  double depth = 0.0;
  int n = 0;
  int correct = 0;
  double mean_achieved_depth = 0.0;
  double mean_kv_bytes = 0.0;        // held after each answer
  std::vector<std::string> outputs;  // generated text of each sample
};

struct AgreementScore {
  int n_prompts = 0;
  int gen_tokens = 0;
  int prompt_tokens = 0;
  double mean_prefix = 0.0;    // tokens equal to full's before the first difference
  double exact_rate = 0.0;     // share of prompts whose whole generation equals full's
  double mean_kv_bytes = 0.0;  // held after each generation
  std::vector<int> prefixes;   // per prompt
};

struct PolicyResult {
  EvalConfig config;
  std::optional<PolicyScore> decode;        // ppl / kld
  std::optional<PerplexityResult> chunked;  // --rule chunked|both
  std::vector<RetrievalCell> retrieval;
  std::optional<AgreementScore> agree;
  double RetrievalAccuracy() const;  // over every cell; NaN when none
  // Mean KV bytes held at the end of the first task that measured them
  // (ppl/kld, then agree, then retrieval); NaN when none did.
  double MeanKvBytes() const;
};

struct EvalReport {
  EvalOptions options;
  int reference = -1;  // index of the full cache in results, or -1
  int n_text_tokens = 0;
  int n_threads = 0;
  std::vector<PolicyResult> results;
  double seconds = 0.0;
};

// Progress lines for stderr ("ppl/kld window 3/8").
using EvalProgress = std::function<void(const std::string&)>;

// text_tokens: the tokenized text (BOS first when the vocabulary adds one);
// needed by ppl, kld and agree. haystack: sentences for the needle tasks
// (empty: the built-in filler).
EvalReport RunEval(const Model& model, const Tokenizer& tokenizer,
                   const std::vector<int32_t>& text_tokens,
                   const std::vector<std::string>& haystack, const EvalOptions& options,
                   ThreadPool& pool, const EvalProgress& progress = nullptr);

}  // namespace arkv::eval
