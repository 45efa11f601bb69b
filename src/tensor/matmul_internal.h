// Internal interface between MatMul (argument checks, threading) and the
// per-weight-type SIMD kernels, each compiled for every Highway target in its
// own translation unit and chosen at run time.
#pragma once

#include <cstdint>

#include "tensor/kernels.h"

namespace arkv::internal {

struct MatMulArgs {
  WeightView w;
  const float* x = nullptr;
  int64_t x_stride = 0;
  int64_t n_tokens = 0;
  float* y = nullptr;
  int64_t y_stride = 0;
};

// Computes Y[t][r] for every token t and rows r in [row_begin, row_end).
// Arguments are already validated.
using MatMulRowsFn = void (*)(const MatMulArgs& args, int64_t row_begin, int64_t row_end);

void MatMulRowsF32(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
void MatMulRowsF16(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
void MatMulRowsBF16(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
void MatMulRowsQ8_0(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
void MatMulRowsQ4_0(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
void MatMulRowsQ4_K(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
void MatMulRowsQ5_K(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
void MatMulRowsQ6_K(const MatMulArgs& args, int64_t row_begin, int64_t row_end);

// The integer (llama.cpp precision) matmul of a quantized weight type with
// activations already quantized to its vec_dot type: `acts` holds n_tokens
// rows of w.cols / block-size activation blocks (BlockQ8_0 for Q8_0/Q4_0,
// BlockQ8_K for the K-quants), one row after the other.
struct IntMatMulArgs {
  WeightView w;
  const void* acts = nullptr;
  int64_t n_tokens = 0;
  float* y = nullptr;
  int64_t y_stride = 0;
};

using IntMatMulRowsFn = void (*)(const IntMatMulArgs& args, int64_t row_begin, int64_t row_end);

void IntMatMulRowsQ8_0(const IntMatMulArgs& args, int64_t row_begin, int64_t row_end);
void IntMatMulRowsQ4_0(const IntMatMulArgs& args, int64_t row_begin, int64_t row_end);
void IntMatMulRowsQ4_K(const IntMatMulArgs& args, int64_t row_begin, int64_t row_end);
void IntMatMulRowsQ5_K(const IntMatMulArgs& args, int64_t row_begin, int64_t row_end);
void IntMatMulRowsQ6_K(const IntMatMulArgs& args, int64_t row_begin, int64_t row_end);

}  // namespace arkv::internal
