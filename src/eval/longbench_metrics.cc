#include "eval/longbench_metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "eval/longbench_zh_words.h"
#include "eval/python_text.h"

namespace arkv::eval {
namespace {

using namespace pytext;  // NOLINT(google-build-using-namespace): the metrics speak Python's strings

bool IsZhPunct(char32_t c) {
  static const std::set<char32_t> kSet = [] {
    const Text cn = Decode(
        "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】"
        "〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.");
    return std::set<char32_t>(cn.begin(), cn.end());
  }();
  return IsAsciiPunct(c) || kSet.count(c) != 0;
}

// re.sub(r"\b(a|an|the)\b", " ", text).
Text RemoveArticles(const Text& t) {
  Text out;
  size_t i = 0;
  while (i < t.size()) {
    if (i == 0 || !IsWordChar(t[i - 1])) {
      bool replaced = false;
      for (std::u32string_view article : {U"a", U"an", U"the"}) {
        const size_t end = i + article.size();
        if (std::u32string_view(t).substr(i).starts_with(article) &&
            (end == t.size() || !IsWordChar(t[end]))) {
          out.push_back(' ');
          i = end;
          replaced = true;
          break;
        }
      }
      if (replaced) {
        continue;
      }
    }
    out.push_back(t[i++]);
  }
  return out;
}

std::vector<std::string> ToUtf8(const std::vector<Text>& words) {
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const Text& w : words) {
    out.push_back(Encode(w));
  }
  return out;
}

// The rouge package's sentences: split at '.', empty pieces dropped, each
// piece's whitespace collapsed to single spaces.
std::vector<Text> RougeSentences(const Text& t) {
  std::vector<Text> out;
  for (const Text& piece : SplitOn(t, '.')) {
    if (!piece.empty()) {
      out.push_back(JoinWords(SplitWhitespace(piece), U" "));
    }
  }
  return out;
}

// The words of a LCS of x and y, reconstructed from the end as the rouge
// package does (diagonal on a match, else up when strictly longer, else left).
std::vector<Text> LcsWords(const std::vector<Text>& x, const std::vector<Text>& y) {
  const size_t n = x.size(), m = y.size();
  std::vector<uint32_t> table((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return table[i * (m + 1) + j]; };
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      at(i, j) = x[i - 1] == y[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  std::vector<Text> words;
  size_t i = n, j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] == y[j - 1]) {
      words.push_back(x[i - 1]);
      --i;
      --j;
    } else if (at(i - 1, j) > at(i, j - 1)) {
      --i;
    } else {
      --j;
    }
  }
  return words;
}

std::vector<std::string> NumbersIn(const Text& t) {
  std::vector<std::string> out;
  std::string cur;
  for (char32_t c : t) {
    if (c >= '0' && c <= '9') {
      cur.push_back(static_cast<char>(c));
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) {
    out.push_back(cur);
  }
  return out;
}

double ShareEqual(const std::vector<std::string>& numbers, std::string_view target) {
  if (numbers.empty()) {
    return 0.0;
  }
  const auto right = std::count(numbers.begin(), numbers.end(), target);
  return static_cast<double>(right) / static_cast<double>(numbers.size());
}

// The digits after the first `marker` followed by a digit in `truth`, or "".
std::string ParagraphId(std::string_view truth, std::string_view marker) {
  for (size_t pos = truth.find(marker); pos != std::string_view::npos;
       pos = truth.find(marker, pos + 1)) {
    size_t end = pos + marker.size();
    while (end < truth.size() && truth[end] >= '0' && truth[end] <= '9') {
      ++end;
    }
    if (end > pos + marker.size()) {
      return std::string(truth.substr(pos + marker.size(), end - pos - marker.size()));
    }
  }
  return "";
}

}  // namespace

std::string NormalizeAnswer(std::string_view text) {
  Text t = Lower(Decode(text));
  t.erase(std::remove_if(t.begin(), t.end(), IsAsciiPunct), t.end());
  return Encode(JoinWords(SplitWhitespace(RemoveArticles(t)), U" "));
}

std::string NormalizeZhAnswer(std::string_view text) {
  Text t = Lower(Decode(text));
  t.erase(std::remove_if(t.begin(), t.end(), IsZhPunct), t.end());
  return Encode(JoinWords(SplitWhitespace(t), U""));
}

double TokenF1(std::span<const std::string> prediction, std::span<const std::string> truth) {
  std::map<std::string_view, int> counts;
  for (const std::string& w : truth) {
    ++counts[w];
  }
  int same = 0;
  for (const std::string& w : prediction) {
    auto it = counts.find(w);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) {
    return 0.0;
  }
  const double precision = static_cast<double>(same) / static_cast<double>(prediction.size());
  const double recall = static_cast<double>(same) / static_cast<double>(truth.size());
  return 2.0 * precision * recall / (precision + recall);
}

double QaF1Score(std::string_view prediction, std::string_view truth) {
  const std::vector<std::string> p = ToUtf8(SplitWhitespace(Decode(NormalizeAnswer(prediction))));
  const std::vector<std::string> t = ToUtf8(SplitWhitespace(Decode(NormalizeAnswer(truth))));
  return TokenF1(p, t);
}

double QaF1ZhScore(std::string_view prediction, std::string_view truth) {
  auto words = [](std::string_view text) {
    std::vector<std::string> out;
    for (const std::string& w : LongBenchChineseWords(text)) {
      std::string n = NormalizeZhAnswer(w);
      if (!n.empty()) {
        out.push_back(std::move(n));
      }
    }
    return out;
  };
  return TokenF1(words(prediction), words(truth));
}

double RougeLScore(std::string_view prediction, std::string_view truth) {
  const std::vector<Text> hyp = RougeSentences(Decode(prediction));
  const std::vector<Text> ref = RougeSentences(Decode(truth));
  if (hyp.empty() || ref.empty()) {
    return 0.0;  // the rouge package raises; LongBench scores 0
  }
  std::vector<std::vector<Text>> hyp_words, ref_words;
  std::set<Text> hyp_set, ref_set;
  for (const Text& s : hyp) {
    hyp_words.push_back(SplitOn(s, ' '));
    hyp_set.insert(hyp_words.back().begin(), hyp_words.back().end());
  }
  for (const Text& s : ref) {
    ref_words.push_back(SplitOn(s, ' '));
    ref_set.insert(ref_words.back().begin(), ref_words.back().end());
  }
  std::set<Text> lcs_union;
  for (const std::vector<Text>& r : ref_words) {
    for (const std::vector<Text>& h : hyp_words) {
      for (Text& w : LcsWords(r, h)) {
        lcs_union.insert(std::move(w));
      }
    }
  }
  const double llcs = static_cast<double>(lcs_union.size());
  const double recall = llcs / static_cast<double>(ref_set.size());
  const double precision = llcs / static_cast<double>(hyp_set.size());
  return 2.0 * (precision * recall) / (precision + recall + 1e-8);
}

double RougeLZhScore(std::string_view prediction, std::string_view truth) {
  auto joined = [](std::string_view text) {
    std::string out;
    for (const std::string& w : LongBenchChineseWords(text)) {
      out += (out.empty() ? "" : " ") + w;
    }
    return out;
  };
  return RougeLScore(joined(prediction), joined(truth));
}

double ClassificationScore(std::string_view prediction, std::string_view truth,
                           std::span<const std::string> all_classes) {
  std::vector<std::string_view> matches;
  for (const std::string& c : all_classes) {
    if (prediction.find(c) != std::string_view::npos) {
      matches.push_back(c);
    }
  }
  // Python's `for t in list: list.remove(t)` steps over the element after each removal.
  for (size_t i = 0; i < matches.size(); ++i) {
    const std::string_view term = matches[i];
    if (truth.find(term) != std::string_view::npos && term != truth) {
      matches.erase(std::find(matches.begin(), matches.end(), term));
    }
  }
  if (std::find(matches.begin(), matches.end(), truth) == matches.end()) {
    return 0.0;
  }
  return 1.0 / static_cast<double>(matches.size());
}

double RetrievalScore(std::string_view prediction, std::string_view truth) {
  const std::string id = ParagraphId(truth, "Paragraph ");
  return id.empty() ? 0.0 : ShareEqual(NumbersIn(Decode(prediction)), id);
}

double RetrievalZhScore(std::string_view prediction, std::string_view truth) {
  const std::string id = ParagraphId(truth, "段落");
  return id.empty() ? 0.0 : ShareEqual(NumbersIn(Decode(prediction)), id);
}

double CountScore(std::string_view prediction, std::string_view truth) {
  return ShareEqual(NumbersIn(Decode(prediction)), truth);
}

int FuzzRatio(std::string_view a, std::string_view b) {
  if (a == b) {
    return 100;
  }
  if (a.empty() || b.empty()) {
    return 0;
  }
  return static_cast<int>(std::nearbyint(100.0 * SequenceMatcherRatio(Decode(a), Decode(b))));
}

double CodeSimScore(std::string_view prediction, std::string_view truth) {
  const Text p = Decode(prediction);
  size_t begin = 0;
  while (begin < p.size() && p[begin] == '\n') {
    ++begin;
  }
  Text chosen;
  for (const Text& line : SplitOn(p.substr(begin), '\n')) {
    const std::u32string_view v = line;
    if (v.find(U'`') == Text::npos && v.find(U'#') == Text::npos && v.find(U"//") == Text::npos) {
      chosen = line;
      break;
    }
  }
  return FuzzRatio(Encode(chosen), truth) / 100.0;
}

double LongBenchMetricScore(LongBenchMetric metric, std::string_view prediction,
                            std::string_view truth, std::span<const std::string> all_classes) {
  switch (metric) {
    case LongBenchMetric::kQaF1:
      return QaF1Score(prediction, truth);
    case LongBenchMetric::kQaF1Zh:
      return QaF1ZhScore(prediction, truth);
    case LongBenchMetric::kRouge:
      return RougeLScore(prediction, truth);
    case LongBenchMetric::kRougeZh:
      return RougeLZhScore(prediction, truth);
    case LongBenchMetric::kClassification:
      return ClassificationScore(prediction, truth, all_classes);
    case LongBenchMetric::kRetrieval:
      return RetrievalScore(prediction, truth);
    case LongBenchMetric::kRetrievalZh:
      return RetrievalZhScore(prediction, truth);
    case LongBenchMetric::kCount:
      return CountScore(prediction, truth);
    case LongBenchMetric::kCodeSim:
      return CodeSimScore(prediction, truth);
  }
  return 0.0;
}

double ScoreLongBenchSample(const LongBenchDataset& dataset, std::string_view prediction,
                            std::span<const std::string> answers,
                            std::span<const std::string> all_classes) {
  std::string scored(prediction);
  if (dataset.first_line_only) {
    scored = Encode(FirstLine(Decode(prediction)));
  }
  double best = 0.0;
  for (const std::string& truth : answers) {
    best = std::max(best, LongBenchMetricScore(dataset.metric, scored, truth, all_classes));
  }
  return best;
}

}  // namespace arkv::eval
