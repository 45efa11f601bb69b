// Activation quantizers of llama.cpp's CPU matmul: before a matrix product,
// ggml converts each activation row to the "vec_dot type" of the weights
// (Q8_0 blocks for Q4_0/Q8_0 weights, Q8_K blocks for the K-quants). These
// reproduce the reference llama.cpp build (x86-64, AVX2) bit for bit.
#pragma once

#include <cstdint>

#include "tensor/quant_blocks.h"

namespace arkv {

// n / 32 blocks: d = amax / 127 stored as fp16, q = x * (127 / amax) rounded
// to nearest, ties to even (ggml's AVX2 quantize_row_q8_0; its scalar
// quantize_row_q8_0_ref instead multiplies by 1 / d and rounds ties away from
// zero, which differs only in the last bit of rare values). An all-zero block
// gets d = 0 and q = 0. n must be a multiple of 32.
void QuantizeActivationsQ8_0(const float* x, BlockQ8_0* y, int64_t n);

// n / 256 blocks as ggml's quantize_row_q8_K_ref: `max` is the first value of
// largest magnitude, iscale = -127 / max, q = min(127, nearest_int(iscale * x))
// (ties to even), d = 1 / iscale (an f32, negative when max > 0), and bsums
// are the sums of each 16 consecutive q. An all-zero block gets d = 0, q = 0.
// n must be a multiple of 256.
void QuantizeActivationsQ8_K(const float* x, BlockQ8_K* y, int64_t n);

}  // namespace arkv
