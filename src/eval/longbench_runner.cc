#include "eval/longbench_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <tuple>

#include "core/error.h"
#include "eval/longbench_metrics.h"
#include "eval/longbench_prompts.h"
#include "runtime/logit_scan.h"
#include "runtime/session.h"

namespace arkv::eval {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Greedy decoding as pred.py asks of model.generate: stop after an
// end-of-generation token (or a `stop` token); `min_one` forbids the stop
// tokens as the first token (samsum's min_length = prompt + 1).
std::vector<int32_t> Answer(Session& session, std::span<const int32_t> prompt, int max_new,
                            const Tokenizer& tokenizer, int32_t extra_stop, bool min_one) {
  session.Reset();
  std::span<const float> logits = session.Prefill(prompt);
  const int n_vocab = session.model().config().n_vocab;
  std::vector<float> masked;
  std::vector<int32_t> out;
  auto is_stop = [&](int32_t t) { return tokenizer.IsEndOfGeneration(t) || t == extra_stop; };
  while (static_cast<int>(out.size()) < max_new) {
    int32_t token;
    if (out.empty() && min_one) {
      masked.assign(logits.begin(), logits.end());
      for (int32_t t = 0; t < n_vocab; ++t) {
        if (is_stop(t)) {
          masked[static_cast<size_t>(t)] = -std::numeric_limits<float>::infinity();
        }
      }
      token = Argmax(masked.data(), n_vocab);
    } else {
      token = Argmax(logits.data(), n_vocab);
    }
    out.push_back(token);
    if (is_stop(token) || static_cast<int>(out.size()) == max_new) {
      break;
    }
    logits = session.Decode(token);
  }
  return out;
}

}  // namespace

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0.0) || !std::isfinite(seconds)) {
    return "?";
  }
  const long s = std::lround(seconds);
  if (s >= 3600) {
    return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  }
  if (s >= 60) {
    return fmt::format("{}m{:02d}s", s / 60, s % 60);
  }
  return fmt::format("{}s", s);
}

std::string FormatLongBenchProgress(const LongBenchProgress& p, int bar_width) {
  const double frac = p.total > 0 ? static_cast<double>(p.done) / p.total : 1.0;
  const int filled = std::clamp(static_cast<int>(frac * bar_width), 0, bar_width);
  std::string bar(static_cast<size_t>(bar_width) + 2, '.');
  bar.front() = '[';
  bar.back() = ']';
  std::fill_n(bar.begin() + 1, filled, '#');
  return fmt::format("{} {:3.0f}% {}/{} {} {}/{}, {} elapsed, ETA {}", bar, 100.0 * frac, p.done,
                     p.total, p.dataset, p.sample, p.n_samples, FormatDuration(p.elapsed),
                     p.eta < 0 ? std::string("?") : FormatDuration(p.eta));
}

LongBenchRun RunLongBench(const Model& model, const Tokenizer& tokenizer,
                          const LongBenchSamples& samples, const LongBenchOptions& o,
                          ThreadPool& pool, std::vector<LongBenchRecord> resumed,
                          const std::function<void(const LongBenchProgress&)>& progress,
                          const std::function<void(const LongBenchRun&)>& checkpoint) {
  const double t0 = Now();
  LongBenchRun run;
  run.options = o;
  run.n_threads = pool.size();
  run.configs = ExpandPolicyBudgets(o.policies, o.budgets, o.base, /*force_full=*/false);
  run.records = std::move(resumed);
  std::set<std::tuple<std::string, std::string, int>> finished;
  for (const LongBenchRecord& r : run.records) {
    finished.emplace(r.config, r.dataset, r.index);
    // An answer resumed for a sample whose id changed belongs to other data.
    const auto it = samples.find(r.dataset);
    if (it != samples.end() && r.index >= 0 && r.index < static_cast<int>(it->second.size()) &&
        it->second[r.index].id != r.id) {
      Fail(
          "the resumed answers do not match the data: sample {} of {} is '{}' now, '{}' in "
          "the resumed run",
          r.index, r.dataset, it->second[r.index].id, r.id);
    }
  }
  std::vector<std::unique_ptr<Session>> sessions;
  for (const EvalConfig& c : run.configs) {
    sessions.push_back(std::make_unique<Session>(
        model, kv::CreateSequenceCache(model.cache_shape(), c.cache), pool, o.prefill_chunk));
  }

  auto max_prompt_of = [&](const LongBenchDataset& d) {
    return o.max_prompt > 0 ? o.max_prompt
                            : DefaultMaxPromptTokens(model.config().n_ctx_train, d.max_new_tokens);
  };
  // The ETA weighs each answer by its prompt and answer tokens, the prompt
  // estimated from its text (4 bytes a token, capped by the budget) so that
  // work done and work left are counted alike.
  auto work_of = [&](const LongBenchDataset& d, const LongBenchSample& s) {
    const double prompt = static_cast<double>(s.context.size() + s.input.size()) / 4.0;
    return std::min(prompt, static_cast<double>(max_prompt_of(d))) + d.max_new_tokens;
  };
  LongBenchProgress p;
  double work_total = 0.0;
  for (const std::string& name : o.datasets) {
    const LongBenchDataset& d = FindLongBenchDataset(name);
    const std::vector<LongBenchSample>& list = samples.at(name);
    for (size_t i = 0; i < list.size(); ++i) {
      for (const EvalConfig& c : run.configs) {
        if (!finished.count({c.label, name, static_cast<int>(i)})) {
          ++p.total;
          work_total += work_of(d, list[i]);
        }
      }
    }
  }
  double work_done = 0.0;
  const std::vector<int32_t> newline_ids = tokenizer.Encode("\n", false, false);
  const int32_t newline = newline_ids.empty() ? -1 : newline_ids.back();

  for (const std::string& name : o.datasets) {
    const LongBenchDataset& d = FindLongBenchDataset(name);
    const int max_prompt = max_prompt_of(d);
    const std::vector<LongBenchSample>& list = samples.at(name);
    const bool samsum = d.name == "samsum";
    for (size_t i = 0; i < list.size(); ++i) {
      const LongBenchSample& s = list[i];
      std::optional<LongBenchPrompt> prompt;
      for (size_t c = 0; c < run.configs.size(); ++c) {
        const EvalConfig& config = run.configs[c];
        if (finished.count({config.label, name, static_cast<int>(i)})) {
          continue;
        }
        if (!prompt) {
          prompt = BuildLongBenchPrompt(tokenizer, o.chat, d, s, max_prompt);
        }
        const double start = Now();
        const std::vector<int32_t> ids = Answer(*sessions[c], prompt->tokens, d.max_new_tokens,
                                                tokenizer, samsum ? newline : -1, samsum);
        LongBenchRecord r;
        r.config = config.label;
        r.dataset = name;
        r.index = static_cast<int>(i);
        r.id = s.id;
        r.prediction = tokenizer.Decode(ids);
        r.score = ScoreLongBenchSample(d, r.prediction, s.answers, s.all_classes);
        r.prompt_tokens = static_cast<int>(prompt->tokens.size());
        r.raw_prompt_tokens = prompt->n_raw_tokens;
        r.truncated = prompt->truncated;
        r.generated_tokens = static_cast<int>(ids.size());
        r.kv_bytes = static_cast<double>(sessions[c]->cache().BytesHeld());
        r.seconds = Now() - start;
        r.length = s.length;
        run.records.push_back(std::move(r));
        ++p.done;
        work_done += work_of(d, s);
        run.seconds = Now() - t0;
        if (checkpoint) {
          checkpoint(run);
        }
        if (progress) {
          p.dataset = name;
          p.sample = static_cast<int>(i) + 1;
          p.n_samples = static_cast<int>(list.size());
          p.elapsed = run.seconds;
          const double left = std::max(0.0, work_total - work_done);
          p.eta = work_done > 0 ? p.elapsed / work_done * left : -1.0;
          progress(p);
        }
      }
    }
  }
  run.seconds = Now() - t0;
  return run;
}

}  // namespace arkv::eval
