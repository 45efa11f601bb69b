// Numeric helpers of the evaluation harness: log-probabilities, KL
// divergence, and order statistics of a sample. All in double precision so
// that the comparison of two nearly equal distributions is not lost in
// float rounding.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace arkv::eval {

// out[i] = logits[i] - logsumexp(logits), in double.
void LogSoftmax(std::span<const float> logits, std::vector<double>& out);

// KL(P || Q) = sum_i p_i (log p_i - log q_i) for log-probabilities log_p and
// log_q of equal length. Terms with p_i == 0 contribute 0. The result is
// clamped at 0 (rounding can make an exact match come out at -1e-17).
double KlDivergence(std::span<const double> log_p, std::span<const double> log_q);

// Index of the largest value, the lowest index winning ties (as Argmax).
int32_t ArgmaxIndex(std::span<const double> values);

// Nearest-rank quantile: the smallest value v of the sample such that at
// least q * n values are <= v (q in [0, 1]). 0 for an empty sample.
double Quantile(std::vector<double> values, double q);

struct Summary {
  int64_t n = 0;
  double mean = 0.0;
  double p99 = 0.0;
  double max = 0.0;
};
Summary Summarize(std::span<const double> values);

// Median and range of repeated measurements.
struct Spread {
  int n = 0;
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
};
Spread SpreadOf(std::span<const double> values);

}  // namespace arkv::eval
