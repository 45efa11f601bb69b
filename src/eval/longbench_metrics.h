// LongBench's metrics (metrics.py and the scorer of eval.py), reproduced rule
// for rule on Unicode code points, as Python sees strings:
//  - qa_f1: lower case, ASCII punctuation removed, the words a/an/the removed,
//    whitespace collapsed (normalize_answer), then F1 over the multiset of words;
//  - qa_f1_zh: F1 over Chinese words, each lower-cased and stripped of ASCII and
//    Chinese punctuation and of whitespace (normalize_zh_answer);
//  - rouge_l: the `rouge` package's summary-level ROUGE-L F: sentences split at
//    '.', words at ' ', distinct words only (its default exclusive mode); 0
//    when either side has no sentence (the package raises, LongBench scores 0);
//  - rouge_l_zh: the same over Chinese words joined by spaces;
//  - classification, retrieval (en/zh), count, code_sim: see each function.
// Chinese words come from LongBenchChineseWords (longbench_zh_words.h): jieba
// in LongBench, friso here, so the two zh word metrics are approximations.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eval/longbench_datasets.h"

namespace arkv::eval {

// normalize_answer and normalize_zh_answer.
std::string NormalizeAnswer(std::string_view text);
std::string NormalizeZhAnswer(std::string_view text);

// F1 of two word multisets (0 when they share nothing).
double TokenF1(std::span<const std::string> prediction, std::span<const std::string> truth);

double QaF1Score(std::string_view prediction, std::string_view truth);
double QaF1ZhScore(std::string_view prediction, std::string_view truth);
double RougeLScore(std::string_view prediction, std::string_view truth);
double RougeLZhScore(std::string_view prediction, std::string_view truth);
// 1/k when the truth is among the k class names found in the prediction (after
// metrics.py's pruning of names contained in the truth, with its quirk of
// skipping the name after each removal), else 0.
double ClassificationScore(std::string_view prediction, std::string_view truth,
                           std::span<const std::string> all_classes);
// Share of the numbers in the prediction equal to the paragraph number of the
// truth ("Paragraph 12" / "段落12"); 0 when the prediction has no number.
double RetrievalScore(std::string_view prediction, std::string_view truth);
double RetrievalZhScore(std::string_view prediction, std::string_view truth);
// Share of the numbers in the prediction equal to the truth.
double CountScore(std::string_view prediction, std::string_view truth);
// fuzzywuzzy's fuzz.ratio / 100 between the truth and the prediction's first
// line (after leading newlines) that holds no '`', '#' or '//'.
double CodeSimScore(std::string_view prediction, std::string_view truth);

// fuzz.ratio: round(100 * difflib.SequenceMatcher(None, a, b).ratio()) with
// Python's rounding (half to even); 100 for equal strings, 0 if one is empty.
int FuzzRatio(std::string_view a, std::string_view b);

double LongBenchMetricScore(LongBenchMetric metric, std::string_view prediction,
                            std::string_view truth, std::span<const std::string> all_classes);

// eval.py's score of one sample: for trec, triviaqa, samsum and lsht only the
// first line of the prediction (after leading newlines) counts; the best score
// over the ground-truth answers; 0 without answers.
double ScoreLongBenchSample(const LongBenchDataset& dataset, std::string_view prediction,
                            std::span<const std::string> answers,
                            std::span<const std::string> all_classes);

}  // namespace arkv::eval
