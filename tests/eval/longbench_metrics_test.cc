// LongBench's metrics on small strings, against values worked out by hand
// from metrics.py, eval.py and the rouge and fuzzywuzzy packages' rules.
#include "eval/longbench_metrics.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eval/longbench_datasets.h"
#include "eval/longbench_zh_words.h"

namespace arkv::eval {
namespace {

TEST(LongBenchMetricsTest, NormalizeAnswerFollowsSquadRules) {
  // lower case, ASCII punctuation out, whole-word articles out, spaces collapsed
  EXPECT_EQ(NormalizeAnswer("An apple, the Banana!"), "apple banana");
  EXPECT_EQ(NormalizeAnswer("  Theatre  a-the  \t THE\nend "), "theatre athe end");
  EXPECT_EQ(NormalizeAnswer("Über Café"), "über café");
  EXPECT_EQ(NormalizeAnswer("a"), "");
}

TEST(LongBenchMetricsTest, QaF1) {
  // pred: cat sat on mat (4), truth: cat on mat (3): 3 shared, P 3/4, R 1
  EXPECT_NEAR(QaF1Score("The cat sat on the mat.", "a cat on a mat"), 6.0 / 7.0, 1e-12);
  EXPECT_EQ(QaF1Score("dog", "cat"), 0.0);
  EXPECT_EQ(QaF1Score("The", "a"), 0.0);  // both normalize to nothing
  // multisets: {a,a,b} vs {a,b,b} share one a and one b
  const std::vector<std::string> p = {"a", "a", "b"}, t = {"a", "b", "b"};
  EXPECT_NEAR(TokenF1(p, t), 2.0 / 3.0, 1e-12);
}

TEST(LongBenchMetricsTest, ChineseWordsAndNormalization) {
  EXPECT_EQ(LongBenchChineseWords("我们今天去北京大学。"),
            (std::vector<std::string>{"我们", "今天", "去", "北京大学", "。"}));
  EXPECT_EQ(LongBenchChineseWords("Hello 北京"), (std::vector<std::string>{"Hello", "北京"}));
  EXPECT_EQ(NormalizeZhAnswer("  Hello，世界！ x.y "), "hello世界xy");
}

TEST(LongBenchMetricsTest, QaF1Zh) {
  // pred words 我们 今天 去 北京大学 (。 normalizes to nothing), truth 北京大学:
  // P 1/4, R 1, F1 2/5
  EXPECT_NEAR(QaF1ZhScore("我们今天去北京大学。", "北京大学"), 0.4, 1e-12);
  EXPECT_EQ(QaF1ZhScore("。", "北京大学"), 0.0);
}

TEST(LongBenchMetricsTest, RougeLIsTheRougePackagesSummaryLevel) {
  // hyp sentences "the cat sat", "the dog ran": 5 distinct words; ref "the cat
  // ran": 3. LCS with the first: the cat; with the second: the ran; union 3.
  // R 1, P 3/5, F 2*0.6/(1.6 + 1e-8)
  EXPECT_NEAR(RougeLScore("the cat sat. the dog ran", "the cat ran"), 1.2 / (1.6 + 1e-8), 1e-12);
  // distinct words only: "a a a" is one word
  EXPECT_NEAR(RougeLScore("a a a", "a"), 2.0 / (2.0 + 1e-8), 1e-12);
  // ties go left: LCS(ref "a b", "b a") is "b", LCS(ref, "a c") is "a", union 2 of
  // ref's 2 and hyp's 3 distinct words: R 1, P 2/3
  EXPECT_NEAR(RougeLScore("b a. a c", "a b"), (4.0 / 3.0) / (5.0 / 3.0 + 1e-8), 1e-12);
  EXPECT_EQ(RougeLScore("...", "the cat"), 0.0);  // no sentence: the package raises
  EXPECT_EQ(RougeLScore("the cat", ""), 0.0);
}

TEST(LongBenchMetricsTest, RougeLZh) {
  // 会议 讨论 了 预算 。 against 会议 讨论 了 项目 的 预算: LCS 4, P 4/5, R 4/6
  const double p = 0.8, r = 4.0 / 6.0;
  EXPECT_NEAR(RougeLZhScore("会议讨论了预算。", "会议讨论了项目的预算"),
              2.0 * p * r / (p + r + 1e-8), 1e-12);
}

TEST(LongBenchMetricsTest, Classification) {
  const std::vector<std::string> classes = {"City", "Country", "Individual"};
  EXPECT_EQ(ClassificationScore("City", "City", classes), 1.0);
  EXPECT_EQ(ClassificationScore("Country City", "City", classes), 0.5);
  EXPECT_EQ(ClassificationScore("Individual", "City", classes), 0.0);
  // metrics.py removes names contained in the truth while iterating the same
  // list, which skips the name after each removal: "New" survives.
  const std::vector<std::string> nested = {"New York", "York", "New"};
  EXPECT_EQ(ClassificationScore("New York", "New York", nested), 0.5);
}

TEST(LongBenchMetricsTest, RetrievalAndCount) {
  EXPECT_EQ(RetrievalScore("Paragraph 12 or Paragraph 3", "Paragraph 12"), 0.5);
  EXPECT_EQ(RetrievalScore("Paragraph 12", "Paragraph 12"), 1.0);
  EXPECT_EQ(RetrievalScore("no idea", "Paragraph 12"), 0.0);
  EXPECT_EQ(RetrievalZhScore("答案是段落5", "段落5"), 1.0);
  EXPECT_EQ(RetrievalZhScore("段落5和段落15", "段落5"), 0.5);
  EXPECT_EQ(CountScore("There are 7 unique paragraphs, not 8.", "7"), 0.5);
  EXPECT_EQ(CountScore("seven", "7"), 0.0);
}

TEST(LongBenchMetricsTest, FuzzRatioIsDifflibWithPythonRounding) {
  // "x = foo(" and ")" match: 9 of 10 + 10 characters
  EXPECT_EQ(FuzzRatio("x = foo(1)", "x = foo(2)"), 90);
  // one match in 16 characters: 12.5 rounds to even, 12; three: 37.5 -> 38
  EXPECT_EQ(FuzzRatio("abcdefgh", "ijklmnoa"), 12);
  EXPECT_EQ(FuzzRatio("abcdefgh", "ijklmabc"), 38);
  EXPECT_EQ(FuzzRatio("", ""), 100);
  EXPECT_EQ(FuzzRatio("", "x"), 0);
  EXPECT_EQ(FuzzRatio("日本語", "日本"), 80);  // code points: 2 * 2 / 5
  // difflib's autojunk: in a b of 200 characters, 'a' (197 times, more than
  // 200/100 + 1) starts no match, so "a" matches nothing (0); in 199
  // characters it matches once: 100 * 2 / 200 = 1
  EXPECT_EQ(FuzzRatio("a", "xyz" + std::string(197, 'a')), 0);
  EXPECT_EQ(FuzzRatio("a", "xyz" + std::string(196, 'a')), 1);
}

TEST(LongBenchMetricsTest, CodeSimTakesTheFirstCodeLine) {
  EXPECT_DOUBLE_EQ(CodeSimScore("\n# comment\n```\nx = foo(1)\ny", "x = foo(2)"), 0.9);
  EXPECT_EQ(CodeSimScore("// only comments", "x"), 0.0);
}

TEST(LongBenchMetricsTest, SampleScoreUsesFirstLineAndBestAnswer) {
  const LongBenchDataset& trec = FindLongBenchDataset("trec");
  const std::vector<std::string> classes = {"City", "Country"};
  const std::vector<std::string> city = {"City"};
  EXPECT_EQ(ScoreLongBenchSample(trec, "\n\nCity\nCountry", city, classes), 1.0);
  const LongBenchDataset& qa = FindLongBenchDataset("hotpotqa");
  const std::vector<std::string> answers = {"Paris", "the city of Paris"};
  // every line counts for hotpotqa: "it is paris" against "paris" (P 1/3, R 1:
  // 1/2) and against "city of paris" (1/3); the best is kept
  EXPECT_NEAR(ScoreLongBenchSample(qa, "It is\nParis", answers, {}), 0.5, 1e-12);
}

}  // namespace
}  // namespace arkv::eval
