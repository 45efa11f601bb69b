// Token sampling: greedy, or temperature with top-k, top-p and min-p
// filtering, seeded for reproducibility. Filters apply in llama.cpp's default
// order: top-k, top-p, min-p, then temperature.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace arkv {

struct SamplerConfig {
  float temperature = 0.8f;  // <= 0: greedy (argmax, lowest id on ties)
  int top_k = 40;            // <= 0: disabled
  float top_p = 0.95f;       // in (0, 1]; 1: disabled
  float min_p = 0.05f;       // <= 0: disabled
  uint64_t seed = 0;

  // Throws arkv::Error naming the first invalid field.
  void Validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplerConfig& config);
  // Picks a token from logits[0..n_vocab); throws arkv::Error on a NaN or
  // +infinity logit (-infinity is a token never drawn).
  int32_t Sample(const float* logits, int n_vocab);

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  SamplerConfig config_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_;
  std::vector<double> probs_;
};

}  // namespace arkv
