#include "core/fp16.h"

#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

namespace arkv {
namespace {

// Reference: round a double to the nearest fp16 value by exhaustive search of
// the neighbours of the truncated value (independent of the bit tricks).
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
