// Chinese word segmentation for LongBench's zh metrics.
//
// LongBench cuts Chinese text with jieba (Python). Debian has no C or C++
// jieba, but packages friso (libfriso, MMSEG with its own dictionary), used
// here: words agree with jieba's on common vocabulary and differ on some
// compounds and names, so qa_f1_zh and rouge_l_zh are close to LongBench's
// values, not identical. Punctuation and symbols are words of their own, as
// in jieba (friso keeps unrecognized characters); whitespace is dropped (both
// metrics discard it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace arkv::eval {

// The words of `text` in order, original case preserved. The dictionary is
// loaded on first use (about a second); safe to call from several threads.
// Throws arkv::Error when friso's configuration or dictionary is missing.
std::vector<std::string> LongBenchChineseWords(std::string_view text);

// One line for reports: what the zh word metrics are approximated with.
std::string_view ChineseSegmenterNote();

}  // namespace arkv::eval
