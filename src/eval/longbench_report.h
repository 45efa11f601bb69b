// Reports of a LongBench run: scores per dataset and configuration (the mean
// sample score x 100, as eval.py), averages per task type as in the LongBench
// and ARKV papers' tables, KV bytes held; the JSON document with every answer
// (also the resume file); the score-against-bytes plot.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "eval/eval_report.h"
#include "eval/longbench_runner.h"
#include "eval/svg_plot.h"
#include "model/model.h"

namespace arkv::eval {

struct LongBenchCell {
  int n = 0;
  double score = 0.0;     // mean x 100
  double kv_bytes = 0.0;  // mean held after the answers
};

struct LongBenchSummary {
  std::vector<std::string> datasets;  // in run order, those with answers
  std::vector<std::string> configs;
  // [config][dataset]
  std::map<std::string, std::map<std::string, LongBenchCell>> cells;
  // [config][task type name]: mean of its datasets' scores
  std::map<std::string, std::map<std::string, double>> task_types;
  std::map<std::string, double> average;   // mean over datasets
  std::map<std::string, double> kv_bytes;  // mean over every answer
  // LongBench-E: [config][dataset]["0-4k"|"4-8k"|"8k+"]
  std::map<std::string, std::map<std::string, std::map<std::string, LongBenchCell>>> length_buckets;
};

LongBenchSummary SummarizeLongBench(const LongBenchRun& run);

// Rows: datasets, task-type averages, the average, KV KiB and its ratio to
// full; columns: configurations. Ends with notes (truncated prompts, the zh
// segmentation approximation when zh datasets ran).
std::string FormatLongBenchTable(const LongBenchRun& run);

// What must match for a run to be resumed from a JSON file: model, prompt
// budget, chat template, the shared cache parameters, the prefill chunk.
std::string LongBenchFingerprint(const LongBenchRun& run, const RunInfo& info);

std::string LongBenchJson(const LongBenchRun& run, const Model& model, const RunInfo& info);

// The records of a JSON file written by LongBenchJson. Throws arkv::Error when
// it is not such a file or its fingerprint differs from `fingerprint` (naming
// the differing field).
std::vector<LongBenchRecord> ReadLongBenchResume(const std::string& json_text,
                                                 const std::string& fingerprint,
                                                 const std::string& path);

// Average score against KV bytes held, one series per policy.
std::vector<PlotPanel> LongBenchPlotPanels(const LongBenchRun& run);

}  // namespace arkv::eval
