#include "runtime/sampler.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "hwy/targets.h"
#include "runtime/logit_scan.h"

namespace arkv {
namespace {

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  SamplerConfig c;
  c.temperature = 0.0f;
  Sampler s(c);
  EXPECT_EQ(s.Sample(logits.data(), 4), 1);
  EXPECT_EQ(Argmax(logits.data(), 4), 1);
}

// The rule Argmax vectorizes: the first logit greater than every one before it.
int32_t ScalarArgmax(const std::vector<float>& logits) {
  int32_t best = 0;
  for (int32_t i = 1; i < static_cast<int32_t>(logits.size()); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

// Lengths around the vector widths (whole vectors and tails) with the maximum
// (twice: the tie) at every position, -0 against +0, NaNs that must not win
// (also at index 0, which then stays the answer), -infinity rows; on every
// compiled Highway target.
TEST(Sampler, ArgmaxMatchesTheScalarRuleOnEveryTarget) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    for (int n = 1; n <= 70; ++n) {
      std::vector<float> base(n);
      for (int i = 0; i < n; ++i) base[i] = std::sin(0.37f * i) - 2.0f;
      for (int at = 0; at < n; ++at) {
        for (int tie : {-1, at / 2, n - 1}) {
          std::vector<float> v = base;
          v[at] = 1.0f;
          if (tie >= 0) v[tie] = 1.0f;
          ASSERT_EQ(Argmax(v.data(), n), ScalarArgmax(v))
              << hwy::TargetName(target) << " n " << n << " max at " << at << ", tie " << tie;
          v[(at + 1) % n] = std::nanf("");  // a NaN next to it, or at 0
          ASSERT_EQ(Argmax(v.data(), n), ScalarArgmax(v))
              << hwy::TargetName(target) << " n " << n << " max at " << at << ", NaN after";
        }
      }
      std::vector<float> zeros(n, -1.0f);
      zeros[n / 2] = -0.0f;
      zeros[n - 1] = 0.0f;
      ASSERT_EQ(Argmax(zeros.data(), n), ScalarArgmax(zeros)) << "n " << n;
      std::vector<float> minus_inf(n, -INFINITY);
      ASSERT_EQ(Argmax(minus_inf.data(), n), 0) << "n " << n;
      minus_inf[n - 1] = std::nanf("");
      ASSERT_EQ(Argmax(minus_inf.data(), n), 0) << "n " << n;
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// The first NaN or +infinity is found at every position of lengths around the
// vector widths, after -infinity and large logits that are fine, and named in
// Sample's error; on every compiled Highway target.
TEST(Sampler, FindsTheFirstUnsampleableLogitOnEveryTarget) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    for (int n = 1; n <= 70; ++n) {
      std::vector<float> v(n);
      for (int i = 0; i < n; ++i) v[i] = i % 3 == 0 ? -INFINITY : 3.0e38f * std::cos(1.3f * i);
      ASSERT_EQ(FirstUnsampleableLogit(v.data(), n), n) << hwy::TargetName(target) << " n " << n;
      for (int at = 0; at < n; ++at) {
        for (float bad : {std::nanf(""), INFINITY}) {
          std::vector<float> w = v;
          w[at] = bad;
          if (at + 1 < n) w[n - 1] = std::nanf("");  // a later one is not the first
          ASSERT_EQ(FirstUnsampleableLogit(w.data(), n), at)
              << hwy::TargetName(target) << " n " << n << " bad at " << at;
          SamplerConfig c;
          c.temperature = 0.0f;
          Sampler s(c);
          const std::string want = "logit " + std::to_string(at) + " of " + std::to_string(n);
          try {
            s.Sample(w.data(), n);
            ADD_FAILURE() << "no error, n " << n << " bad at " << at;
          } catch (const Error& e) {
            ASSERT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
          }
        }
      }
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

TEST(Sampler, TopKOneIsGreedy) {
  const std::vector<float> logits = {0.1f, 0.3f, 3.0f, 0.2f};
  SamplerConfig c;
  c.temperature = 1.5f;
  c.top_k = 1;
  Sampler s(c);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.Sample(logits.data(), 4), 2);
}

TEST(Sampler, SameSeedSameSequence) {
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = std::sin(i * 0.7f);
  SamplerConfig c;
  c.temperature = 1.0f;
  c.seed = 42;
  Sampler a(c), b(c);
  int differences_from_other_seed = 0;
  c.seed = 43;
  Sampler other(c);
  for (int i = 0; i < 200; ++i) {
    const int32_t x = a.Sample(logits.data(), 100);
    EXPECT_EQ(x, b.Sample(logits.data(), 100));
    differences_from_other_seed += x != other.Sample(logits.data(), 100);
  }
  EXPECT_GT(differences_from_other_seed, 0);
}

// Without filters, frequencies follow softmax(logits / T): checked with a
// bound of 5 standard deviations of a binomial count per token.
TEST(Sampler, FrequenciesFollowSoftmax) {
  const std::vector<float> logits = {1.0f, 0.0f, -0.5f, 2.0f};
  SamplerConfig c;
  c.temperature = 0.7f;
  c.top_k = 0;
  c.top_p = 1.0f;
  c.min_p = 0.0f;
  c.seed = 7;
  Sampler s(c);
  const int n = 40000;
  std::vector<int> counts(4, 0);
  for (int i = 0; i < n; ++i) counts[s.Sample(logits.data(), 4)]++;
  double z = 0.0;
  for (float l : logits) z += std::exp(l / 0.7);
  for (int i = 0; i < 4; ++i) {
    const double p = std::exp(logits[i] / 0.7) / z;
    const double sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(counts[i], n * p, 5 * sd) << "token " << i;
  }
}

TEST(Sampler, TopPAndMinPRemoveTheTail) {
  // Probabilities at T=1: about 0.64, 0.24, 0.09, 0.03.
  const std::vector<float> logits = {3.0f, 2.0f, 1.0f, 0.0f};
  SamplerConfig c;
  c.temperature = 1.0f;
  c.top_k = 0;
  c.min_p = 0.0f;
  c.top_p = 0.7f;  // keeps the first two (0.64 < 0.7 <= 0.88)
  Sampler top_p(c);
  c.top_p = 1.0f;
  c.min_p = 0.2f;  // threshold 0.128: keeps the first two
  Sampler min_p(c);
  for (int i = 0; i < 500; ++i) {
    EXPECT_LT(top_p.Sample(logits.data(), 4), 2);
    EXPECT_LT(min_p.Sample(logits.data(), 4), 2);
  }
}

// The filters see the T=1 probabilities, the temperature applies after them
// (llama.cpp's order). At T=1, top-p 0.85 keeps tokens 0 and 1 (0.64 + 0.24);
// had T=2 come first (0.46, 0.28, 0.17, 0.10) it would also keep token 2. T=2
// then spreads the draw between the two survivors, so token 1 is drawn often.
TEST(Sampler, FiltersAtTemperatureOneThenApplyTheTemperature) {
  const std::vector<float> logits = {3.0f, 2.0f, 1.0f, 0.0f};
  SamplerConfig c;
  c.temperature = 2.0f;
  c.top_k = 0;
  c.min_p = 0.0f;
  c.top_p = 0.85f;
  Sampler s(c);
  int ones = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const int32_t id = s.Sample(logits.data(), 4);
    ASSERT_LT(id, 2) << "draw " << i;
    ones += id == 1;
  }
  // P(1) = e^1 / (e^1.5 + e^1) = 0.378 at T=2 (0.269 at T=1): 5 sigma apart.
  EXPECT_NEAR(static_cast<double>(ones) / n, 0.378, 0.05);
}

// A NaN or +infinity logit (a broken model) is a clear error, not undefined
// behaviour inside the sort; -infinity is a token that is never drawn.
TEST(Sampler, RejectsNanAndInfiniteLogits) {
  for (float bad : {std::nanf(""), INFINITY}) {
    for (float temperature : {0.0f, 0.8f}) {
      std::vector<float> logits = {0.5f, 1.0f, -2.0f, 0.0f, 0.25f};
      logits[3] = bad;
      SamplerConfig c;
      c.temperature = temperature;
      Sampler s(c);
      try {
        s.Sample(logits.data(), 5);
        ADD_FAILURE() << "no error for logit " << bad << " at T=" << temperature;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("logit 3"), std::string::npos) << e.what();
      }
    }
  }
  const std::vector<float> with_minus_inf = {-INFINITY, 1.0f, -INFINITY, 0.5f};
  SamplerConfig c;
  c.top_k = 0;
  c.top_p = 1.0f;
  c.min_p = 0.0f;
  Sampler s(c);
  for (int i = 0; i < 200; ++i) {
    const int32_t id = s.Sample(with_minus_inf.data(), 4);
    EXPECT_TRUE(id == 1 || id == 3) << id;
  }
}

TEST(Sampler, RejectsBadConfig) {
  SamplerConfig c;
  c.top_p = 0.0f;
  EXPECT_THROW(c.Validate(), Error);
  c = SamplerConfig{};
  c.min_p = 1.5f;
  EXPECT_THROW(c.Validate(), Error);
  c = SamplerConfig{};
  c.temperature = std::nanf("");
  EXPECT_THROW(Sampler{c}, Error);
}

}  // namespace
}  // namespace arkv
