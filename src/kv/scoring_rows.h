// The row loops of the ARKV scores over float attention probabilities,
// vectorized for every Highway target and chosen at run time: under a budget
// every prompt chunk scores its observation window against the whole cache
// (group x window x keys probabilities per KV head and layer), and the scalar
// double loops with one log call per probability took about 5% of a long
// budgeted prefill. Each key's arithmetic is the scalar code's, in double and
// in the same order, so the moments are bit-identical; only the entropy's sum
// runs in lanes (and Highway's log), a difference in the last bits.
#pragma once

#include <cstddef>

namespace arkv::kv {

// sum_j p[j] * log(p[j] + eps), in double.
double SumPLogP(const float* p, size_t n, double eps);

// acc[j] += double(row[j]) - double(first[j]) for j < n.
void AddShiftedRow(const float* row, const float* first, size_t n, double* acc);

// With d = (double(row[j]) - double(first[j])) - mean[j]: s2[j] += d * d and,
// when s4 is not null, s4[j] += (d * d) * (d * d), for j < n.
void AddDeviationPowers(const float* row, const float* first, const double* mean, size_t n,
                        double* s2, double* s4);

}  // namespace arkv::kv
