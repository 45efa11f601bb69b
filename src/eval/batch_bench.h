// `arkv bench-batch`: throughput of the batched engine against the number of
// parallel sequences. For each configuration and P in `parallel`, an engine
// with P slots receives P requests at once, each a seeded random prompt of
// `context` tokens and `decode_tokens` greedy tokens. Aggregate decode
// tokens/s counts the tokens generated while all P sequences decode (from
// the last first token to the end); per-sequence tokens/s is that over P.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/eval_runner.h"
#include "eval/svg_plot.h"
#include "runtime/engine.h"

namespace arkv::eval {

struct BatchBenchOptions {
  std::vector<int> parallel = {1, 2, 4, 8, 16};
  std::vector<EvalConfig> configs;
  int context = 128;
  int decode_tokens = 32;
  int prefill_chunk = 512;
  int64_t kv_total_bytes = 0;  // the engine's pool budget; 0: unlimited
  uint64_t seed = 0;
  // Only the admission arithmetic: how many requests the budget holds.
  bool plan_only = false;
  // Prefill every prompt first (one token each), then time requests that
  // continue those kept caches: all P sequences decode from the first step
  // (with long prompts, chunked prefill otherwise lets the first ones finish
  // before the last ones start).
  bool warm = false;

  void Validate() const;  // throws arkv::Error
};

struct BatchBenchPoint {
  std::string label;
  int parallel = 0;
  double aggregate_decode_tps = 0;
  double per_sequence_decode_tps = 0;
  double ttft_mean_seconds = 0;
  double ttft_max_seconds = 0;
  double seconds = 0;
  int64_t kv_bytes = 0;            // held by all caches when the last token came
  int64_t kv_peak_pool_bytes = 0;  // pool pages at their peak x page size
  int64_t pages_per_sequence = 0;  // the engine's reservation for one request
  int64_t sequences_that_fit = 0;  // in kv_total_bytes by that reservation; 0: unlimited
  // A compressing policy without a budget of its own: the engine's share
  // with all P sequences live (0: otherwise, or a share too small).
  int64_t share_budget_bytes = 0;
  int64_t reused_tokens = 0;  // with warm: prompt tokens continued from kept caches
};

struct BatchBenchReport {
  BatchBenchOptions options;
  int n_threads = 0;
  std::vector<BatchBenchPoint> points;
};

BatchBenchReport RunBatchBench(const Model& model, const BatchBenchOptions& options,
                               ThreadPool& threads,
                               const std::function<void(const std::string&)>& progress = nullptr);

std::string FormatBatchBenchTable(const BatchBenchReport& report);
std::string BatchBenchJson(const BatchBenchReport& report, const Model& model,
                           const std::string& model_path, const std::string& command_line);
// Aggregate and per-sequence decode tokens/s against P, one series per config.
std::vector<PlotPanel> BatchBenchPlotPanels(const BatchBenchReport& report);

}  // namespace arkv::eval
