// MatMul: argument checks, choice of the per-type kernel, and the split of
// output rows over the thread pool.
#include <algorithm>
#include <atomic>
#include <cstddef>

#include "core/aligned.h"
#include "core/error.h"
#include "core/fp16.h"
#include "tensor/activation_quant.h"
#include "tensor/kernels.h"
#include "tensor/matmul_internal.h"
#include "tensor/quant_blocks.h"

namespace arkv {
namespace {

internal::MatMulRowsFn KernelFor(GgmlType type) {
  switch (type) {
#define ARKV_KERNEL_CASE(T) \
  case GgmlType::k##T:      \
    return internal::MatMulRows##T;
    ARKV_WEIGHT_TYPES(ARKV_KERNEL_CASE)
#undef ARKV_KERNEL_CASE
    default:
      return nullptr;
  }
}

internal::IntMatMulRowsFn IntKernelFor(GgmlType type) {
  switch (type) {
#define ARKV_INT_KERNEL_CASE(T) \
  case GgmlType::k##T:          \
    return internal::IntMatMulRows##T;
    ARKV_QUANT_WEIGHT_TYPES(ARKV_INT_KERNEL_CASE)
#undef ARKV_INT_KERNEL_CASE
    default:
      return nullptr;
  }
}

// Per-thread scratch for the converted activations of one MatMul call,
// reused across calls (MatMul never re-enters on the calling thread).
void* Scratch(size_t bytes) {
  thread_local AlignedPtr<unsigned char> buf;
  thread_local size_t capacity = 0;
  if (bytes > capacity) {
    buf = AllocAligned<unsigned char>(bytes);
    capacity = bytes;
  }
  return buf.get();
}

// Output rows per scheduling chunk: at least ~64K weight elements keep the
// overhead small (small matrices run on the calling thread alone); a
// multiple of 16 rows fits the row tiles of the kernels (16 in the VNNI tile
// kernel) and gives each thread whole cache lines of an output row.
int64_t RowGrain(int64_t cols) {
  return (std::max<int64_t>(16, (int64_t{1} << 16) / std::max<int64_t>(cols, 1)) + 15) / 16 * 16;
}

// Activation rows are converted once each, in parallel over tokens, at least
// this many values per chunk.
constexpr int64_t kConvertChunkValues = int64_t{1} << 14;

// kGgml for F16 and BF16 weights: the activations are rounded to the weight
// type (as ggml converts them to its vec_dot type), then multiplied by the
// float kernel, whose products of two 16-bit values are exact in f32.
void MatMulRounded(const internal::MatMulArgs& in, internal::MatMulRowsFn kernel,
                   ThreadPool& pool) {
  const int64_t cols = in.w.cols;
  auto* xr = static_cast<float*>(
      Scratch(static_cast<size_t>(in.n_tokens) * static_cast<size_t>(cols) * sizeof(float)));
  const bool f16 = in.w.type == GgmlType::kF16;
  ForEachRow(pool, in.n_tokens, cols, kConvertChunkValues, [&](int64_t t) {
    const float* src = in.x + t * in.x_stride;
    float* dst = xr + t * cols;
    for (int64_t c = 0; c < cols; ++c) {
      dst[c] = f16 ? F16ToF32(F32ToF16(src[c])) : Bf16ToF32(F32ToBf16(src[c]));
    }
  });
  internal::MatMulArgs args = in;
  args.x = xr;
  args.x_stride = cols;
  pool.ParallelFor(in.w.rows, RowGrain(cols),
                   [&](int64_t begin, int64_t end) { kernel(args, begin, end); });
}

// kGgml for quantized weights: each activation row is quantized once to Q8_0
// or Q8_K blocks, which every output row then reuses.
void MatMulQuantized(const internal::MatMulArgs& in, ThreadPool& pool) {
  const int64_t cols = in.w.cols;
  const bool q8_k = GetTypeTraits(in.w.type).block_size == kQK_K;
  const int64_t block_elems = q8_k ? kQK_K : kQK;
  const size_t block_bytes = q8_k ? sizeof(BlockQ8_K) : sizeof(BlockQ8_0);
  const size_t row_bytes = static_cast<size_t>(cols / block_elems) * block_bytes;
  auto* acts = static_cast<unsigned char*>(Scratch(static_cast<size_t>(in.n_tokens) * row_bytes));
  ForEachRow(pool, in.n_tokens, cols, kConvertChunkValues, [&](int64_t t) {
    void* dst = acts + static_cast<size_t>(t) * row_bytes;
    if (q8_k) {
      QuantizeActivationsQ8_K(in.x + t * in.x_stride, static_cast<BlockQ8_K*>(dst), cols);
    } else {
      QuantizeActivationsQ8_0(in.x + t * in.x_stride, static_cast<BlockQ8_0*>(dst), cols);
    }
  });
  static std::atomic<uint64_t> calls{0};
  const internal::IntMatMulArgs args{in.w, acts, in.n_tokens, in.y, in.y_stride, ++calls};
  const internal::IntMatMulRowsFn kernel = IntKernelFor(in.w.type);
  pool.ParallelFor(in.w.rows, RowGrain(cols),
                   [&](int64_t begin, int64_t end) { kernel(args, begin, end); });
}

}  // namespace

void MatMul(const WeightView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
            int64_t y_stride, ThreadPool& pool, MatMulPrecision precision) {
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
  if (precision == MatMulPrecision::kGgml) {
    if (w.type == GgmlType::kF16 || w.type == GgmlType::kBF16) {
      return MatMulRounded(args, kernel, pool);
    }
    if (IntKernelFor(w.type) != nullptr) return MatMulQuantized(args, pool);
  }
  pool.ParallelFor(w.rows, RowGrain(w.cols),
                   [&](int64_t begin, int64_t end) { kernel(args, begin, end); });
}

}  // namespace arkv
