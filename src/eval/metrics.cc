#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/log_sum_exp.h"

namespace arkv::eval {

void LogSoftmax(std::span<const float> logits, std::vector<double>& out) {
  if (logits.empty()) {
    Fail("LogSoftmax: empty logits");
  }
  for (float v : logits) {
    if (!std::isfinite(v)) {
      Fail("LogSoftmax: a logit is not finite ({})", v);
    }
  }
  const double lse = LogSumExp(logits);
  out.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    out[i] = static_cast<double>(logits[i]) - lse;
  }
}

double KlDivergence(std::span<const double> log_p, std::span<const double> log_q) {
  if (log_p.size() != log_q.size()) {
    Fail("KlDivergence: distributions of different sizes ({} and {})", log_p.size(), log_q.size());
  }
  double kl = 0.0;
  for (size_t i = 0; i < log_p.size(); ++i) {
    const double p = std::exp(log_p[i]);
    if (p > 0.0) {
      kl += p * (log_p[i] - log_q[i]);
    }
  }
  return std::max(0.0, kl);
}

int32_t ArgmaxIndex(std::span<const double> values) {
  if (values.empty()) {
    Fail("ArgmaxIndex: empty input");
  }
  size_t best = 0;
  for (size_t i = 1; i < values.size(); ++i) {
    if (values[i] > values[best]) {
      best = i;
    }
  }
  return static_cast<int32_t>(best);
}

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) {
    return 0.0;
  }
  if (!(q >= 0.0 && q <= 1.0)) {
    Fail("Quantile: q = {} is outside [0, 1]", q);
  }
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(q * static_cast<double>(values.size()));
  const size_t index = rank < 1.0 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

Summary Summarize(std::span<const double> values) {
  Summary s;
  s.n = static_cast<int64_t>(values.size());
  if (values.empty()) {
    return s;
  }
  double sum = 0.0;
  for (double v : values) {
    sum += v;
  }
  s.mean = sum / static_cast<double>(values.size());
  s.max = *std::max_element(values.begin(), values.end());
  s.p99 = Quantile(std::vector<double>(values.begin(), values.end()), 0.99);
  return s;
}

Spread SpreadOf(std::span<const double> values) {
  Spread s;
  s.n = static_cast<int>(values.size());
  if (values.empty()) {
    return s;
  }
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  const size_t mid = v.size() / 2;
  s.median = v.size() % 2 == 1 ? v[mid] : 0.5 * (v[mid - 1] + v[mid]);
  return s;
}

}  // namespace arkv::eval
