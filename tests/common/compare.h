// The one way the tests take a maximum difference. `std::max(m, fabs(d))`
// drops NaN (every comparison with NaN is false), so an output the code never
// wrote (tests pre-fill outputs with NaN to catch that) or a NaN it produced
// would pass. MaxAbsDiff counts every non-finite value on either side and
// Within() fails on any of them, and on an empty comparison.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

namespace arkv::testing {

class MaxAbsDiff {
 public:
  void Add(double got, double want) {
    if (!std::isfinite(got) || !std::isfinite(want)) {
      if (non_finite_++ == 0) bad_ = {count_, got, want};
    } else if (const double d = std::fabs(got - want); !(d <= max_)) {
      max_ = d;
      worst_ = {count_, got, want};
    }
    ++count_;
  }
  // Adds n pairs got[i], want[i].
  template <class G, class W>
  void AddAll(const G* got, const W* want, size_t n) {
    for (size_t i = 0; i < n; ++i) Add(static_cast<double>(got[i]), static_cast<double>(want[i]));
  }
  // Merges another comparison (e.g. one per step) as if its pairs followed.
  void Merge(const MaxAbsDiff& o) {
    if (o.non_finite_ && !non_finite_) bad_ = {count_ + o.bad_.index, o.bad_.got, o.bad_.want};
    if (o.max_ > max_) {
      max_ = o.max_;
      worst_ = {count_ + o.worst_.index, o.worst_.got, o.worst_.want};
    }
    non_finite_ += o.non_finite_;
    count_ += o.count_;
  }

  // The largest |got - want|, or NaN when any value was not finite: so even a
  // plain EXPECT_LE(value(), tol) fails then.
  double value() const { return non_finite_ ? std::numeric_limits<double>::quiet_NaN() : max_; }
  size_t count() const { return count_; }
  size_t non_finite() const { return non_finite_; }

  // Success iff something was compared, everything was finite and the largest
  // difference is at most tol; the failure names the offending pair.
  ::testing::AssertionResult Within(double tol) const {
    std::ostringstream s;
    if (count_ == 0) return ::testing::AssertionFailure() << "nothing was compared";
    if (non_finite_) {
      s << non_finite_ << " of " << count_ << " values not finite, first at index " << bad_.index
        << " (got " << bad_.got << ", want " << bad_.want << ")";
      return ::testing::AssertionFailure() << s.str();
    }
    s << "max |got - want| = " << max_ << " at index " << worst_.index << " (got " << worst_.got
      << ", want " << worst_.want << "), tolerance " << tol << ", " << count_ << " values";
    if (!(max_ <= tol)) return ::testing::AssertionFailure() << s.str();
    return ::testing::AssertionSuccess() << s.str();
  }

 private:
  struct Pair {
    size_t index = 0;
    double got = 0, want = 0;
  };
  double max_ = 0;
  size_t count_ = 0, non_finite_ = 0;
  Pair worst_, bad_;
};

}  // namespace arkv::testing
