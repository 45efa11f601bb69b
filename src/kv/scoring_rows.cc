#include "kv/scoring_rows.h"

#include <cmath>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kv/scoring_rows.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// Log, after highway.h.
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace arkv::kv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Doubles, and floats rebound to one per double lane.
using DD = hn::ScalableTag<double>;
using DF = hn::Rebind<float, DD>;

double SumPLogPImpl(const float* p, size_t n, double eps) {
  const DD dd;
  const DF df;
  const size_t lanes = hn::Lanes(dd);
  const auto veps = hn::Set(dd, eps);
  auto acc0 = hn::Zero(dd), acc1 = hn::Zero(dd);
  size_t j = 0;
  for (; j + 2 * lanes <= n; j += 2 * lanes) {
    const auto a = hn::PromoteTo(dd, hn::LoadU(df, p + j));
    const auto b = hn::PromoteTo(dd, hn::LoadU(df, p + j + lanes));
    acc0 = hn::MulAdd(a, hn::Log(dd, hn::Add(a, veps)), acc0);
    acc1 = hn::MulAdd(b, hn::Log(dd, hn::Add(b, veps)), acc1);
  }
  double sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(acc0, acc1)));
  for (; j < n; ++j) {
    const double x = static_cast<double>(p[j]);
    sum += x * std::log(x + eps);
  }
  return sum;
}

void AddShiftedRowImpl(const float* row, const float* first, size_t n, double* acc) {
  const DD dd;
  const DF df;
  const size_t lanes = hn::Lanes(dd);
  size_t j = 0;
  for (; j + lanes <= n; j += lanes) {
    const auto d = hn::Sub(hn::PromoteTo(dd, hn::LoadU(df, row + j)),
                           hn::PromoteTo(dd, hn::LoadU(df, first + j)));
    hn::StoreU(hn::Add(hn::LoadU(dd, acc + j), d), dd, acc + j);
  }
  for (; j < n; ++j) acc[j] += static_cast<double>(row[j]) - static_cast<double>(first[j]);
}

template <bool kFourth>
void AddPowers(const float* row, const float* first, const double* mean, size_t n, double* s2,
               double* s4) {
  const DD dd;
  const DF df;
  const size_t lanes = hn::Lanes(dd);
  size_t j = 0;
  for (; j + lanes <= n; j += lanes) {
    const auto d = hn::Sub(hn::Sub(hn::PromoteTo(dd, hn::LoadU(df, row + j)),
                                   hn::PromoteTo(dd, hn::LoadU(df, first + j))),
                           hn::LoadU(dd, mean + j));
    const auto d2 = hn::Mul(d, d);
    hn::StoreU(hn::Add(hn::LoadU(dd, s2 + j), d2), dd, s2 + j);
    if constexpr (kFourth) hn::StoreU(hn::Add(hn::LoadU(dd, s4 + j), hn::Mul(d2, d2)), dd, s4 + j);
  }
  for (; j < n; ++j) {
    const double d = (static_cast<double>(row[j]) - static_cast<double>(first[j])) - mean[j];
    const double d2 = d * d;
    s2[j] += d2;
    if constexpr (kFourth) s4[j] += d2 * d2;
  }
}

void AddDeviationPowersImpl(const float* row, const float* first, const double* mean, size_t n,
                            double* s2, double* s4) {
  if (s4 != nullptr) {
    AddPowers<true>(row, first, mean, n, s2, s4);
  } else {
    AddPowers<false>(row, first, mean, n, s2, nullptr);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace arkv::kv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace arkv::kv {

HWY_EXPORT(SumPLogPImpl);
HWY_EXPORT(AddShiftedRowImpl);
HWY_EXPORT(AddDeviationPowersImpl);

double SumPLogP(const float* p, size_t n, double eps) {
  return HWY_DYNAMIC_DISPATCH(SumPLogPImpl)(p, n, eps);
}

void AddShiftedRow(const float* row, const float* first, size_t n, double* acc) {
  HWY_DYNAMIC_DISPATCH(AddShiftedRowImpl)(row, first, n, acc);
}

void AddDeviationPowers(const float* row, const float* first, const double* mean, size_t n,
                        double* s2, double* s4) {
  HWY_DYNAMIC_DISPATCH(AddDeviationPowersImpl)(row, first, mean, n, s2, s4);
}

}  // namespace arkv::kv
#endif  // HWY_ONCE
