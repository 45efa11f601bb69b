// `arkv eval --tasks longbench`: LongBench over several KV policies and
// budgets. Each sample's prompt is built once (longbench_prompts.h); every
// configuration answers it greedily in its own session (as pred.py:
// max_new_tokens from the dataset, stop at end of generation; samsum also
// stops at a newline and must produce at least one token); the answer is
// decoded without special tokens and scored (longbench_metrics.h).
//
// Resumable: the caller passes the records of an earlier run; samples already
// answered by a configuration are skipped, and `checkpoint` is called after
// each new answer so that the caller can save the run.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "eval/eval_runner.h"
#include "eval/longbench_data.h"
#include "eval/longbench_datasets.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace arkv::eval {

struct LongBenchOptions {
  std::vector<std::string> datasets;  // "qasper", LongBench-E's "qasper_e"
  int samples = 0;                    // per dataset; <= 0: all
  int max_prompt = 0;                 // prompt budget in tokens; <= 0: DefaultMaxPromptTokens
  std::vector<std::string> policies = {"full", "arkv"};
  std::vector<std::string> budgets = {"128"};
  kv::CacheConfig base;
  int prefill_chunk = 512;
  std::optional<ChatTemplate> chat;  // nullopt: raw prompts
};

// One answer of one configuration to one sample.
struct LongBenchRecord {
  std::string config;  // "arkv@128"
  std::string dataset;
  int index = 0;  // line of the sample among the dataset's samples
  std::string id;
  std::string prediction;
  double score = 0.0;  // in [0, 1]
  int prompt_tokens = 0;
  int raw_prompt_tokens = 0;  // before truncation
  bool truncated = false;
  int generated_tokens = 0;
  double kv_bytes = 0.0;  // held after the answer
  double seconds = 0.0;
  int64_t length = 0;  // the sample's "length" (LongBench-E buckets)
};

struct LongBenchRun {
  LongBenchOptions options;
  std::vector<EvalConfig> configs;
  int n_threads = 0;
  std::vector<LongBenchRecord> records;  // resumed ones first
  double seconds = 0.0;                  // of this invocation
};

struct LongBenchProgress {
  int done = 0;   // answers finished in this invocation
  int total = 0;  // answers this invocation has to produce
  std::string dataset;
  int sample = 0;  // 1-based within the dataset
  int n_samples = 0;
  double elapsed = 0.0;
  double eta = -1.0;  // seconds; < 0 while unknown
};

// The answer budget of a sample: samples[dataset] are its samples.
using LongBenchSamples = std::map<std::string, std::vector<LongBenchSample>>;

LongBenchRun RunLongBench(const Model& model, const Tokenizer& tokenizer,
                          const LongBenchSamples& samples, const LongBenchOptions& options,
                          ThreadPool& pool, std::vector<LongBenchRecord> resumed,
                          const std::function<void(const LongBenchProgress&)>& progress,
                          const std::function<void(const LongBenchRun&)>& checkpoint);

// "[#####.....]  41% 12/30 narrativeqa 3/10, 5m12s elapsed, ETA 7m30s"
std::string FormatLongBenchProgress(const LongBenchProgress& p, int bar_width = 20);
// "1h02m", "7m30s", "12s".
std::string FormatDuration(double seconds);

}  // namespace arkv::eval
