#include "runtime/logit_scan.h"

#include <cmath>
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "runtime/logit_scan.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace arkv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// A logit is sampleable when it is below +infinity: NaN and +inf are not.
int64_t FirstUnsampleableLogitImpl(const float* logits, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto inf = hn::Set(d, INFINITY);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto bad = hn::Not(hn::Lt(hn::LoadU(d, logits + i), inf));
    if (!hn::AllFalse(d, bad)) return i + hn::FindFirstTrue(d, bad);
  }
  for (; i < n; ++i) {
    if (!(logits[i] < INFINITY)) return i;
  }
  return n;
}

// The scalar rule, `if (logits[i] > logits[best]) best = i` from best = 0, in
// two passes: the largest logit that is not NaN (a NaN never compares
// greater), then its first index (== also finds -0 for +0). A NaN at index 0
// compares less than nothing and stays the answer.
int32_t ArgmaxImpl(const float* logits, int32_t n) {
  if (n <= 1 || std::isnan(logits[0])) return 0;
  const hn::ScalableTag<float> d;
  const int32_t lanes = static_cast<int32_t>(hn::Lanes(d));
  auto vmax = hn::Set(d, logits[0]);
  int32_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto v = hn::LoadU(d, logits + i);
    vmax = hn::IfThenElse(hn::Gt(v, vmax), v, vmax);
  }
  float max = hn::GetLane(hn::MaxOfLanes(d, vmax));
  for (int32_t j = i; j < n; ++j) {
    if (logits[j] > max) max = logits[j];
  }
  const auto target = hn::Set(d, max);
  for (i = 0; i + lanes <= n; i += lanes) {
    const auto hit = hn::Eq(hn::LoadU(d, logits + i), target);
    if (!hn::AllFalse(d, hit)) return i + static_cast<int32_t>(hn::FindFirstTrue(d, hit));
  }
  for (; i < n; ++i) {
    if (logits[i] == max) return i;
  }
  return 0;  // unreachable: max is one of the logits
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace arkv {

HWY_EXPORT(FirstUnsampleableLogitImpl);
HWY_EXPORT(ArgmaxImpl);

int64_t FirstUnsampleableLogit(const float* logits, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(FirstUnsampleableLogitImpl)(logits, n);
}

int32_t Argmax(const float* logits, int n) { return HWY_DYNAMIC_DISPATCH(ArgmaxImpl)(logits, n); }

}  // namespace arkv
#endif  // HWY_ONCE
