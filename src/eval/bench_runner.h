// `arkv bench`: end-to-end prefill and decode throughput per KV policy at
// chosen context lengths, on synthetic prompts (seeded random token ids).
// For each context L and configuration, each repetition resets the session,
// prefills L tokens (timed), then decodes `decode_tokens` greedy tokens
// (timed), so decode runs at contexts L .. L + decode_tokens - 1.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/eval_runner.h"
#include "eval/metrics.h"
#include "eval/svg_plot.h"

namespace arkv::eval {

struct BenchOptions {
  std::vector<int> contexts = {512};
  std::vector<std::string> policies = {"full", "arkv"};
  std::vector<std::string> budgets = {"256"};
  kv::CacheConfig base;
  int decode_tokens = 32;
  int repetitions = 3;
  int prefill_chunk = 512;
  uint64_t seed = 0;

  void Validate() const;  // throws arkv::Error
};

struct BenchPoint {
  std::string label;
  std::string budget;
  kv::CacheConfig cache;
  int context = 0;
  std::vector<double> prefill_tps;  // per repetition
  std::vector<double> decode_tps;
  Spread prefill;
  Spread decode;
  int64_t kv_bytes = 0;        // held after the last decode step (last repetition)
  int64_t kv_peak_bytes = 0;   // largest held at any time (over repetitions)
  int64_t kv_pool_bytes = 0;   // the pool pages behind kv_bytes (page-granular)
  int64_t peak_rss_bytes = 0;  // process VmHWM after this point
  bool rss_reset = false;      // VmHWM was reset before this point (per-point peak)
};

struct BenchReport {
  BenchOptions options;
  int n_threads = 0;
  std::vector<BenchPoint> points;
  double seconds = 0.0;
};

using BenchProgress = std::function<void(const std::string&)>;

BenchReport RunBench(const Model& model, const BenchOptions& options, ThreadPool& pool,
                     const BenchProgress& progress = nullptr);

// Process peak resident set (VmHWM of /proc/self/status) in bytes; 0 if unknown.
int64_t PeakRssBytes();
// Resets VmHWM to the current RSS (Linux clear_refs "5"); false if refused.
bool ResetPeakRss();

std::string FormatBenchTable(const BenchReport& report);
std::string BenchReportJson(const BenchReport& report, const Model& model,
                            const std::string& model_path, const std::string& model_sha256,
                            const std::string& command_line);
// Decode tokens/s against context, one series per configuration.
std::vector<PlotPanel> BenchPlotPanels(const BenchReport& report);

}  // namespace arkv::eval
