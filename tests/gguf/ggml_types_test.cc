// The type table against ggml's block structs (ggml-common.h), written out by
// hand here as sums of their fields.
#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/ggml_types.h"

namespace arkv {
namespace {

struct Expected {
  uint32_t id;
  const char* name;
  int64_t block;
  size_t bytes;
};

constexpr int kQK = 256;  // QK_K
const Expected kExpected[] = {
    {0, "f32", 1, 4},
    {1, "f16", 1, 2},
    {2, "q4_0", 32, 2 + 32 / 2},                               // d, 4-bit quants
    {3, "q4_1", 32, 2 + 2 + 32 / 2},                           // d, m, quants
    {6, "q5_0", 32, 2 + 4 + 32 / 2},                           // d, qh, quants
    {7, "q5_1", 32, 2 + 2 + 4 + 32 / 2},                       // d, m, qh, quants
    {8, "q8_0", 32, 2 + 32},                                   // d, int8 quants
    {9, "q8_1", 32, 2 + 2 + 32},                               // d, s, int8 quants
    {10, "q2_K", kQK, kQK / 16 + kQK / 4 + 2 + 2},             // scales, qs, d, dmin
    {11, "q3_K", kQK, kQK / 8 + kQK / 4 + 12 + 2},             // hmask, qs, scales, d
    {12, "q4_K", kQK, 2 + 2 + 12 + kQK / 2},                   // d, dmin, scales, qs
    {13, "q5_K", kQK, 2 + 2 + 12 + kQK / 8 + kQK / 2},         // d, dmin, scales, qh, qs
    {14, "q6_K", kQK, kQK / 2 + kQK / 4 + kQK / 16 + 2},       // ql, qh, scales, d
    {15, "q8_K", kQK, 4 + kQK + 2 * kQK / 16},                 // float d, qs, bsums
    {16, "iq2_xxs", kQK, 2 + 2 * kQK / 8},                     // d, u16 qs[QK_K/8]
    {17, "iq2_xs", kQK, 2 + 2 * kQK / 8 + kQK / 32},           // d, qs, scales
    {18, "iq3_xxs", kQK, 2 + 3 * kQK / 8},                     // d, qs
    {19, "iq1_s", kQK, 2 + kQK / 8 + 2 * kQK / 32},            // d, qs, u16 qh
    {20, "iq4_nl", 32, 2 + 32 / 2},                            // d, qs
    {21, "iq3_s", kQK, 2 + kQK / 4 + kQK / 32 + kQK / 8 + 4},  // d, qs, qh, signs, scales
    {22, "iq2_s", kQK, 2 + kQK / 4 + kQK / 32 + kQK / 32},     // d, qs, qh, scales
    {23, "iq4_xs", kQK, 2 + 2 + kQK / 64 + kQK / 2},           // d, scales_h, scales_l, qs
    {24, "i8", 1, 1},
    {25, "i16", 1, 2},
    {26, "i32", 1, 4},
    {27, "i64", 1, 8},
    {28, "f64", 1, 8},
    {29, "iq1_m", kQK, kQK / 8 + kQK / 16 + kQK / 32},  // qs, qh, scales
    {30, "bf16", 1, 2},
    {34, "tq1_0", kQK, (kQK - 4 * kQK / 64) / 5 + kQK / 64 + 2},  // qs, qh, d
    {35, "tq2_0", kQK, kQK / 4 + 2},                              // qs, d
    {39, "mxfp4", 32, 1 + 32 / 2},                                // e8m0 scale, qs
};

TEST(GgmlTypes, TableMatchesGgmlBlockLayouts) {
  for (const Expected& e : kExpected) {
    const TypeTraits t = GetTypeTraits(e.id);
    EXPECT_TRUE(t.known) << e.name;
    EXPECT_EQ(t.name, e.name) << e.id;
    EXPECT_EQ(t.block_size, e.block) << e.name;
    EXPECT_EQ(t.type_size, e.bytes) << e.name;
  }
}

TEST(GgmlTypes, RemovedAndFutureIdsAreUnknown) {
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u, 0xffffffffu}) {
    const TypeTraits t = GetTypeTraits(id);
    EXPECT_FALSE(t.known) << id;
    EXPECT_EQ(t.name, "type#" + std::to_string(id));
  }
}

TEST(GgmlTypes, RowBytes) {
  EXPECT_EQ(RowBytes(GgmlType::kF32, 7), 28u);
  EXPECT_EQ(RowBytes(GgmlType::kQ4_K, 512), 2u * 144u);
  EXPECT_EQ(RowBytes(GgmlType::kQ8_0, 64), 2u * 34u);
  EXPECT_THROW(RowBytes(GgmlType::kQ8_0, 33), Error);
  EXPECT_THROW(RowBytes(GgmlType::kF16, -2), Error);
  EXPECT_THROW(RowBytes(static_cast<GgmlType>(4), 32), Error);
}

}  // namespace
// llama.cpp's llama_ftype numbers (llama.h), which its loader prints as the
// file's type: a Q8_0 file must not read as MOSTLY_Q5_0 (8, Q8_0's ggml id).
TEST(GgmlTypes, LlamaFileTypeIsLlamaCppsNumbering) {
  EXPECT_EQ(LlamaFileType(GgmlType::kF32), 0u);
  EXPECT_EQ(LlamaFileType(GgmlType::kF16), 1u);
  EXPECT_EQ(LlamaFileType(GgmlType::kQ4_0), 2u);
  EXPECT_EQ(LlamaFileType(GgmlType::kQ8_0), 7u);
  EXPECT_EQ(LlamaFileType(GgmlType::kQ4_K), 15u);
  EXPECT_EQ(LlamaFileType(GgmlType::kQ5_K), 17u);
  EXPECT_EQ(LlamaFileType(GgmlType::kQ6_K), 18u);
  EXPECT_EQ(LlamaFileType(GgmlType::kBF16), 32u);
  EXPECT_FALSE(LlamaFileType(GgmlType::kIQ2_XXS).has_value());
}

}  // namespace arkv
