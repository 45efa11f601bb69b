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

std::string TypeName(GgmlType t) { return std::string(GetTypeTraits(t).name); }

// Bitwise comparison: DequantizeRow must give ggml's values exactly.
void ExpectSameBits(const std::vector<float>& want, const std::vector<float>& got,
                    const std::string& what) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &want[i], 4);
    std::memcpy(&b, &got[i], 4);
    ASSERT_EQ(a, b) << what << " element " << i << ": want " << want[i] << " got " << got[i];
  }
}

TEST(DequantizeRow, MatchesReferenceOnRandomBlocks) {
  std::mt19937 rng(1234);
  // Scale ranges: typical, fp16 subnormals only, and the whole fp16 range.
  const int ranges[][2] = {{-12, -2}, {-24, -14}, {-24, 16}};
  for (GgmlType type : testref::kAllTypes) {
    for (const auto& r : ranges) {
      const int64_t n = 4 * 256;
      const std::vector<uint8_t> row = testref::RandomRow(type, n, rng, r[0], r[1]);
      std::vector<float> got(n);
      DequantizeRow(type, row.data(), got.data(), n);
      ExpectSameBits(
          testref::Dequantize(type, row.data(), n), got,
          TypeName(type) + " scales 2^" + std::to_string(r[0]) + "..2^" + std::to_string(r[1]));
    }
  }
}

TEST(DequantizeRow, ExtremeScales) {
  // Largest and smallest fp16 scales with every quant byte at 0x00 and 0xFF.
  for (GgmlType type : testref::kAllTypes) {
    const std::vector<int> fields = testref::HalfFieldOffsets(type);
    if (fields.empty()) continue;
    const size_t block = GetTypeTraits(type).type_size;
    const int64_t n = GetTypeTraits(type).block_size;
    for (uint16_t half : {uint16_t{0x7bff}, uint16_t{0xfbff}, uint16_t{0x0001}, uint16_t{0x8001},
                          uint16_t{0x0000}}) {
      for (uint8_t fill : {uint8_t{0x00}, uint8_t{0xFF}, uint8_t{0x5A}}) {
        std::vector<uint8_t> blk(block, fill);
        for (int f : fields) {
          blk[f] = static_cast<uint8_t>(half & 0xFF);
          blk[f + 1] = static_cast<uint8_t>(half >> 8);
        }
        std::vector<float> got(n);
        DequantizeRow(type, blk.data(), got.data(), n);
        ExpectSameBits(testref::Dequantize(type, blk.data(), n), got,
                       TypeName(type) + " half " + std::to_string(half));
      }
    }
  }
}

TEST(DequantizeRow, KnownValues) {
  // Q8_0 block: d = 0.5 (0x3800), q = -3 at 0 and 127 at 31.
  std::vector<uint8_t> q8(34, 0);
  q8[0] = 0x00;
  q8[1] = 0x38;
  q8[2] = static_cast<uint8_t>(-3);
  q8[33] = 127;
  std::vector<float> out(32);
  DequantizeRow(GgmlType::kQ8_0, q8.data(), out.data(), 32);
  EXPECT_EQ(out[0], -1.5f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[31], 63.5f);

  // Q4_0 block: d = 2 (0x4000); byte 0 = 0xF1 -> element 0 = (1-8)*2, element 16 = (15-8)*2.
  std::vector<uint8_t> q4(18, 0x88);
  q4[0] = 0x00;
  q4[1] = 0x40;
  q4[2] = 0xF1;
  DequantizeRow(GgmlType::kQ4_0, q4.data(), out.data(), 32);
  EXPECT_EQ(out[0], -14.0f);
  EXPECT_EQ(out[16], 14.0f);
  EXPECT_EQ(out[1], 0.0f);
}

TEST(DequantizeRow, RejectsBadInput) {
  std::vector<uint8_t> buf(1024);
  std::vector<float> out(256);
  EXPECT_THROW(DequantizeRow(GgmlType::kQ4_1, buf.data(), out.data(), 32), Error);
  EXPECT_THROW(DequantizeRow(GgmlType::kQ4_K, buf.data(), out.data(), 100), Error);
  EXPECT_THROW(DequantizeRow(GgmlType::kQ8_0, buf.data(), out.data(), 33), Error);
}

std::string CheckMessage(GgmlType type, int64_t cols, const char* name) {
  try {
    CheckWeightType(type, cols, name);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CheckWeightType, RejectsUnsupportedTypesWithExactMessage) {
  EXPECT_EQ(CheckMessage(GgmlType::kQ4_1, 256, "blk.0.attn_q.weight"),
            "unsupported tensor type q4_1 in tensor blk.0.attn_q.weight");
  EXPECT_EQ(CheckMessage(GgmlType::kQ2_K, 256, "output.weight"),
            "unsupported tensor type q2_K in tensor output.weight");
  EXPECT_EQ(CheckMessage(GgmlType::kIQ4_XS, 256, "w"),
            "unsupported tensor type iq4_xs in tensor w");
  EXPECT_EQ(CheckMessage(static_cast<GgmlType>(99), 256, "w"),
            "unsupported tensor type type#99 in tensor w");
}

TEST(CheckWeightType, AcceptsSupportedTypesAndChecksShape) {
  for (GgmlType type : testref::kAllTypes) {
    EXPECT_EQ(CheckMessage(type, 4096, "w"), "") << TypeName(type);
  }
  EXPECT_EQ(CheckMessage(GgmlType::kF32, 7, "w"), "");
  EXPECT_NE(CheckMessage(GgmlType::kQ4_K, 288, "w").find("not a positive multiple"),
            std::string::npos);
  EXPECT_NE(CheckMessage(GgmlType::kQ8_0, 0, "w"), "");
}

}  // namespace
}  // namespace arkv
