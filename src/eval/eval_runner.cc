#include "eval/eval_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include "core/error.h"
#include "core/strings.h"
#include "runtime/session.h"

namespace arkv::eval {

namespace {
constexpr EnumName<PplRule> kPplRuleNames[] = {
    {"decode", PplRule::kDecode}, {"chunked", PplRule::kChunked}, {"both", PplRule::kBoth}};
}  // namespace

PplRule ParsePplRule(std::string_view name) {
  if (const auto rule = ParseEnum<PplRule>(kPplRuleNames, name)) return *rule;
  Fail("unknown perplexity rule '{}' (expected {})", name, NameList<PplRule>(kPplRuleNames));
}

std::string_view PplRuleName(PplRule rule) { return NameOf<PplRule>(kPplRuleNames, rule); }

bool EvalOptions::HasTask(std::string_view task) const {
  return std::find(tasks.begin(), tasks.end(), task) != tasks.end();
}

void EvalOptions::Validate() const {
  if (tasks.empty()) {
    Fail("no evaluation task: give --tasks ppl,kld,retrieval,agree");
  }
  for (const std::string& t : tasks) {
    if (t != "ppl" && t != "kld" && t != "retrieval" && t != "agree") {
      Fail("unknown task '{}' (expected ppl, kld, retrieval or agree)", t);
    }
  }
  if (policies.empty()) {
    Fail("no policy to evaluate");
  }
  if (prefill_chunk < 1) {
    Fail("prefill chunk must be >= 1 (got {})", prefill_chunk);
  }
  if (HasTask("ppl") || HasTask("kld") || HasTask("agree")) {
    DecodeScoringOptions d;
    d.n_ctx = n_ctx;
    d.prefix = prefix;
    ResolvePrefix(d);
  }
  if (HasTask("retrieval")) {
    if (retrieval_tasks.empty()) {
      Fail("no retrieval task: give --retrieval passkey,needle,multikey");
    }
    for (const std::string& t : retrieval_tasks) {
      ParseRetrievalKind(t);
    }
    if (depths.empty()) {
      Fail("no retrieval depth");
    }
    for (double d : depths) {
      if (!(d >= 0.0 && d <= 1.0)) {
        Fail("retrieval depth {} is outside [0, 1]", d);
      }
    }
    if (retrieval_samples < 1) {
      Fail("retrieval samples must be >= 1 (got {})", retrieval_samples);
    }
    if (retrieval_ctx < 16) {
      Fail("retrieval context must be >= 16 tokens (got {})", retrieval_ctx);
    }
  }
  if (HasTask("agree")) {
    if (agree_prompts < 1) {
      Fail("agree prompts must be >= 1 (got {})", agree_prompts);
    }
    if (agree_tokens < 1) {
      Fail("agree tokens must be >= 1 (got {})", agree_tokens);
    }
    const int prompt = agree_prompt_tokens > 0 ? agree_prompt_tokens : n_ctx - agree_tokens;
    if (prompt < 1) {
      Fail("agree: the context of {} leaves no prompt for {} generated tokens", n_ctx,
           agree_tokens);
    }
  }
}

std::vector<EvalConfig> ExpandConfigs(const EvalOptions& o) {
  return ExpandPolicyBudgets(o.policies, o.budgets, o.base, o.HasTask("kld") || o.HasTask("agree"));
}

std::vector<EvalConfig> ExpandPolicyBudgets(const std::vector<std::string>& policies,
                                            const std::vector<std::string>& budgets,
                                            const kv::CacheConfig& base, bool force_full) {
  std::vector<EvalConfig> out;
  auto has_label = [&](const std::string& label) {
    return std::any_of(out.begin(), out.end(),
                       [&](const EvalConfig& c) { return c.label == label; });
  };
  if (policies.empty()) {
    Fail("no policy to evaluate");
  }
  const bool listed_full = std::find(policies.begin(), policies.end(), "full") != policies.end();
  if (force_full || listed_full) {
    EvalConfig c{"full", "", base};
    c.cache.policy = kv::PolicyKind::kFull;
    c.cache.budget = kv::Budget::Unlimited();
    kv::ValidateConfig(c.cache);
    out.push_back(c);
  }
  for (const std::string& name : policies) {
    const kv::PolicyKind kind = kv::ParsePolicyKind(name);
    if (kind == kv::PolicyKind::kFull) {
      continue;
    }
    if (budgets.empty()) {
      Fail("policy '{}' needs a budget: give --kv-budget", name);
    }
    for (const std::string& b : budgets) {
      EvalConfig c{std::string(kv::PolicyName(kind)) + "@" + b, b, base};
      c.cache.policy = kind;
      c.cache.budget = kv::ParseBudget(b);
      if (has_label(c.label)) {
        continue;
      }
      kv::ValidateConfig(c.cache);
      out.push_back(c);
    }
  }
  return out;
}

double PolicyResult::RetrievalAccuracy() const {
  int n = 0, correct = 0;
  for (const RetrievalCell& c : retrieval) {
    n += c.n;
    correct += c.correct;
  }
  return n > 0 ? static_cast<double>(correct) / n : std::numeric_limits<double>::quiet_NaN();
}

double PolicyResult::MeanKvBytes() const {
  if (decode) {
    return decode->mean_final_bytes;
  }
  if (agree) {
    return agree->mean_kv_bytes;
  }
  if (retrieval.empty()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  double sum = 0.0;
  for (const RetrievalCell& c : retrieval) {
    sum += c.mean_kv_bytes;
  }
  return sum / static_cast<double>(retrieval.size());
}

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void RunRetrieval(const Tokenizer& tokenizer, const std::vector<std::string>& haystack,
                  const EvalOptions& o, std::vector<std::unique_ptr<Session>>& sessions,
                  EvalReport& report, const EvalProgress& progress) {
  const int32_t bos = tokenizer.add_bos() ? tokenizer.bos_id() : -1;
  const int total =
      static_cast<int>(o.retrieval_tasks.size() * o.depths.size()) * o.retrieval_samples;
  int done = 0;
  for (const std::string& task : o.retrieval_tasks) {
    for (double depth : o.depths) {
      for (PolicyResult& r : report.results) {
        RetrievalCell cell;
        cell.task = task;
        cell.depth = depth;
        r.retrieval.push_back(cell);
      }
      for (int k = 0; k < o.retrieval_samples; ++k) {
        RetrievalSpec spec;
        spec.kind = ParseRetrievalKind(task);
        spec.context_tokens = o.retrieval_ctx;
        spec.depth = depth;
        spec.seed = o.seed * 1000003ull + static_cast<uint64_t>(k);
        spec.n_keys = o.n_keys;
        const RetrievalSample sample = GenerateRetrieval(tokenizer, spec, haystack, bos);
        const int max_tokens =
            static_cast<int>(tokenizer.Encode(" " + sample.answer, false, false).size()) + 4;
        for (size_t i = 0; i < sessions.size(); ++i) {
          const std::vector<int32_t> ids =
              GreedyGenerate(*sessions[i], sample.prompt, max_tokens, &tokenizer);
          const std::string text = tokenizer.Decode(ids);
          RetrievalCell& cell = report.results[i].retrieval.back();
          ++cell.n;
          if (ExactMatch(text, sample.answer)) {
            ++cell.correct;
          }
          cell.mean_achieved_depth += (sample.achieved_depth - cell.mean_achieved_depth) / cell.n;
          const double bytes = static_cast<double>(sessions[i]->cache().BytesHeld());
          cell.mean_kv_bytes += (bytes - cell.mean_kv_bytes) / cell.n;
          cell.outputs.push_back(text);
        }
        ++done;
        if (progress) {
          progress(fmt::format("retrieval {}/{}", done, total));
        }
      }
    }
  }
}

void RunAgreement(const std::vector<int32_t>& text_tokens, int32_t bos, const EvalOptions& o,
                  std::vector<std::unique_ptr<Session>>& sessions, EvalReport& report,
                  const EvalProgress& progress) {
  if (report.reference < 0) {
    Fail("agree needs the full cache as reference");
  }
  const int prompt_len =
      o.agree_prompt_tokens > 0 ? o.agree_prompt_tokens : o.n_ctx - o.agree_tokens;
  const int stride = std::max(o.n_ctx, prompt_len);
  const int available = static_cast<int>(text_tokens.size() / static_cast<size_t>(stride));
  if (available < 1) {
    Fail("agree: the text has fewer than {} tokens", stride);
  }
  const int n_prompts = std::min(o.agree_prompts, available);
  for (PolicyResult& r : report.results) {
    r.agree = AgreementScore{};
    r.agree->n_prompts = n_prompts;
    r.agree->gen_tokens = o.agree_tokens;
    r.agree->prompt_tokens = prompt_len;
  }
  std::vector<int32_t> prompt(prompt_len);
  for (int k = 0; k < n_prompts; ++k) {
    std::copy_n(text_tokens.begin() + static_cast<size_t>(k) * stride, prompt_len, prompt.begin());
    if (bos >= 0) {
      prompt[0] = bos;
    }
    const std::vector<int32_t> ref =
        GreedyGenerate(*sessions[report.reference], prompt, o.agree_tokens, nullptr);
    for (size_t i = 0; i < sessions.size(); ++i) {
      const std::vector<int32_t> gen =
          static_cast<int>(i) == report.reference
              ? ref
              : GreedyGenerate(*sessions[i], prompt, o.agree_tokens, nullptr);
      const auto mismatch = std::mismatch(ref.begin(), ref.end(), gen.begin(), gen.end());
      AgreementScore& a = *report.results[i].agree;
      a.prefixes.push_back(static_cast<int>(mismatch.first - ref.begin()));
      const double bytes = static_cast<double>(sessions[i]->cache().BytesHeld());
      a.mean_kv_bytes += (bytes - a.mean_kv_bytes) / static_cast<double>(a.prefixes.size());
    }
    if (progress) {
      progress(fmt::format("agree prompt {}/{}", k + 1, n_prompts));
    }
  }
  for (PolicyResult& r : report.results) {
    AgreementScore& a = *r.agree;
    double sum = 0.0;
    int exact = 0;
    for (int p : a.prefixes) {
      sum += p;
      if (p == a.gen_tokens) {
        ++exact;
      }
    }
    a.mean_prefix = sum / n_prompts;
    a.exact_rate = static_cast<double>(exact) / n_prompts;
  }
}

}  // namespace

EvalReport RunEval(const Model& model, const Tokenizer& tokenizer,
                   const std::vector<int32_t>& text_tokens,
                   const std::vector<std::string>& haystack, const EvalOptions& o, ThreadPool& pool,
                   const EvalProgress& progress) {
  o.Validate();
  const double t0 = Now();
  EvalReport report;
  report.options = o;
  report.n_text_tokens = static_cast<int>(text_tokens.size());
  report.n_threads = pool.size();
  std::vector<std::unique_ptr<Session>> sessions;
  for (const EvalConfig& c : ExpandConfigs(o)) {
    if (c.cache.policy == kv::PolicyKind::kFull && report.reference < 0) {
      report.reference = static_cast<int>(report.results.size());
    }
    PolicyResult result;
    result.config = c;
    report.results.push_back(result);
    sessions.push_back(std::make_unique<Session>(
        model, kv::CreateSequenceCache(model.cache_shape(), c.cache), pool, o.prefill_chunk));
  }
  const int32_t bos = tokenizer.add_bos() ? tokenizer.bos_id() : -1;
  DecodeScoringOptions d;
  d.n_ctx = o.n_ctx;
  d.prefix = o.prefix;
  d.max_windows = o.windows;
  d.bos_id = bos;

  if (o.HasTask("ppl") || o.HasTask("kld")) {
    const bool decode_rule = o.HasTask("kld") || o.rule != PplRule::kChunked;
    if (decode_rule) {
      std::vector<Session*> raw;
      raw.reserve(sessions.size());
      for (auto& s : sessions) {
        raw.push_back(s.get());
      }
      const std::vector<PolicyScore> scores =
          ScoreDecodeMode(raw, report.reference, text_tokens, d, [&](int w, int n) {
            if (progress) {
              progress(fmt::format("ppl/kld window {}/{}", w, n));
            }
          });
      for (size_t i = 0; i < scores.size(); ++i) {
        report.results[i].decode = scores[i];
      }
    }
    if (o.HasTask("ppl") && o.rule != PplRule::kDecode) {
      for (size_t i = 0; i < sessions.size(); ++i) {
        report.results[i].chunked =
            ChunkedPerplexity(*sessions[i], text_tokens, o.n_ctx, o.windows, bos);
        if (progress) {
          progress(fmt::format("chunked ppl {}/{}", i + 1, sessions.size()));
        }
      }
    }
  }
  if (o.HasTask("retrieval")) {
    RunRetrieval(tokenizer, haystack, o, sessions, report, progress);
  }
  if (o.HasTask("agree")) {
    RunAgreement(text_tokens, bos, o, sessions, report, progress);
  }
  report.seconds = Now() - t0;
  return report;
}

}  // namespace arkv::eval
