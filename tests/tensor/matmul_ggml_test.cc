// MatMulPrecision::kGgml: llama.cpp's activation quantizers against
// hand-computed blocks and an independent float implementation of their
// rules, and the integer matmul of every weight type against a scalar
// double-precision implementation of the same arithmetic written here from
// ggml's definitions (activation blocks, integer block dot products, float
// combination with the scales).
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "hwy/targets.h"
#include "reference.h"
#include "tensor/activation_quant.h"
#include "tensor/kernels.h"

namespace arkv {
namespace {

// ---------------------------------------------------------------------------
// Test-side reference of the activation quantizers. The rules are float
// rules (which product is rounded where), so they are evaluated in float.

// Round to nearest even, in float, for |f| < 2^22.
int RoundEven(float f) { return static_cast<int>(std::nearbyint(f)); }

// fp16 rounding of f and back (the compiler's _Float16: round to nearest even).
double ToHalf(float f) { return static_cast<double>(static_cast<_Float16>(f)); }

double ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;  // finite inputs only
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

// One quantized activation block: value = d * q[i].
struct RefActBlock {
  double d = 0;
  std::vector<int> q;
};

// Q8_0 as llama.cpp's x86 build: d = fp16(amax / 127), q = round(x * (127 / amax)).
std::vector<RefActBlock> RefQ8_0(const float* x, int64_t n) {
  std::vector<RefActBlock> out;
  for (int64_t b = 0; b < n / 32; ++b) {
    RefActBlock blk;
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[32 * b + i]));
    blk.d = ToHalf(amax / 127.0f);
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    for (int i = 0; i < 32; ++i) blk.q.push_back(RoundEven(x[32 * b + i] * id));
    out.push_back(blk);
  }
  return out;
}

// Q8_K as quantize_row_q8_K_ref: iscale = -127 / (first value of largest
// magnitude), q = min(127, round(iscale * x)), d = 1 / iscale.
std::vector<RefActBlock> RefQ8_K(const float* x, int64_t n) {
  std::vector<RefActBlock> out;
  for (int64_t b = 0; b < n / 256; ++b) {
    RefActBlock blk;
    const float* xb = x + 256 * b;
    float amax = 0, max = 0;
    for (int i = 0; i < 256; ++i) {
      if (std::fabs(xb[i]) > amax) {
        amax = std::fabs(xb[i]);
        max = xb[i];
      }
    }
    blk.q.assign(256, 0);
    if (amax != 0) {
      const float iscale = -127.0f / max;
      for (int i = 0; i < 256; ++i) blk.q[i] = std::min(127, RoundEven(iscale * xb[i]));
      blk.d = 1.0f / iscale;
    }
    out.push_back(blk);
  }
  return out;
}

uint16_t HalfBits(double v) {
  const _Float16 h = static_cast<_Float16>(v);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

// ---------------------------------------------------------------------------
// Activation quantizers.

TEST(ActivationQuant, Q8_0HandComputedBlocks) {
  std::vector<float> x(96, 0.0f);
  // Block 0: amax 127, so d = 1 and q = x rounded, ties to even.
  const float b0[] = {127, -2.5f, 2.5f, 3.5f, -3.5f, 0.5f, 1.5f, -0.5f, 0, 100.49f, -126.6f};
  std::copy(std::begin(b0), std::end(b0), x.begin());
  // Block 1 stays zero. Block 2: amax 63.5, d = 0.5, multiplier 127 / 63.5 = 2.
  const float b2[] = {-63.5f, 10, 0.25f, 0.75f, -0.75f, 31.3f};
  std::copy(std::begin(b2), std::end(b2), x.begin() + 64);
  BlockQ8_0 y[3];
  QuantizeActivationsQ8_0(x.data(), y, 96);

  EXPECT_EQ(y[0].d, 0x3C00);  // fp16 1.0
  const int q0[] = {127, -2, 2, 4, -4, 0, 2, 0, 0, 100, -127};
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[0].qs[i], i < 11 ? q0[i] : 0) << "block 0, " << i;
  EXPECT_EQ(y[1].d, 0);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[1].qs[i], 0);
  EXPECT_EQ(y[2].d, 0x3800);  // fp16 0.5
  const int q2[] = {-127, 20, 0, 2, -2, 63};
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[2].qs[i], i < 6 ? q2[i] : 0) << "block 2, " << i;
}

TEST(ActivationQuant, Q8_KHandComputedBlocks) {
  std::vector<float> x(768, 0.0f);
  // Block 0: -127 is the first value of largest magnitude (127 comes later),
  // so iscale = 1, d = 1, q = x rounded, ties to even.
  x[0] = 2.5f;
  x[1] = -127;
  x[2] = 3.5f;
  x[3] = 127;
  for (int i = 16; i < 32; ++i) x[i] = 1.0f;
  x[255] = -0.5f;
  // Block 1: max 63.5 > 0, so iscale = -2 and d = -0.5.
  float* b1 = x.data() + 256;
  b1[0] = 63.5f;
  b1[5] = -10;
  b1[6] = 0.75f;    // -1.5 -> -2
  b1[7] = 1.25f;    // -2.5 -> -2
  b1[40] = -63.5f;  // 127
  // Block 2 stays zero.
  BlockQ8_K y[3];
  std::memset(y, 0x55, sizeof(y));
  QuantizeActivationsQ8_K(x.data(), y, 768);

  EXPECT_EQ(y[0].d, 1.0f);
  for (int i = 0; i < 256; ++i) {
    const int want = i == 0                ? 2
                     : i == 1              ? -127
                     : i == 2              ? 4
                     : i == 3              ? 127
                     : (i >= 16 && i < 32) ? 1
                                           : 0;
    EXPECT_EQ(y[0].qs[i], want) << "block 0, " << i;
  }
  for (int j = 0; j < 16; ++j) EXPECT_EQ(y[0].bsums[j], j == 0 ? 6 : j == 1 ? 16 : 0) << j;

  EXPECT_EQ(y[1].d, -0.5f);
  for (int i = 0; i < 256; ++i) {
    const int want = i == 0 ? -127 : i == 5 ? 20 : (i == 6 || i == 7) ? -2 : i == 40 ? 127 : 0;
    EXPECT_EQ(y[1].qs[i], want) << "block 1, " << i;
  }
  for (int j = 0; j < 16; ++j) EXPECT_EQ(y[1].bsums[j], j == 0 ? -111 : j == 2 ? 127 : 0) << j;

  EXPECT_EQ(y[2].d, 0.0f);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(y[2].qs[i], 0);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(y[2].bsums[j], 0);
}

// Random rows over many magnitudes (and exact ties): every byte as the rules say.
TEST(ActivationQuant, MatchesReferenceRulesOnRandomRows) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> small(-300, 300);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 1024;
    std::vector<float> x(n);
    const float scale = std::ldexp(1.0f, trial % 40 - 20);
    for (float& v : x)
      v = (trial % 3 == 0 ? 0.5f * static_cast<float>(small(rng)) : normal(rng)) * scale;
    std::vector<BlockQ8_0> q0(n / 32);
    QuantizeActivationsQ8_0(x.data(), q0.data(), n);
    const std::vector<RefActBlock> r0 = RefQ8_0(x.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {
      ASSERT_EQ(q0[b].d, HalfBits(r0[b].d)) << "trial " << trial << " block " << b;
      for (int i = 0; i < 32; ++i)
        ASSERT_EQ(q0[b].qs[i], r0[b].q[i]) << trial << " " << b << " " << i;
    }
    std::vector<BlockQ8_K> qk(n / 256);
    QuantizeActivationsQ8_K(x.data(), qk.data(), n);
    const std::vector<RefActBlock> rk = RefQ8_K(x.data(), n);
    for (int64_t b = 0; b < n / 256; ++b) {
      ASSERT_EQ(qk[b].d, static_cast<float>(rk[b].d)) << "trial " << trial << " block " << b;
      for (int j = 0; j < 16; ++j) {
        int sum = 0;
        for (int i = 0; i < 16; ++i) {
          ASSERT_EQ(qk[b].qs[16 * j + i], rk[b].q[16 * j + i]) << trial << " " << b;
          sum += rk[b].q[16 * j + i];
        }
        ASSERT_EQ(qk[b].bsums[j], sum);
      }
    }
  }
}

// The first value of largest magnitude sets the sign of d: at every position
// of a block, with an equal magnitude of the other sign at every later
// position of a vector width apart and at the end; every byte and bsum as
// the reference says, on every compiled target (the search and the sums are
// vectorized).
TEST(ActivationQuant, Q8_KFirstLargestMagnitudeAtEveryPositionOnEveryTarget) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    for (int first = 0; first < 256; ++first) {
      for (int tie : {first + 1, first + 16, 255}) {
        std::vector<float> x(256);
        for (int i = 0; i < 256; ++i) x[i] = 2.0f * std::sin(0.3f * static_cast<float>(i));
        x[first] = first % 2 == 0 ? -3.0f : 3.0f;
        if (tie < 256 && tie != first) x[tie] = -x[first];
        BlockQ8_K q;
        QuantizeActivationsQ8_K(x.data(), &q, 256);
        const RefActBlock r = RefQ8_K(x.data(), 256)[0];
        ASSERT_EQ(q.d, static_cast<float>(r.d))
            << hwy::TargetName(target) << " first " << first << " tie " << tie;
        for (int j = 0; j < 16; ++j) {
          int sum = 0;
          for (int i = 16 * j; i < 16 * j + 16; ++i) {
            ASSERT_EQ(q.qs[i], r.q[i]) << hwy::TargetName(target) << " first " << first << " " << i;
            sum += r.q[i];
          }
          ASSERT_EQ(q.bsums[j], sum) << hwy::TargetName(target) << " first " << first << " " << j;
        }
      }
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

TEST(ActivationQuant, RejectsPartialBlocks) {
  std::vector<float> x(300);
  BlockQ8_0 q0[10];
  BlockQ8_K qk[2];
  EXPECT_THROW(QuantizeActivationsQ8_0(x.data(), q0, 48), Error);
  EXPECT_THROW(QuantizeActivationsQ8_K(x.data(), qk, 300), Error);
}

// ---------------------------------------------------------------------------
// The kGgml matmul against the double reference of the same arithmetic.

struct Shape {
  int64_t cols, rows, n_tokens;
};

// y = sum over blocks of (integer block dot) * scales, in double; `mag` is the
// same sum of absolute values (the scale of the f32 rounding allowed).
double RefDot(GgmlType type, const uint8_t* row, const float* x, int64_t cols, double* mag) {
  *mag = 0;
  double sum = 0;
  if (type == GgmlType::kF32 || type == GgmlType::kF16 || type == GgmlType::kBF16) {
    const std::vector<float> w = testref::Dequantize(type, row, cols);
    for (int64_t c = 0; c < cols; ++c) {
      const double xc = type == GgmlType::kF16    ? ToHalf(x[c])
                        : type == GgmlType::kBF16 ? ToBf16(x[c])
                                                  : x[c];
      sum += w[c] * xc;
      *mag += std::fabs(w[c] * xc);
    }
    return sum;
  }
  const bool k_quant =
      type == GgmlType::kQ4_K || type == GgmlType::kQ5_K || type == GgmlType::kQ6_K;
  const int64_t bs = k_quant ? 256 : 32;
  const std::vector<RefActBlock> acts = k_quant ? RefQ8_K(x, cols) : RefQ8_0(x, cols);
  for (int64_t b = 0; b < cols / bs; ++b) {
    const RefActBlock& xa = acts[b];
    int64_t isum = 0, iabs = 0, msum = 0, mabs = 0;
    testref::IntElement first;
    for (int64_t i = 0; i < bs; ++i) {
      const testref::IntElement e = testref::IntElementAt(type, row, b * bs + i);
      if (i == 0) first = e;
      isum += static_cast<int64_t>(e.scale) * e.q * xa.q[i];
      iabs += std::abs(static_cast<int64_t>(e.scale) * e.q * xa.q[i]);
      // The min of a sub-block meets the sum of its activation quants.
      msum += static_cast<int64_t>(e.min) * xa.q[i];
      mabs += std::abs(static_cast<int64_t>(e.min) * xa.q[i]);
    }
    sum += xa.d * (first.d * static_cast<double>(isum) - first.dmin * static_cast<double>(msum));
    *mag += std::fabs(xa.d) * (std::fabs(first.d) * iabs + std::fabs(first.dmin) * mabs);
  }
  return sum;
}

// row_bytes: the distance between weight rows, 0 for a padding of 6 bytes.
void CheckGgml(GgmlType type, Shape s, ThreadPool& pool, uint32_t seed, const std::string& label,
               size_t row_bytes = 0) {
  std::mt19937 rng(seed);
  if (row_bytes == 0) row_bytes = RowBytes(type, s.cols) + 6;  // padded rows
  std::vector<uint8_t> w(row_bytes * s.rows);
  for (int64_t r = 0; r < s.rows; ++r) {
    const std::vector<uint8_t> row = testref::RandomRow(type, s.cols, rng, -10, -4);
    std::copy(row.begin(), row.end(), w.begin() + r * row_bytes);
  }
  const int64_t x_stride = s.cols + 5, y_stride = s.rows + 3;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(x_stride * s.n_tokens);
  for (float& v : x) v = normal(rng);
  const float kSentinel = -12345.0f;
  std::vector<float> y(y_stride * s.n_tokens, kSentinel);

  const WeightView view{type, w.data(), s.cols, s.rows, row_bytes};
  MatMul(view, x.data(), x_stride, s.n_tokens, y.data(), y_stride, pool, MatMulPrecision::kGgml);

  for (int64_t t = 0; t < s.n_tokens; ++t) {
    for (int64_t r = 0; r < s.rows; ++r) {
      double mag = 0;
      const double ref = RefDot(type, w.data() + r * row_bytes, &x[t * x_stride], s.cols, &mag);
      const double got = y[t * y_stride + r];
      ASSERT_LE(std::fabs(got - ref), 1e-5 * mag + 1e-30)
          << label << " " << GetTypeTraits(type).name << " cols " << s.cols << " rows " << s.rows
          << " tokens " << s.n_tokens << " threads " << pool.size() << ": y[" << t << "][" << r
          << "] = " << got << ", reference " << ref;
    }
    for (int64_t r = s.rows; r < y_stride; ++r) {
      ASSERT_EQ(y[t * y_stride + r], kSentinel) << "MatMul wrote past its rows";
    }
  }
}

TEST(MatMulGgml, MatchesIntegerReferenceForEveryTypeShapeAndThreadCount) {
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  const Shape shapes[] = {{256, 7, 1},   {512, 37, 3}, {1024, 67, 17},
                          {4096, 19, 3}, {256, 1, 5},  {768, 13, 4}};
  uint32_t seed = 101;
  for (GgmlType type : testref::kAllTypes) {
    for (const Shape& s : shapes) {
      for (ThreadPool& pool : pools) CheckGgml(type, s, pool, seed++, "best target");
    }
  }
}

// The 32-element block types take any multiple of 32 columns: odd block
// counts (the 512-bit kernels pair blocks), single blocks, and row counts
// that leave a partial row tile, on one and two threads.
TEST(MatMulGgml, OddBlockCountsOfThe32BlockTypes) {
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2)};
  const Shape shapes[] = {{32, 3, 1}, {96, 9, 1}, {96, 9, 5}, {288, 6, 7}, {2080, 5, 2}};
  uint32_t seed = 301;
  for (GgmlType type : {GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    for (const Shape& s : shapes) {
      for (ThreadPool& pool : pools) CheckGgml(type, s, pool, seed++, "odd blocks");
    }
  }
}

// The batched kernels tile 16 rows x up to 8 tokens (AVX3_DL) or 4 x 4:
// every token count 1..33 (partial token tiles, the one-token matvec), row
// counts around the tile (1, 15, 16, 17, 33) and more than one super-block,
// for every quantized type (random scales of both signs), on 1 and 2 threads.
TEST(MatMulGgml, BatchedTokenCountsAndPartialRowTiles) {
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2)};
  const GgmlType types[] = {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_K, GgmlType::kQ5_K,
                            GgmlType::kQ6_K};
  uint32_t seed = 501;
  for (GgmlType type : types) {
    for (int64_t n_tokens = 1; n_tokens <= 33; ++n_tokens) {
      CheckGgml(type, {256, 17, n_tokens}, pools[n_tokens % 2], seed++, "token counts");
    }
    for (int64_t rows : {1, 15, 16, 33}) {
      for (int64_t n_tokens : {2, 8, 9, 16}) {
        for (ThreadPool& pool : pools) {
          CheckGgml(type, {512, rows, n_tokens}, pool, seed++, "row tiles");
        }
      }
    }
  }
}

// Up to 16 tokens, a row tile takes its 16 rows from the 16 sixteenths of a
// thread's rows; where those lie a multiple of 4 KiB apart the AVX3_DL kernel
// does the rows in two pieces, each spread over its own sixteenths. Rows 1152
// bytes apart on one thread: 512 rows (32 tiles, 36 KiB apart: two pieces of
// whole tiles), 500 (the second piece ends in a partial tile), 528 (33
// tiles, one piece).
TEST(MatMulGgml, SpreadRowTilesInTwoPiecesWhereRowsShareCacheSets) {
  ThreadPool pool(1);
  const GgmlType types[] = {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_K, GgmlType::kQ5_K,
                            GgmlType::kQ6_K};
  uint32_t seed = 701;
  for (GgmlType type : types) {
    for (int64_t rows : {512, 500, 528}) {
      for (int64_t n_tokens : {8, 13}) {
        CheckGgml(type, {1024, rows, n_tokens}, pool, seed++, "cache sets", 1152);
      }
    }
  }
}

TEST(MatMulGgml, EveryCompiledTarget) {
  ThreadPool pool(2);
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    for (GgmlType type : testref::kAllTypes) {
      CheckGgml(type, {512, 11, 6}, pool, 199, hwy::TargetName(target));
      CheckGgml(type, {256, 5, 1}, pool, 198, hwy::TargetName(target));
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// Activations that fp16 / bf16 cannot hold: kGgml must round them (as ggml
// converts them to the vec_dot type), kFloat must not. F32 weights keep f32
// activations in both modes.
TEST(MatMulGgml, RoundsActivationsToTheSixteenBitWeightType) {
  ThreadPool pool(1);
  const int64_t cols = 64;
  struct Case {
    GgmlType type;
    uint16_t one;  // bit pattern of 1.0
    float x;       // rounds to 1.0 in the 16-bit type
  };
  for (const Case& c : {Case{GgmlType::kF16, 0x3C00, 1.0f + 0x1p-12f},
                        Case{GgmlType::kBF16, 0x3F80, 1.0f + 0x1p-9f}}) {
    std::vector<uint16_t> w(cols, c.one);
    const std::vector<float> x(cols, c.x);
    const WeightView view{c.type, w.data(), cols, 1, cols * sizeof(uint16_t)};
    float y_ggml = 0, y_float = 0;
    MatMul(view, x.data(), cols, 1, &y_ggml, 1, pool, MatMulPrecision::kGgml);
    MatMul(view, x.data(), cols, 1, &y_float, 1, pool, MatMulPrecision::kFloat);
    EXPECT_EQ(y_ggml, 64.0f) << GetTypeTraits(c.type).name;
    EXPECT_EQ(y_float, 64.0f * c.x) << GetTypeTraits(c.type).name;
  }
  const std::vector<float> w(cols, 1.0f), x(cols, 1.0f + 0x1p-20f);
  const WeightView view{GgmlType::kF32, w.data(), cols, 1, cols * sizeof(float)};
  float y = 0;
  MatMul(view, x.data(), cols, 1, &y, 1, pool, MatMulPrecision::kGgml);
  EXPECT_EQ(y, 64.0f * (1.0f + 0x1p-20f));
}

// A Q8_0 weight row equal to an activation row that Q8_0 holds exactly: both
// sides quantize to the same integers, so kGgml gives the exact integer dot
// times the scales, which kFloat also gives; a row that Q8_0 cannot hold
// exactly shows the activation rounding.
TEST(MatMulGgml, Q8_0ActivationRoundingIsVisible) {
  ThreadPool pool(1);
  const int64_t cols = 32;
  BlockQ8_0 w;
  w.d = 0x3C00;  // 1.0
  for (int i = 0; i < 32; ++i) w.qs[i] = static_cast<int8_t>(i == 0 ? 127 : i - 16);
  std::vector<float> x(cols);
  for (int i = 0; i < 32; ++i) x[i] = i == 0 ? 127.0f : static_cast<float>(i - 16) + 0.25f;
  const WeightView view{GgmlType::kQ8_0, &w, cols, 1, sizeof(w)};
  float y_ggml = 0, y_float = 0;
  MatMul(view, x.data(), cols, 1, &y_ggml, 1, pool, MatMulPrecision::kGgml);
  MatMul(view, x.data(), cols, 1, &y_float, 1, pool, MatMulPrecision::kFloat);
  // x quantizes with d = 1 to round(x): the +0.25 are dropped.
  double exact_int = 127.0 * 127.0, with_quarters = 127.0 * 127.0;
  for (int i = 1; i < 32; ++i) {
    exact_int += (i - 16.0) * (i - 16.0);
    with_quarters += (i - 16.0) * (i - 16.0 + 0.25);
  }
  EXPECT_EQ(y_ggml, exact_int);
  EXPECT_FLOAT_EQ(y_float, with_quarters);
}

}  // namespace
}  // namespace arkv
