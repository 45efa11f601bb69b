#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "reference.h"
#include "tensor/kernels.h"

namespace arkv {
namespace {

// Relative RMS error of QuantizeRow followed by the reference decoder.
double RoundTripRelRms(GgmlType type, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> enc(RowBytes(type, n));
  QuantizeRow(type, x.data(), enc.data(), n);
  const std::vector<float> back = testref::Dequantize(type, enc.data(), n);
  double err = 0, ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    err += (static_cast<double>(back[i]) - x[i]) * (static_cast<double>(back[i]) - x[i]);
    ref += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

struct Bound {
  GgmlType type;
  double gaussian;  // bound on relative RMS error, N(0, 1) data
  double outliers;  // bound with 1% of values 10x larger
};

// Bounds are a little above the measured errors (in brackets), so a
// regression in a quantizer shows up here.
const Bound kBounds[] = {
    {GgmlType::kF32, 0.0, 0.0},        {GgmlType::kF16, 2.3e-4, 2.3e-4},  // [2.04e-4, 2.02e-4]
    {GgmlType::kBF16, 1.9e-3, 1.9e-3},                                    // [1.65e-3, 1.70e-3]
    {GgmlType::kQ8_0, 6.0e-3, 1.0e-2},                                    // [5.39e-3, 9.14e-3]
    {GgmlType::kQ4_0, 0.095, 0.153},                                      // [0.0857, 0.139]
    {GgmlType::kQ4_K, 0.079, 0.102},                                      // [0.0711, 0.0928]
    {GgmlType::kQ5_K, 0.039, 0.051},                                      // [0.0355, 0.0462]
    {GgmlType::kQ6_K, 0.019, 0.029},                                      // [0.0171, 0.0266]
};

TEST(QuantizeRow, RoundTripErrorWithinMeasuredBounds) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const int64_t n = 64 * 256;
  std::vector<float> gaussian(n), outliers(n);
  for (int64_t i = 0; i < n; ++i) {
    gaussian[i] = 0.05f * normal(rng);
    outliers[i] = gaussian[i] * (u(rng) < 0.01f ? 10.0f : 1.0f);
  }
  for (const Bound& b : kBounds) {
    const double g = RoundTripRelRms(b.type, gaussian);
    const double o = RoundTripRelRms(b.type, outliers);
    EXPECT_LE(g, b.gaussian) << GetTypeTraits(b.type).name;
    EXPECT_LE(o, b.outliers) << GetTypeTraits(b.type).name;
    std::printf("%-5s relative rms error: gaussian %.3g, outliers %.3g\n",
                std::string(GetTypeTraits(b.type).name).c_str(), g, o);
  }
}

TEST(QuantizeRow, DecodesToWhatQuantizerMeant) {
  // A row that is exactly representable comes back exactly: Q8_0 values
  // d * q with max |q| = 127 (how the synthetic golden models were made) and
  // Q4_0 values d * (q - 8) whose largest magnitude is -8 d.
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> q8(-127, 127), q4(-8, 7);
  const int64_t n = 8 * 32;
  std::vector<float> x8(n), x4(n);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float d = std::ldexp(1.0f + static_cast<float>(b) / 16.0f, -10);  // exact in fp16
    for (int i = 0; i < 32; ++i) {
      x8[b * 32 + i] = d * static_cast<float>(i == 5 ? -127 : q8(rng));
      x4[b * 32 + i] = d * static_cast<float>(i == 9 ? -8 : q4(rng));
    }
  }
  for (auto [type, x] : {std::pair{GgmlType::kQ8_0, &x8}, std::pair{GgmlType::kQ4_0, &x4}}) {
    std::vector<uint8_t> enc(RowBytes(type, n));
    QuantizeRow(type, x->data(), enc.data(), n);
    const std::vector<float> back = testref::Dequantize(type, enc.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(back[i], (*x)[i]) << GetTypeTraits(type).name << " element " << i;
    }
  }
}

TEST(QuantizeRow, AllZeroAndConstantBlocks) {
  for (GgmlType type : testref::kAllTypes) {
    for (float value : {0.0f, -0.75f, 0.25f}) {
      std::vector<float> x(256, value);
      std::vector<uint8_t> enc(RowBytes(type, 256));
      QuantizeRow(type, x.data(), enc.data(), 256);
      const std::vector<float> back = testref::Dequantize(type, enc.data(), 256);
      for (float v : back) ASSERT_NEAR(v, value, 1e-3) << GetTypeTraits(type).name;
    }
  }
}

TEST(QuantizeRow, RejectsBadInput) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> out(1024);
  EXPECT_THROW(QuantizeRow(GgmlType::kQ4_1, x.data(), out.data(), 32), Error);
  EXPECT_THROW(QuantizeRow(GgmlType::kQ6_K, x.data(), out.data(), 32), Error);
  x[3] = NAN;
  EXPECT_THROW(QuantizeRow(GgmlType::kQ8_0, x.data(), out.data(), 32), Error);
}

}  // namespace
}  // namespace arkv
