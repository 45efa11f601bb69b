// Codec tests: fp8 e4m3fn exhaustively against an independent decoder and a
// brute-force nearest-value encoder; int8/int4 and fp8 rows by property-based
// round trips with measured error bounds.
#include "kv/codecs.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace arkv::kv {
namespace {

// e4m3fn by its definition: bias 7, no infinities, S.1111.111 is NaN.
double Fp8Reference(int code) {
  const int sign = (code >> 7) & 1, exp = (code >> 3) & 15, mant = code & 7;
  if (exp == 15 && mant == 7) return NAN;
  const double mag =
      exp == 0 ? mant * std::ldexp(1.0, -9) : (1 + mant / 8.0) * std::ldexp(1.0, exp - 7);
  return sign ? -mag : mag;
}

// Nearest e4m3fn code by scanning all codes; ties to the even mantissa;
// beyond 448 saturates.
int NearestFp8(double x) {
  if (std::fabs(x) >= 448) return x < 0 ? 0xfe : 0x7e;
  int best = -1;
  double best_err = INFINITY;
  for (int c = 0; c < 256; ++c) {
    const double v = Fp8Reference(c);
    if (std::isnan(v) || (std::signbit(v) != std::signbit(x))) continue;
    const double err = std::fabs(v - x);
    if (err < best_err || (err == best_err && (c & 1) == 0 && (best & 1) == 1)) {
      best = c;
      best_err = err;
    }
  }
  return best;
}

TEST(Fp8E4M3, DecodesEveryCode) {
  for (int c = 0; c < 256; ++c) {
    const double ref = Fp8Reference(c);
    const float got = Fp8E4M3ToF32(static_cast<uint8_t>(c));
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(got)) << c;
    } else {
      EXPECT_EQ(static_cast<double>(got), ref) << c;
    }
  }
  EXPECT_EQ(Fp8E4M3ToF32(0x7e), 448.0f);
  EXPECT_EQ(Fp8E4M3ToF32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(Fp8E4M3ToF32(0x08), std::ldexp(1.0f, -6));
}

TEST(Fp8E4M3, EveryCodeRoundTrips) {
  for (int c = 0; c < 256; ++c) {
    const float v = Fp8E4M3ToF32(static_cast<uint8_t>(c));
    if (std::isnan(v)) continue;
    EXPECT_EQ(F32ToFp8E4M3(v), c) << "code " << c;
  }
}

TEST(Fp8E4M3, MidpointsRoundToEvenAndNeighboursToNearest) {
  for (int c = 0; c < 0x7e; ++c) {
    const double a = Fp8Reference(c), b = Fp8Reference(c + 1);
    const double mid = 0.5 * (a + b);
    const int even = (c & 1) == 0 ? c : c + 1;
    EXPECT_EQ(F32ToFp8E4M3(static_cast<float>(mid)), even) << "midpoint of " << c;
    EXPECT_EQ(F32ToFp8E4M3(-static_cast<float>(mid)), even | 0x80);
    EXPECT_EQ(F32ToFp8E4M3(std::nextafter(static_cast<float>(mid), 0.0f)), c);
    EXPECT_EQ(F32ToFp8E4M3(std::nextafter(static_cast<float>(mid), 1000.0f)), c + 1);
  }
}

TEST(Fp8E4M3, SaturatesAndNeverProducesNanForFiniteInput) {
  EXPECT_EQ(F32ToFp8E4M3(448.0f), 0x7e);
  EXPECT_EQ(F32ToFp8E4M3(463.99f), 0x7e);
  EXPECT_EQ(F32ToFp8E4M3(1e30f), 0x7e);
  EXPECT_EQ(F32ToFp8E4M3(-1e30f), 0xfe);
  EXPECT_EQ(F32ToFp8E4M3(INFINITY), 0x7e);
  EXPECT_EQ(F32ToFp8E4M3(-INFINITY), 0xfe);
  EXPECT_TRUE(std::isnan(Fp8E4M3ToF32(F32ToFp8E4M3(NAN))));
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> expo(-14, 12);
  for (int i = 0; i < 40000; ++i) {
    const float x = static_cast<float>((i & 1 ? -1 : 1) * std::exp2(expo(rng)));
    const uint8_t code = F32ToFp8E4M3(x);
    ASSERT_NE(code & 0x7f, 0x7f) << x;
    ASSERT_EQ(code, NearestFp8(x)) << x;
  }
}

struct RowCase {
  SlotFormat type;
  const char* name;
};

class RowCodecTest : public ::testing::TestWithParam<RowCase> {};

TEST_P(RowCodecTest, RoundTripWithinMeasuredBound) {
  const SlotFormat type = GetParam().type;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> unit(-1, 1);
  std::uniform_real_distribution<double> mag(-6, 6);
  double worst = 0;  // max |x - x_hat| / bound
  double worst_rel_amax = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int n = 1 + trial % 160;
    const float m = static_cast<float>(std::exp2(mag(rng)));
    std::vector<float> x(n), y(n);
    for (float& e : x) e = unit(rng) * m;
    if (trial % 7 == 0) x[trial % n] *= 50;  // an outlier sets the scale
    std::vector<uint8_t> codes(RowBytes(type, n));
    const float scale = EncodeRow(type, x.data(), n, codes.data());
    DecodeRow(type, codes.data(), scale, n, y.data());
    double amax = 0;
    for (float e : x) amax = std::max(amax, std::fabs(static_cast<double>(e)));
    for (int i = 0; i < n; ++i) {
      const double err = std::fabs(static_cast<double>(x[i]) - y[i]);
      double bound;
      switch (type) {
        case SlotFormat::kFp8:
          // Half a step of 3 mantissa bits, or half the subnormal step 2^-9.
          bound = std::max(std::fabs(x[i]) * std::ldexp(1.0, -4), scale * std::ldexp(1.0, -10));
          break;
        case SlotFormat::kInt8:
          bound = amax / 127 / 2;
          break;
        case SlotFormat::kInt4:
          bound = amax / 7 / 2;
          break;
      }
      bound = bound * (1 + 1e-5) + 1e-30;
      ASSERT_LE(err, bound) << GetParam().name << " x=" << x[i] << " got " << y[i];
      worst = std::max(worst, err / bound);
      worst_rel_amax = std::max(worst_rel_amax, err / amax);
    }
  }
  std::printf("[ %s ] max |x - x_hat| / amax = %.3g; max error / bound = %.3f\n", GetParam().name,
              worst_rel_amax, worst);
  EXPECT_GT(worst, 0.5) << "the bound is tight (not vacuous)";
}

TEST_P(RowCodecTest, ZeroRowAndSingleValue) {
  const SlotFormat type = GetParam().type;
  std::vector<float> x(9, 0.0f), y(9, 1.0f);
  std::vector<uint8_t> codes(RowBytes(type, 9));
  EXPECT_EQ(EncodeRow(type, x.data(), 9, codes.data()), 0.0f);
  DecodeRow(type, codes.data(), 0.0f, 9, y.data());
  for (float e : y) EXPECT_EQ(e, 0.0f);
  x[4] = -3.5f;  // amax maps to the largest code exactly
  const float scale = EncodeRow(type, x.data(), 9, codes.data());
  DecodeRow(type, codes.data(), scale, 9, y.data());
  EXPECT_NEAR(y[4], -3.5f, 3.5f * 1e-6f);
  EXPECT_EQ(y[3], 0.0f);
}

INSTANTIATE_TEST_SUITE_P(Codecs, RowCodecTest,
                         ::testing::Values(RowCase{SlotFormat::kFp8, "fp8"},
                                           RowCase{SlotFormat::kInt8, "int8"},
                                           RowCase{SlotFormat::kInt4, "int4"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace arkv::kv
