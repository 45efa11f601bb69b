// Weight kernels over GGUF tensor encodings. Weights are never expanded into
// dense float copies: rows are dequantized block by block inside the dot
// products. Kernels take plain views; they own nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/thread_pool.h"
#include "gguf/ggml_types.h"

namespace arkv {

// A 2-D weight matrix in its GGUF encoding: `rows` rows of `cols` elements,
// each row `row_bytes` apart (ggml: ne[0] = cols, ne[1] = rows).
struct WeightView {
  GgmlType type = GgmlType::kF32;
  const void* data = nullptr;
  int64_t cols = 0;
  int64_t rows = 0;
  size_t row_bytes = 0;
};

// Throws "unsupported tensor type X in tensor NAME" for types arkv cannot
// compute with, and a shape error when cols is not a multiple of the block.
void CheckWeightType(GgmlType type, int64_t cols, const char* tensor_name);

// dst[0..n) = the n values of one encoded row. n is a multiple of the block size.
void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n);

// Encodes n floats into `type` (round to nearest as ggml's reference
// quantizers do). dst must hold RowBytes(type, n) bytes.
void QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n);

// How MatMul rounds.
//  kFloat: activations stay f32 and weights are dequantized exactly; the only
//          rounding is that of the f32 accumulation.
//  kGgml:  llama.cpp's CPU arithmetic: each activation row is first converted
//          to the weight type's vec_dot type (F16: fp16, BF16: bf16, Q8_0 and
//          Q4_0: Q8_0 blocks, Q4_K/Q5_K/Q6_K: Q8_K blocks; F32 stays f32), then
//          quantized weights meet quantized activations in integer dot
//          products per block, combined with the block scales in float.
enum class MatMulPrecision { kFloat, kGgml };

// Y[t][r] = sum_c W[r][c] * X[t][c] for t < n_tokens, r < w.rows.
// X is [n_tokens][w.cols] (row stride x_stride floats), Y is [n_tokens][w.rows]
// (row stride y_stride floats). Parallel over output rows on `pool`.
void MatMul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
            int64_t y_stride, ThreadPool& pool, MatMulPrecision precision = MatMulPrecision::kGgml);

}  // namespace arkv
