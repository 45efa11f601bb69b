// Reports of `arkv eval`: the stdout table, the JSON document (every number
// and the full configuration) and the quality-vs-bytes plot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arkv/kv_config.h"
#include "eval/eval_runner.h"
#include "eval/svg_plot.h"

namespace arkv::eval {

// What the report cannot know by itself: where the inputs came from.
struct RunInfo {
  std::string model_path;
  std::string model_sha256;
  std::string text_path;
  std::string command_line;
  std::string version;
};

std::string FormatEvalTable(const EvalReport& report);

// Every CacheConfig field by name (policy, budget, window, sinks, tau1..3,
// gamma, keep_fraction, pool_kernel, original, quant).
std::string CacheConfigJson(const kv::CacheConfig& config);
// The whole report as a JSON document (pretty-printed).
std::string EvalReportJson(const EvalReport& report, const Model& model, const RunInfo& info);

// Quality against mean KV bytes held, one series per policy (budgets are its
// points): perplexity and mean KL when measured, else retrieval accuracy or
// agreement.
std::vector<PlotPanel> EvalPlotPanels(const EvalReport& report);

}  // namespace arkv::eval
