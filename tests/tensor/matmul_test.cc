#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "hwy/targets.h"
#include "reference.h"
#include "tensor/kernels.h"

namespace arkv {
namespace {

struct Shape {
  int64_t cols, rows, n_tokens;
};

// Runs MatMul on random weights and activations (with padded strides) and
// compares every output with a double-precision dot product of the reference
// dequantization, relative to sum |w| |x| of the row.
void CheckMatMul(GgmlType type, Shape s, ThreadPool& pool, uint32_t seed,
                 const std::string& label) {
  std::mt19937 rng(seed);
  const size_t row_bytes = RowBytes(type, s.cols) + 6;  // padded rows
  std::vector<uint8_t> w(row_bytes * s.rows);
  std::vector<std::vector<float>> w_ref;
  for (int64_t r = 0; r < s.rows; ++r) {
    const std::vector<uint8_t> row = testref::RandomRow(type, s.cols, rng, -10, -4);
    std::copy(row.begin(), row.end(), w.begin() + r * row_bytes);
    w_ref.push_back(testref::Dequantize(type, row.data(), s.cols));
  }
  const int64_t x_stride = s.cols + 5, y_stride = s.rows + 3;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(x_stride * s.n_tokens);
  for (float& v : x) v = normal(rng);
  const float kSentinel = -12345.0f;
  std::vector<float> y(y_stride * s.n_tokens, kSentinel);

  const WeightView view{type, w.data(), s.cols, s.rows, row_bytes};
  MatMul(view, x.data(), x_stride, s.n_tokens, y.data(), y_stride, pool, MatMulPrecision::kFloat);

  for (int64_t t = 0; t < s.n_tokens; ++t) {
    for (int64_t r = 0; r < s.rows; ++r) {
      double ref = 0, mag = 0;
      for (int64_t c = 0; c < s.cols; ++c) {
        const double wx = static_cast<double>(w_ref[r][c]) * x[t * x_stride + c];
        ref += wx;
        mag += std::fabs(wx);
      }
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

TEST(MatMul, MatchesDoubleReferenceForEveryTypeShapeAndThreadCount) {
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  const Shape shapes[] = {{256, 7, 1}, {512, 37, 3}, {1024, 67, 17}, {4096, 19, 3}, {256, 1, 5}};
  uint32_t seed = 1;
  for (GgmlType type : testref::kAllTypes) {
    for (const Shape& s : shapes) {
      for (ThreadPool& pool : pools) CheckMatMul(type, s, pool, seed++, "best target");
    }
  }
}

TEST(MatMul, PlainTypesAcceptAnyRowLength) {
  ThreadPool pool(2);
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16}) {
    for (int64_t cols : {1, 7, 33, 100, 255}) CheckMatMul(type, {cols, 13, 5}, pool, 7, "tail");
  }
}

TEST(MatMul, RowsEndingInsideAColumnChunk) {
  // The batched kernel decodes 256 columns at a time: 288 and 544 leave a
  // partial last chunk for the 32-element block types.
  ThreadPool pool(3);
  for (GgmlType type : {GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    for (int64_t cols : {288, 544}) CheckMatMul(type, {cols, 10, 6}, pool, 11, "partial chunk");
  }
}

// Every SIMD target compiled into the library and supported by this CPU
// (e.g. SSE4, AVX2, AVX-512, and the portable fallback) gives correct results.
TEST(MatMul, EveryCompiledTarget) {
  ThreadPool pool(2);
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    for (GgmlType type : testref::kAllTypes) {
      CheckMatMul(type, {512, 11, 6}, pool, 99, hwy::TargetName(target));
      CheckMatMul(type, {256, 5, 1}, pool, 98, hwy::TargetName(target));
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// With one-hot activations every output is a single weight times 1, summed
// with exact zeros: the kernels' decoded weights must equal the reference
// dequantization bit for bit, on every target, in matvec and batched paths.
TEST(MatMul, OneHotActivationsReproduceWeightsExactly) {
  std::mt19937 rng(17);
  ThreadPool pool(2);
  const int64_t cols = 512, rows = 9;
  for (GgmlType type : testref::kAllTypes) {
    const size_t rb = RowBytes(type, cols);
    std::vector<uint8_t> w;
    std::vector<std::vector<float>> ref;
    for (int64_t r = 0; r < rows; ++r) {
      const auto row = testref::RandomRow(type, cols, rng, -20, 10);
      w.insert(w.end(), row.begin(), row.end());
      ref.push_back(testref::Dequantize(type, row.data(), cols));
    }
    const WeightView view{type, w.data(), cols, rows, rb};
    for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
      hwy::SetSupportedTargetsForTest(target);
      for (int64_t n_tokens : {1, 7}) {
        for (int64_t c0 = 0; c0 < cols; c0 += 61) {
          std::vector<float> x(cols * n_tokens, 0.0f), y(rows * n_tokens);
          for (int64_t t = 0; t < n_tokens; ++t) x[t * cols + (c0 + 37 * t) % cols] = 1.0f;
          MatMul(view, x.data(), cols, n_tokens, y.data(), rows, pool, MatMulPrecision::kFloat);
          for (int64_t t = 0; t < n_tokens; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
              ASSERT_EQ(y[t * rows + r], ref[r][(c0 + 37 * t) % cols])
                  << GetTypeTraits(type).name << " " << hwy::TargetName(target) << " row " << r
                  << " col " << (c0 + 37 * t) % cols << " tokens " << n_tokens;
            }
          }
        }
      }
    }
    hwy::SetSupportedTargetsForTest(0);
  }
}

TEST(MatMul, BatchEqualsRepeatedSingleTokenWithinRounding) {
  // Tiling must not change which values are summed: compare a 9-token batch
  // with 9 separate calls (only the accumulation order may differ).
  std::mt19937 rng(5);
  ThreadPool pool(2);
  const int64_t cols = 512, rows = 21, n = 9;
  const size_t rb = RowBytes(GgmlType::kQ4_K, cols);
  std::vector<uint8_t> w;
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = testref::RandomRow(GgmlType::kQ4_K, cols, rng, -10, -4);
    w.insert(w.end(), row.begin(), row.end());
  }
  std::vector<float> x(cols * n);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  const WeightView view{GgmlType::kQ4_K, w.data(), cols, rows, rb};
  std::vector<float> batch(rows * n), single(rows);
  MatMul(view, x.data(), cols, n, batch.data(), rows, pool, MatMulPrecision::kFloat);
  for (int64_t t = 0; t < n; ++t) {
    MatMul(view, x.data() + t * cols, cols, 1, single.data(), rows, pool, MatMulPrecision::kFloat);
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_NEAR(batch[t * rows + r], single[r], 1e-4 * (std::fabs(single[r]) + 1))
          << "token " << t << " row " << r;
    }
  }
}

TEST(MatMul, RejectsBadArguments) {
  ThreadPool pool(1);
  std::vector<uint8_t> w(4096);
  std::vector<float> x(256), y(16);
  WeightView v{GgmlType::kQ4_1, w.data(), 32, 4, 20};
  EXPECT_THROW(MatMul(v, x.data(), 32, 1, y.data(), 4, pool), Error);
  v = WeightView{GgmlType::kQ8_0, w.data(), 32, 4, 20};  // row_bytes < 34
  EXPECT_THROW(MatMul(v, x.data(), 32, 1, y.data(), 4, pool), Error);
  v = WeightView{GgmlType::kQ8_0, w.data(), 48, 4, 34};  // cols not a multiple of 32
  EXPECT_THROW(MatMul(v, x.data(), 48, 1, y.data(), 4, pool), Error);
  v = WeightView{GgmlType::kQ8_0, w.data(), 32, 4, 34};
  EXPECT_THROW(MatMul(v, x.data(), 16, 2, y.data(), 4, pool), Error);  // x stride too small
  EXPECT_THROW(MatMul(v, nullptr, 32, 1, y.data(), 4, pool), Error);
  EXPECT_NO_THROW(MatMul(v, x.data(), 32, 0, y.data(), 4, pool));
}

}  // namespace
}  // namespace arkv
