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

}  // namespace arkv::internal
