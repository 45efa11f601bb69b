// MatMul: argument checks, choice of the per-type kernel, and the split of
// output rows over the thread pool.
#include <algorithm>

#include "core/error.h"
#include "tensor/kernels.h"
#include "tensor/matmul_internal.h"

namespace arkv {
namespace {

internal::MatMulRowsFn KernelFor(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return internal::MatMulRowsF32;
    case GgmlType::kF16:
      return internal::MatMulRowsF16;
    case GgmlType::kBF16:
      return internal::MatMulRowsBF16;
    case GgmlType::kQ8_0:
      return internal::MatMulRowsQ8_0;
    case GgmlType::kQ4_0:
      return internal::MatMulRowsQ4_0;
    case GgmlType::kQ4_K:
      return internal::MatMulRowsQ4_K;
    case GgmlType::kQ5_K:
      return internal::MatMulRowsQ5_K;
    case GgmlType::kQ6_K:
      return internal::MatMulRowsQ6_K;
    default:
      return nullptr;
  }
}

}  // namespace

void MatMul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
            int64_t y_stride, ThreadPool& pool) {
  CheckWeightType(w.type, w.cols, "(matmul weight)");
  const internal::MatMulRowsFn kernel = KernelFor(w.type);
  if (kernel == nullptr) Fail("MatMul: no kernel for tensor type {}", GetTypeTraits(w.type).name);
  if (w.rows < 0 || n_tokens < 0) {
    Fail("MatMul: negative size (rows {}, n_tokens {})", w.rows, n_tokens);
  }
  if (w.rows == 0 || n_tokens == 0) return;
  if (w.data == nullptr || x == nullptr || y == nullptr) Fail("MatMul: null data pointer");
  if (w.row_bytes < RowBytes(w.type, w.cols)) {
    Fail("MatMul: row stride {} bytes is less than a {} row of {} elements ({} bytes)", w.row_bytes,
         GetTypeTraits(w.type).name, w.cols, RowBytes(w.type, w.cols));
  }
  if (n_tokens > 1 && (x_stride < w.cols || y_stride < w.rows)) {
    Fail("MatMul: strides (x {}, y {}) smaller than the rows they hold (x {}, y {})", x_stride,
         y_stride, w.cols, w.rows);
  }

  const internal::MatMulArgs args{w, x, x_stride, n_tokens, y, y_stride};
  // Chunks of at least ~64K weight elements keep the scheduling overhead
  // small (small matrices run on the calling thread alone); a multiple of 4
  // rows fits the row tiles of the batched kernels.
  const int64_t grain = (std::max<int64_t>(4, (int64_t{1} << 16) / w.cols) + 3) / 4 * 4;
  pool.ParallelFor(w.rows, grain, [&](int64_t begin, int64_t end) { kernel(args, begin, end); });
}

}  // namespace arkv
