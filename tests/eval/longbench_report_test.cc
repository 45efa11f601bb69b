// LongBench summaries from hand-made answers: dataset scores (mean x 100,
// rounded as eval.py), task-type averages, KV bytes, LongBench-E buckets, the
// progress line, and the resume file's checks.
#include "eval/longbench_report.h"

#include <cmath>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace arkv::eval {
namespace {

using ::testing::HasSubstr;

LongBenchRecord Answer(const std::string& config, const std::string& dataset, int index,
                       double score, double kv_bytes, int64_t length = 100) {
  LongBenchRecord r;
  r.config = config;
  r.dataset = dataset;
  r.index = index;
  r.id = dataset + std::to_string(index);
  r.score = score;
  r.kv_bytes = kv_bytes;
  r.length = length;
  return r;
}

LongBenchRun MakeRun() {
  LongBenchRun run;
  run.options.datasets = {"narrativeqa", "qasper", "hotpotqa", "trec_e"};
  run.configs = ExpandPolicyBudgets({"full", "arkv"}, {"64"}, kv::CacheConfig{}, false);
  run.records = {
      Answer("full", "narrativeqa", 0, 1.0, 1000), Answer("full", "narrativeqa", 1, 0.5, 3000),
      Answer("full", "qasper", 0, 0.2, 2000), Answer("full", "hotpotqa", 0, 0.0, 2000),
      Answer("full", "hotpotqa", 1, 1.0, 2000), Answer("arkv@64", "narrativeqa", 0, 0.5, 500),
      Answer("arkv@64", "qasper", 0, 1.0 / 3.0, 500), Answer("full", "trec_e", 0, 1.0, 2000, 3000),
      Answer("full", "trec_e", 1, 0.0, 2000, 9000),
      // not asked for in this invocation: ignored by the summary
      Answer("full", "musique", 0, 1.0, 9999)};
  return run;
}

TEST(LongBenchReportTest, ScoresTaskTypesAndBytes) {
  const LongBenchSummary s = SummarizeLongBench(MakeRun());
  ASSERT_EQ(s.configs, (std::vector<std::string>{"full", "arkv@64"}));
  EXPECT_EQ(s.datasets, (std::vector<std::string>{"narrativeqa", "qasper", "hotpotqa", "trec_e"}));
  EXPECT_DOUBLE_EQ(s.cells.at("full").at("narrativeqa").score, 75.0);
  EXPECT_EQ(s.cells.at("full").at("narrativeqa").n, 2);
  EXPECT_DOUBLE_EQ(s.cells.at("full").at("narrativeqa").kv_bytes, 2000.0);
  EXPECT_DOUBLE_EQ(s.cells.at("arkv@64").at("qasper").score, 33.33);  // rounded to 2 decimals
  // single-doc QA: (75 + 20) / 2; multi-doc QA: 50; few-shot: trec_e 50
  EXPECT_DOUBLE_EQ(s.task_types.at("full").at("single-doc QA"), 47.5);
  EXPECT_DOUBLE_EQ(s.task_types.at("full").at("multi-doc QA"), 50.0);
  EXPECT_DOUBLE_EQ(s.task_types.at("full").at("few-shot"), 50.0);
  EXPECT_DOUBLE_EQ(s.average.at("full"), (75.0 + 20.0 + 50.0 + 50.0) / 4);
  EXPECT_DOUBLE_EQ(s.average.at("arkv@64"), (50.0 + 33.33) / 2);
  EXPECT_DOUBLE_EQ(s.kv_bytes.at("arkv@64"), 500.0);
  EXPECT_DOUBLE_EQ(s.kv_bytes.at("full"), 16000.0 / 8);
  EXPECT_DOUBLE_EQ(s.length_buckets.at("full").at("trec_e").at("0-4k").score, 100.0);
  EXPECT_DOUBLE_EQ(s.length_buckets.at("full").at("trec_e").at("8k+").score, 0.0);

  const std::string table = FormatLongBenchTable(MakeRun());
  EXPECT_THAT(table, HasSubstr("narrativeqa (n=2)"));
  EXPECT_THAT(table, HasSubstr("single-doc QA"));
  EXPECT_THAT(table, HasSubstr("47.50"));
  EXPECT_THAT(table, HasSubstr("x less KV than full"));
  EXPECT_THAT(table, HasSubstr("4.00"));  // 2000 / 500 bytes
  EXPECT_THAT(table, HasSubstr("LongBench-E full trec_e: 0-4k 100.00 (n=1)"));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("musique")));
}

TEST(LongBenchReportTest, ProgressLine) {
  EXPECT_EQ(FormatDuration(3725), "1h02m");
  EXPECT_EQ(FormatDuration(450), "7m30s");
  EXPECT_EQ(FormatDuration(12.4), "12s");
  EXPECT_EQ(FormatDuration(std::nan("")), "?");
  LongBenchProgress p;
  p.done = 3;
  p.total = 12;
  p.dataset = "qasper";
  p.sample = 2;
  p.n_samples = 5;
  p.elapsed = 60;
  p.eta = 180;
  EXPECT_EQ(FormatLongBenchProgress(p, 8),
            "[##......]  25% 3/12 qasper 2/5, 1m00s elapsed, ETA 3m00s");
}

TEST(LongBenchReportTest, ResumeFileIsChecked) {
  const std::string fingerprint = R"({"max_prompt":3500,"model":"abc"})";
  const std::string doc = R"({"task":"longbench","fingerprint":{"max_prompt":7500,"model":"abc"},
      "samples":[]})";
  try {
    ReadLongBenchResume(doc, fingerprint, "run.json");
    FAIL() << "a run with another prompt budget was resumed";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("max_prompt"));
    EXPECT_THAT(e.what(), HasSubstr("run.json"));
  }
  EXPECT_THROW(ReadLongBenchResume("{\"task\":\"ppl\"}", fingerprint, "x.json"), Error);
  EXPECT_THROW(ReadLongBenchResume("not json", fingerprint, "x.json"), Error);
  const std::string broken = R"({"task":"longbench","fingerprint":{"max_prompt":3500,"model":"abc"},
      "samples":[{"config":"full"}]})";
  EXPECT_THROW(ReadLongBenchResume(broken, fingerprint, "x.json"), Error);
}

}  // namespace
}  // namespace arkv::eval
