// Numeric helpers, the retrieval scorer and the SVG writer, on inputs whose
// expected values are worked out by hand in the comments.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/metrics.h"
#include "eval/retrieval.h"
#include "eval/svg_plot.h"

namespace arkv::eval {
namespace {

TEST(LogSoftmax, MatchesHandComputedValues) {
  // logits 0, ln 3: probabilities 1/4 and 3/4.
  std::vector<double> lp;
  LogSoftmax(std::vector<float>{0.0f, static_cast<float>(std::log(3.0))}, lp);
  ASSERT_EQ(lp.size(), 2u);
  EXPECT_NEAR(lp[0], std::log(0.25), 1e-7);
  EXPECT_NEAR(lp[1], std::log(0.75), 1e-7);
  EXPECT_THROW(LogSoftmax(std::vector<float>{}, lp), Error);
  EXPECT_THROW(LogSoftmax(std::vector<float>{NAN, 1.0f}, lp), Error);
}

TEST(KlDivergence, MatchesHandComputedValue) {
  // P = (1/2, 1/2), Q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln(2/3).
  const std::vector<double> p = {std::log(0.5), std::log(0.5)};
  const std::vector<double> q = {std::log(0.25), std::log(0.75)};
  EXPECT_NEAR(KlDivergence(p, q), 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0), 1e-12);
  EXPECT_EQ(KlDivergence(p, p), 0.0);
  // A zero-probability term of P contributes nothing, even where Q is tiny.
  const std::vector<double> one_hot = {0.0, -INFINITY};
  const std::vector<double> r = {std::log(0.9), std::log(0.1)};
  EXPECT_NEAR(KlDivergence(one_hot, r), -std::log(0.9), 1e-12);
  EXPECT_THROW(KlDivergence(p, std::vector<double>{0.0}), Error);
}

TEST(Quantile, NearestRank) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // 1..100, unsorted
  EXPECT_EQ(Quantile(v, 0.99), 99.0);
  EXPECT_EQ(Quantile(v, 1.0), 100.0);
  EXPECT_EQ(Quantile(v, 0.0), 1.0);
  EXPECT_EQ(Quantile({5.0, 1.0, 3.0}, 0.5), 3.0);
  EXPECT_EQ(Quantile({}, 0.5), 0.0);
  EXPECT_THROW(Quantile({1.0}, 1.5), Error);
}

TEST(Summarize, MeanP99Max) {
  const std::vector<double> v = {0.0, 0.0, 0.0, 4.0};
  const Summary s = Summarize(v);
  EXPECT_EQ(s.n, 4);
  EXPECT_EQ(s.mean, 1.0);
  EXPECT_EQ(s.max, 4.0);
  EXPECT_EQ(s.p99, 4.0);  // ceil(0.99 * 4) = 4th smallest
}

TEST(SpreadOf, MedianOfOddAndEvenCounts) {
  const std::vector<double> odd = {3.0, 1.0, 2.0};
  const Spread a = SpreadOf(odd);
  EXPECT_EQ(a.median, 2.0);
  EXPECT_EQ(a.min, 1.0);
  EXPECT_EQ(a.max, 3.0);
  const std::vector<double> even = {4.0, 1.0, 2.0, 3.0};
  EXPECT_EQ(SpreadOf(even).median, 2.5);
}

TEST(ArgmaxIndex, LowestIndexWinsTies) {
  EXPECT_EQ(ArgmaxIndex(std::vector<double>{1.0, 3.0, 3.0, 2.0}), 1);
  EXPECT_THROW(ArgmaxIndex(std::vector<double>{}), Error);
}

TEST(ExactMatch, AcceptsExactlyTheAnswer) {
  EXPECT_TRUE(ExactMatch("48213", "48213"));
  EXPECT_TRUE(ExactMatch(" 48213.", "48213"));
  EXPECT_TRUE(ExactMatch("\n48213 is the key", "48213"));
  EXPECT_TRUE(ExactMatch("48213, yes", "48213"));
  EXPECT_FALSE(ExactMatch("482130", "48213"));
  EXPECT_FALSE(ExactMatch("4821", "48213"));
  EXPECT_FALSE(ExactMatch("x48213", "48213"));
  EXPECT_FALSE(ExactMatch("The pass key is 48213", "48213"));
  EXPECT_FALSE(ExactMatch("48213a", "48213"));
  EXPECT_FALSE(ExactMatch("", "48213"));
  EXPECT_FALSE(ExactMatch("48213", ""));
}

TEST(SplitSentences, CollapsesWhitespaceAndStopsAtLimit) {
  const std::vector<std::string> s = SplitSentences("  One  cat.\nTwo\tdogs!  Three? Four", 10);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], "One cat.");
  EXPECT_EQ(s[1], "Two dogs!");
  EXPECT_EQ(s[2], "Three?");
  EXPECT_EQ(SplitSentences("A b. C d. E f.", 2).size(), 2u);
}

TEST(NiceTicks, StepsOfOneTwoFive) {
  EXPECT_EQ(NiceTicks(0.0, 10.0, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(NiceTicks(3.52, 3.71, 4), (std::vector<double>{3.55, 3.6, 3.65, 3.7}));
  EXPECT_EQ(NiceTicks(7.0, 7.0, 5), (std::vector<double>{7.0}));
}

TEST(RenderSvg, OnePolylinePerMultiPointSeriesAndEscapedText) {
  PlotPanel p{"a <title>", "x", "y", {}};
  p.series.push_back({"two", {{1, 2}, {2, 3}}});
  p.series.push_back({"one", {{1.5, 2.5}}});
  p.series.push_back({"nan", {{NAN, 1.0}}});
  const std::string svg = RenderSvg({p});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("a &lt;title&gt;"), std::string::npos);
  size_t polylines = 0, circles = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos;
       at = svg.find("<polyline", at + 1)) {
    ++polylines;
  }
  for (size_t at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) {
    ++circles;
  }
  EXPECT_EQ(polylines, 1u);
  EXPECT_EQ(circles, 3u);
}

}  // namespace
}  // namespace arkv::eval
