#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "runtime/logit_scan.h"

namespace arkv {

void SamplerConfig::Validate() const {
  if (!std::isfinite(temperature)) Fail("temperature must be a finite number");
  if (!(top_p > 0.0f && top_p <= 1.0f)) Fail("top-p must be in (0, 1] (got {})", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) Fail("min-p must be in [0, 1] (got {})", min_p);
}

Sampler::Sampler(const SamplerConfig& config) : config_(config), rng_(config.seed) {
  config_.Validate();
}

int32_t Sampler::Sample(const float* logits, int n_vocab) {
  // NaN would break the sort's ordering (undefined behaviour) and +inf the
  // softmax; either means the model's output is broken.
  if (const int64_t bad = FirstUnsampleableLogit(logits, n_vocab); bad < n_vocab) {
    Fail("cannot sample: logit {} of {} is {}", bad, n_vocab, logits[bad]);
  }
  if (config_.temperature <= 0.0f) return Argmax(logits, n_vocab);
  candidates_.resize(n_vocab);
  for (int i = 0; i < n_vocab; ++i) candidates_[i] = {i, logits[i]};
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t n = candidates_.size();
  if (config_.top_k > 0 && static_cast<size_t>(config_.top_k) < n) {
    n = config_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + n, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // Softmax of the survivors (at temperature 1, as llama.cpp filters).
  auto softmax = [&](size_t count, double temp) {
    probs_.resize(count);
    const double max = candidates_[0].logit;
    double sum = 0.0;
    for (size_t i = 0; i < count; ++i) {
      probs_[i] = std::exp((candidates_[i].logit - max) / temp);
      sum += probs_[i];
    }
    for (size_t i = 0; i < count; ++i) probs_[i] /= sum;
  };
  softmax(n, 1.0);
  if (config_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = n;
    for (size_t i = 0; i < n; ++i) {
      cum += probs_[i];
      if (cum >= config_.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = std::max<size_t>(1, keep);
  }
  if (config_.min_p > 0.0f) {
    const double threshold = probs_[0] * config_.min_p;
    size_t keep = 1;
    while (keep < n && probs_[keep] >= threshold) ++keep;
    n = keep;
  }
  softmax(n, config_.temperature);
  std::discrete_distribution<size_t> dist(probs_.begin(), probs_.begin() + n);
  return candidates_[dist(rng_)].id;
}

}  // namespace arkv
