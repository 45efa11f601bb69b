// log(sum(exp(x))) of float logits, in double, shifted by the maximum so that
// no exp overflows: log Z of a softmax, for log-probabilities and NLLs.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

namespace arkv {

inline double LogSumExp(std::span<const float> x) {
  double max = -std::numeric_limits<double>::infinity();
  for (float v : x) max = std::max(max, static_cast<double>(v));
  double sum = 0.0;
  for (float v : x) sum += std::exp(static_cast<double>(v) - max);
  return max + std::log(sum);
}

}  // namespace arkv
