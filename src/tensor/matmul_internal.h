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

// The weight types with kernels, one X(Name) each, in three groups (one
// translation unit per group): GgmlType::kName exists, and the group's
// translation unit defines the decoder DecodeName (float kernels) and, for
// the quantized types, IntName (llama.cpp-compatible integer kernels).
// Every declaration, dispatch table and switch below is generated from
// these lists.
#define ARKV_PLAIN_WEIGHT_TYPES(X) X(F32) X(F16) X(BF16)
#define ARKV_QUANT32_WEIGHT_TYPES(X) X(Q8_0) X(Q4_0)
#define ARKV_KQUANT_WEIGHT_TYPES(X) X(Q4_K) X(Q5_K) X(Q6_K)
#define ARKV_QUANT_WEIGHT_TYPES(X) ARKV_QUANT32_WEIGHT_TYPES(X) ARKV_KQUANT_WEIGHT_TYPES(X)
#define ARKV_WEIGHT_TYPES(X) ARKV_PLAIN_WEIGHT_TYPES(X) ARKV_QUANT_WEIGHT_TYPES(X)

// MatMulRowsName: the float kernel of weight type Name (MatMulRowsFn).
#define ARKV_DECLARE_FLOAT_KERNEL(T) \
  void MatMulRows##T(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
ARKV_WEIGHT_TYPES(ARKV_DECLARE_FLOAT_KERNEL)
#undef ARKV_DECLARE_FLOAT_KERNEL

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
  // Distinct for every MatMul call (0: unknown): a kernel called for several
  // row chunks of one call may keep per-thread work derived from `acts`
  // (e.g. converted activation scales) from one chunk to the next.
  uint64_t call_id = 0;
};

using IntMatMulRowsFn = void (*)(const IntMatMulArgs& args, int64_t row_begin, int64_t row_end);

// IntMatMulRowsName: the integer kernel of quantized type Name.
#define ARKV_DECLARE_INT_KERNEL(T) \
  void IntMatMulRows##T(const IntMatMulArgs& args, int64_t row_begin, int64_t row_end);
ARKV_QUANT_WEIGHT_TYPES(ARKV_DECLARE_INT_KERNEL)
#undef ARKV_DECLARE_INT_KERNEL

}  // namespace arkv::internal

// For the translation units of the kernels (Highway foreach_target):
// ARKV_KERNEL_IMPL(Name) inside HWY_NAMESPACE defines the per-target bodies
// of type Name; ARKV_KERNEL_DISPATCH(Name) in the HWY_ONCE part (namespace
// arkv) exports them and defines the dispatching entry points above. The
// INT variants do the same for the integer kernels.
#define ARKV_KERNEL_IMPL(T)                                                         \
  void MatMulRows##T##Impl(const internal::MatMulArgs& a, int64_t r0, int64_t r1) { \
    MatMulRowsT<Decode##T>(a, r0, r1);                                              \
  }
#define ARKV_KERNEL_DISPATCH(T)                                                         \
  HWY_EXPORT(MatMulRows##T##Impl);                                                      \
  void internal::MatMulRows##T(const internal::MatMulArgs& a, int64_t r0, int64_t r1) { \
    HWY_DYNAMIC_DISPATCH(MatMulRows##T##Impl)(a, r0, r1);                               \
  }
#define ARKV_INT_KERNEL_IMPL(T)                                                           \
  void IntMatMulRows##T##Impl(const internal::IntMatMulArgs& a, int64_t r0, int64_t r1) { \
    IntMatMulRowsT<Int##T>(a, r0, r1);                                                    \
  }
#define ARKV_INT_KERNEL_DISPATCH(T)                                                           \
  HWY_EXPORT(IntMatMulRows##T##Impl);                                                         \
  void internal::IntMatMulRows##T(const internal::IntMatMulArgs& a, int64_t r0, int64_t r1) { \
    HWY_DYNAMIC_DISPATCH(IntMatMulRows##T##Impl)(a, r0, r1);                                  \
  }

namespace arkv::internal {}  // namespace arkv::internal
