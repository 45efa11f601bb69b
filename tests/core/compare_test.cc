// The tests' max-difference helper (tests/common/compare.h) fails on every
// non-finite value, where std::max(m, fabs(d)) would skip a NaN.
#include "common/compare.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace arkv::testing {
namespace {

TEST(MaxAbsDiff, FailsOnNanInfinityAndNothing) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(MaxAbsDiff().Within(1.0)) << "an empty comparison proves nothing";
  const double inf = std::numeric_limits<double>::infinity();
  for (double bad : {nan, inf, -inf}) {
    MaxAbsDiff got_bad, want_bad;
    got_bad.Add(1.0, 1.0);
    got_bad.Add(bad, 0.5);
    got_bad.Add(2.0, 2.0);
    want_bad.Add(0.5, bad);
    EXPECT_FALSE(got_bad.Within(1e9)) << bad;
    EXPECT_FALSE(want_bad.Within(1e9)) << bad;
    EXPECT_TRUE(std::isnan(got_bad.value())) << bad;
    EXPECT_EQ(got_bad.non_finite(), 1u);
    EXPECT_EQ(got_bad.count(), 3u);
  }
}

TEST(MaxAbsDiff, TakesTheLargestDifferenceAndMerges) {
  MaxAbsDiff a, b;
  const float got[] = {1.0f, 2.5f, -1.0f};
  const double want[] = {1.0, 2.0, -1.25};
  a.AddAll(got, want, 3);
  EXPECT_EQ(a.value(), 0.5);
  EXPECT_TRUE(a.Within(0.5));
  EXPECT_FALSE(a.Within(0.49));
  b.Add(3.0, 2.0);
  b.Merge(a);
  EXPECT_EQ(b.value(), 1.0);
  EXPECT_EQ(b.count(), 4u);
  MaxAbsDiff c;
  c.Add(std::numeric_limits<double>::quiet_NaN(), 0.0);
  b.Merge(c);
  EXPECT_FALSE(b.Within(10.0));
}

}  // namespace
}  // namespace arkv::testing
