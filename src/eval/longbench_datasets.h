// The facts of LongBench (Bai et al. 2023, THUDM/LongBench, config/*.json,
// pred.py, eval.py): the 21 datasets with their prompt templates, answer
// lengths, metrics, task types and languages; which run without the chat
// template; LongBench-E's dataset list; the prompt budget per context size.
// Kept as data in one place (longbench_datasets.cc) so they can be checked
// against the benchmark's own files line by line.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace arkv::eval {

enum class LongBenchMetric {
  kQaF1,            // qa_f1_score: token F1 after normalize_answer
  kQaF1Zh,          // qa_f1_zh_score: F1 over Chinese words
  kRouge,           // rouge_score: ROUGE-L F (summary level)
  kRougeZh,         // rouge_zh_score: ROUGE-L F over Chinese words
  kClassification,  // classification_score
  kRetrieval,       // retrieval_score ("Paragraph N")
  kRetrievalZh,     // retrieval_zh_score ("段落N")
  kCount,           // count_score
  kCodeSim,         // code_sim_score: fuzzywuzzy ratio of the first code line
};

enum class LongBenchTaskType {
  kSingleDocQa,
  kMultiDocQa,
  kSummarization,
  kFewShot,
  kSynthetic,
  kCode,
};

struct LongBenchDataset {
  std::string_view name;    // file stem: "narrativeqa", "2wikimqa", ...
  std::string_view prompt;  // dataset2prompt: {context} and {input} placeholders
  int max_new_tokens = 0;   // dataset2maxlen
  LongBenchMetric metric = LongBenchMetric::kQaF1;
  LongBenchTaskType task_type = LongBenchTaskType::kSingleDocQa;
  std::string_view language;  // "en", "zh", "code"
  bool chat_template = true;  // false: trec, triviaqa, samsum, lsht, lcc, repobench-p
  bool first_line_only =
      false;                    // eval.py scores only the first line (trec, triviaqa, samsum, lsht)
  bool in_longbench_e = false;  // has a "{name}_e" file
};

// All 21 datasets in LongBench's order.
std::span<const LongBenchDataset> LongBenchDatasets();
// The dataset named `name` ("qasper" or "qasper_e"); throws arkv::Error listing
// the names otherwise.
const LongBenchDataset& FindLongBenchDataset(std::string_view name);
// "qasper_e" -> true.
bool IsLongBenchE(std::string_view name);
// Names of the 21 datasets, or of LongBench-E's 13 ("qasper_e", ...).
std::vector<std::string> LongBenchDatasetNames(bool longbench_e);

std::string_view TaskTypeName(LongBenchTaskType type);  // "single-doc QA", ...
std::span<const LongBenchTaskType> AllTaskTypes();
std::string_view MetricName(LongBenchMetric metric);  // "qa_f1", "rouge", ...

// LongBench's prompt budget (model2maxlen) for a model trained at n_ctx_train
// tokens: 3500 for 4k models, 7500 for 8k, 15500 for 16k, 31500 for 32k and
// 120000 beyond (LongBench v2's value for 128k models). Below 4k, which
// LongBench never ran, the training context minus max_new_tokens.
int DefaultMaxPromptTokens(int n_ctx_train, int max_new_tokens);

}  // namespace arkv::eval
