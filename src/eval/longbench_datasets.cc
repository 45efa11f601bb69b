#include "eval/longbench_datasets.h"

#include <algorithm>
#include <array>

#include "core/error.h"

namespace arkv::eval {
namespace {

using M = LongBenchMetric;
using T = LongBenchTaskType;

// name, prompt (dataset2prompt.json), max new tokens (dataset2maxlen.json),
// metric (eval.py's dataset2metric), task type and language (task.md), chat
// template (pred.py runs trec, triviaqa, samsum, lsht, lcc and repobench-p
// without one), first line only (eval.py), in LongBench-E (pred.py --e).
// The prompts are verbatim, including their typos ("asconcisely").
// clang-format off
const std::array<LongBenchDataset, 21> kDatasets = {{
    {"narrativeqa",
     "You are given a story, which can be either a novel or a movie script, and a question. Answer the question asconcisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nStory: {context}\n\nNow, answer the question based on the story asconcisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:",
     128, M::kQaF1, T::kSingleDocQa, "en", true, false, false},
    {"qasper",
     "You are given a scientific article and a question. Answer the question as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nArticle: {context}\n\n Answer the question based on the above article as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:",
     128, M::kQaF1, T::kSingleDocQa, "en", true, false, true},
    {"multifieldqa_en",
     "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question based on the above text, only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:",
     64, M::kQaF1, T::kSingleDocQa, "en", true, false, true},
    {"multifieldqa_zh",
     "阅读以下文字并用中文简短回答：\n\n{context}\n\n现在请基于上面的文章回答下面的问题，只告诉我答案，不要输出任何其他字词。\n\n问题：{input}\n回答：",
     64, M::kQaF1Zh, T::kSingleDocQa, "zh", true, false, false},
    {"hotpotqa",
     "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:",
     32, M::kQaF1, T::kMultiDocQa, "en", true, false, true},
    {"2wikimqa",
     "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:",
     32, M::kQaF1, T::kMultiDocQa, "en", true, false, true},
    {"musique",
     "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:",
     32, M::kQaF1, T::kMultiDocQa, "en", true, false, false},
    {"dureader",
     "请基于给定的文章回答下述问题。\n\n文章：{context}\n\n请基于上述文章回答下面的问题。\n\n问题：{input}\n回答：",
     128, M::kRougeZh, T::kMultiDocQa, "zh", true, false, false},
    {"gov_report",
     "You are given a report by a government agency. Write a one-page summary of the report.\n\nReport:\n{context}\n\nNow, write a one-page summary of the report.\n\nSummary:",
     512, M::kRouge, T::kSummarization, "en", true, false, true},
    {"qmsum",
     "You are given a meeting transcript and a query containing a question or instruction. Answer the query in one or more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the above meeting transcript in one or more sentences.\n\nQuery: {input}\nAnswer:",
     512, M::kRouge, T::kSummarization, "en", true, false, false},
    {"multi_news",
     "You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}\n\nNow, write a one-page summary of all the news.\n\nSummary:",
     512, M::kRouge, T::kSummarization, "en", true, false, true},
    {"vcsum",
     "下面有一段会议记录，请你阅读后，写一段总结，总结会议的内容。\n会议记录：\n{context}\n\n会议总结：",
     512, M::kRougeZh, T::kSummarization, "zh", true, false, false},
    {"trec",
     "Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n{input}",
     64, M::kClassification, T::kFewShot, "en", false, true, true},
    {"triviaqa",
     "Answer the question based on the given passage. Only give me the answer and do not output any other words. The following are some examples.\n\n{context}\n\n{input}",
     32, M::kQaF1, T::kFewShot, "en", false, true, true},
    {"samsum",
     "Summarize the dialogue into a few short sentences. The following are some examples.\n\n{context}\n\n{input}",
     128, M::kRouge, T::kFewShot, "en", false, true, true},
    {"lsht",
     "请判断给定新闻的类别，下面是一些例子。\n\n{context}\n{input}",
     64, M::kClassification, T::kFewShot, "zh", false, true, false},
    {"passage_count",
     "There are some paragraphs below sourced from Wikipedia. Some of them may be duplicates. Please carefully read these paragraphs and determine how many unique paragraphs there are after removing duplicates. In other words, how many non-repeating paragraphs are there in total?\n\n{context}\n\nPlease enter the final count of unique paragraphs after removing duplicates. The output format should only contain the number, such as 1, 2, 3, and so on.\n\nThe final answer is: ",
     32, M::kCount, T::kSynthetic, "en", true, false, true},
    {"passage_retrieval_en",
     "Here are 30 paragraphs from Wikipedia, along with an abstract. Please determine which paragraph the abstract is from.\n\n{context}\n\nThe following is an abstract.\n\n{input}\n\nPlease enter the number of the paragraph that the abstract is from. The answer format must be like \"Paragraph 1\", \"Paragraph 2\", etc.\n\nThe answer is: ",
     32, M::kRetrieval, T::kSynthetic, "en", true, false, true},
    {"passage_retrieval_zh",
     "以下是若干段落文字，以及其中一个段落的摘要。请确定给定的摘要出自哪一段。\n\n{context}\n\n下面是一个摘要\n\n{input}\n\n请输入摘要所属段落的编号。答案格式必须是\"段落1\"，\"段落2\"等格式\n\n答案是：",
     32, M::kRetrievalZh, T::kSynthetic, "zh", true, false, false},
    {"lcc",
     "Please complete the code given below. \n{context}Next line of code:\n",
     64, M::kCodeSim, T::kCode, "code", false, false, true},
    {"repobench-p",
     "Please complete the code given below. \n{context}{input}Next line of code:\n",
     64, M::kCodeSim, T::kCode, "code", false, false, true},
}};
// clang-format on

constexpr std::array<LongBenchTaskType, 6> kTaskTypes = {
    T::kSingleDocQa, T::kMultiDocQa, T::kSummarization, T::kFewShot, T::kSynthetic, T::kCode};

}  // namespace

std::span<const LongBenchDataset> LongBenchDatasets() { return kDatasets; }

bool IsLongBenchE(std::string_view name) { return name.ends_with("_e"); }

const LongBenchDataset& FindLongBenchDataset(std::string_view name) {
  const std::string_view base = IsLongBenchE(name) ? name.substr(0, name.size() - 2) : name;
  for (const LongBenchDataset& d : kDatasets) {
    if (d.name == base && (!IsLongBenchE(name) || d.in_longbench_e)) {
      return d;
    }
  }
  std::string names;
  for (const LongBenchDataset& d : kDatasets) {
    names += (names.empty() ? "" : ", ") + std::string(d.name);
  }
  Fail(
      "unknown LongBench dataset '{}' (expected one of {}, or a LongBench-E name such as "
      "qasper_e)",
      name, names);
}

std::vector<std::string> LongBenchDatasetNames(bool longbench_e) {
  std::vector<std::string> names;
  for (const LongBenchDataset& d : kDatasets) {
    if (!longbench_e) {
      names.emplace_back(d.name);
    } else if (d.in_longbench_e) {
      names.push_back(std::string(d.name) + "_e");
    }
  }
  return names;
}

std::string_view TaskTypeName(LongBenchTaskType type) {
  switch (type) {
    case T::kSingleDocQa:
      return "single-doc QA";
    case T::kMultiDocQa:
      return "multi-doc QA";
    case T::kSummarization:
      return "summarization";
    case T::kFewShot:
      return "few-shot";
    case T::kSynthetic:
      return "synthetic";
    case T::kCode:
      return "code";
  }
  return "?";
}

std::span<const LongBenchTaskType> AllTaskTypes() { return kTaskTypes; }

std::string_view MetricName(LongBenchMetric metric) {
  switch (metric) {
    case M::kQaF1:
      return "qa_f1";
    case M::kQaF1Zh:
      return "qa_f1_zh";
    case M::kRouge:
      return "rouge_l";
    case M::kRougeZh:
      return "rouge_l_zh";
    case M::kClassification:
      return "classification";
    case M::kRetrieval:
      return "retrieval";
    case M::kRetrievalZh:
      return "retrieval_zh";
    case M::kCount:
      return "count";
    case M::kCodeSim:
      return "code_sim";
  }
  return "?";
}

int DefaultMaxPromptTokens(int n_ctx_train, int max_new_tokens) {
  // config/model2maxlen.json: 4k models 3500, 8k 7500, 16k 15500, 32k 31500;
  // LongBench v2's 128k models 120000.
  struct Step {
    int n_ctx;
    int max_prompt;
  };
  constexpr Step kSteps[] = {
      {131072, 120000}, {32768, 31500}, {16384, 15500}, {8192, 7500}, {4096, 3500}};
  for (const Step& s : kSteps) {
    if (n_ctx_train >= s.n_ctx) {
      return s.max_prompt;
    }
  }
  return std::max(1, n_ctx_train - max_new_tokens);
}

}  // namespace arkv::eval
