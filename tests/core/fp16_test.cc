#include "core/fp16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace arkv {
namespace {

// The value of a finite fp16 bit pattern from its definition (no bit tricks):
// 0x7c00 maps to 65536, where infinity sits in round-to-nearest.
double HalfValue(uint32_t h) {
  const int exponent = static_cast<int>(h >> 10 & 0x1f);
  const int mantissa = static_cast<int>(h & 0x3ff);
  const double magnitude =
      exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return h & 0x8000 ? -magnitude : magnitude;
}

// Reference rounding: the nearest of all non-negative halves (a search of the
// sorted table), ties to the even pattern, beyond 65504 towards infinity.
uint16_t NearestHalf(float f) {
  static const std::vector<double> table = [] {
    std::vector<double> t;
    for (uint32_t h = 0; h <= 0x7c00; ++h) t.push_back(HalfValue(h));
    return t;
  }();
  const double a = std::fabs(static_cast<double>(f));
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  if (a >= table.back()) return sign | 0x7c00;
  const size_t hi = std::lower_bound(table.begin(), table.end(), a) - table.begin();
  if (table[hi] == a) return sign | static_cast<uint16_t>(hi);
  const size_t lo = hi - 1;
  const double d_lo = a - table[lo], d_hi = table[hi] - a;
  const size_t best = d_lo < d_hi ? lo : d_hi < d_lo ? hi : (lo % 2 == 0 ? lo : hi);
  return sign | static_cast<uint16_t>(best);
}

TEST(Fp16, DecodesEveryHalfAsItsDefinition) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if ((h & 0x7c00) == 0x7c00) {
      EXPECT_EQ(std::isnan(f), (h & 0x3ff) != 0) << "h=" << h;
      if ((h & 0x3ff) == 0) {
        EXPECT_EQ(f, h & 0x8000 ? -INFINITY : INFINITY) << "h=" << h;
      }
    } else {
      EXPECT_EQ(static_cast<double>(f), HalfValue(h)) << "h=" << h;
    }
  }
}

// F32ToF16 against the reference on two million floats spread over every
// binade from below the smallest subnormal to beyond the largest half.
TEST(Fp16, EncodesLikeTheNearestHalfReference) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> binade(-27, 17);
  std::uniform_real_distribution<float> unit(1.0f, 2.0f);
  for (int i = 0; i < (1 << 21); ++i) {
    float f = std::ldexp(unit(rng), binade(rng));
    if (rng() & 1) f = -f;
    ASSERT_EQ(F32ToF16(f), NearestHalf(f)) << "f=" << f;
  }
}

TEST(Fp16, RoundTripEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(f))));
      continue;
    }
    EXPECT_EQ(F32ToF16(f), h) << "h=" << h;
  }
}

TEST(Fp16, DecodesKnownValues) {
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F16ToF32(0x7bff), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(F16ToF32(0x0400), std::ldexp(1.0f, -14));
  EXPECT_TRUE(std::isinf(F16ToF32(0x7c00)));
}

TEST(Fp16, RoundsToNearestEven) {
  // Between every pair of adjacent positive halves, the midpoint goes to the
  // even one and points off the midpoint go to the nearer one.
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const double lo = F16ToF32(static_cast<uint16_t>(h));
    const double hi = F16ToF32(static_cast<uint16_t>(h + 1));
    const double mid = 0.5 * (lo + hi);
    const uint16_t even = (h % 2 == 0) ? h : h + 1;
    EXPECT_EQ(F32ToF16(static_cast<float>(mid)), even) << h;
    const float below = std::nextafter(static_cast<float>(mid), 0.0f);
    const float above = std::nextafter(static_cast<float>(mid), 1e9f);
    EXPECT_EQ(F32ToF16(below), h) << h;
    EXPECT_EQ(F32ToF16(above), h + 1) << h;
  }
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bff);
}

TEST(Bf16, RoundsToNearestEvenAndKeepsNan) {
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(Bf16ToF32(0x3f80), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(F32ToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(F32ToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(std::nanf("")))));
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = Bf16ToF32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) EXPECT_EQ(F32ToBf16(f), h);
  }
}

}  // namespace
}  // namespace arkv
