// Weight matmul throughput per weight type and precision, next to the
// machine's read bandwidth:
//  BM_ReadBandwidth  sum of 1 GiB of floats on 1 and 2 threads: the ceiling.
//  BM_Decode         matvec over 1 GiB of weights (far beyond the caches), as a
//                    decode step streams a model: GB/s of weights read, to set
//                    against BM_ReadBandwidth. vnni:0 withholds Highway's AVX3_DL
//                    target (AVX512-VNNI) to show what it brings.
//  BM_Batched        the batched kernels at 1, 8, 16 and 512 tokens: weight GB/s
//                    and rows x tokens per second.
//  BM_BatchedShape   8 tokens over the matrix shapes of a 1B model, streamed:
//                    weight GB/s as a batched decode step splits them.
//  BM_MatMul         matvec (1 token) and matmul (32 tokens, prefill) on a small
//                    in-cache matrix: weight bytes per second and GFLOP/s (2 flops
//                    per weight per token).
// precision / ggml 0 = kFloat (f32 activations), 1 = kGgml (llama.cpp's
// activation quantization and integer dot products; the time includes
// quantizing x).
#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include <benchmark/benchmark.h>
#include <hwy/targets.h>

#include "core/aligned.h"
#include "core/thread_pool.h"
#include "tensor/kernels.h"

namespace arkv {
namespace {

const GgmlType kTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ8_0,
                           GgmlType::kQ4_0, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};

// Quantized N(0, 0.02) weights, built once per (type, rows, cols).
const std::vector<uint8_t>& Weights(GgmlType type, int64_t rows, int64_t cols) {
  static std::map<std::tuple<GgmlType, int64_t, int64_t>, std::vector<uint8_t>> cache;
  auto& w = cache[{type, rows, cols}];
  if (w.empty()) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> row(cols);
    const size_t row_bytes = RowBytes(type, cols);
    w.resize(row_bytes * rows);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : row) v = normal(rng);
      QuantizeRow(type, row.data(), w.data() + r * row_bytes, cols);
    }
  }
  return w;
}

// Args: type index, rows (= cols), tokens, threads, precision.
void BM_MatMul(benchmark::State& state) {
  const GgmlType type = kTypes[state.range(0)];
  const int64_t n = state.range(1), n_tokens = state.range(2);
  const MatMulPrecision precision =
      state.range(4) == 0 ? MatMulPrecision::kFloat : MatMulPrecision::kGgml;
  const std::vector<uint8_t>& w = Weights(type, n, n);
  ThreadPool pool(static_cast<int>(state.range(3)));
  auto x = AllocAligned<float>(n * n_tokens);
  auto y = AllocAligned<float>(n * n_tokens);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < n * n_tokens; ++i) x[i] = normal(rng);
  const WeightView view{type, w.data(), n, n, RowBytes(type, n)};
  for (auto _ : state) {
    MatMul(view, x.get(), n, n_tokens, y.get(), n, pool, precision);
    benchmark::DoNotOptimize(y[0]);
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(GetTypeTraits(type).name) +
                 (precision == MatMulPrecision::kFloat ? " float" : " ggml"));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(w.size()));
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n_tokens) * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate);
}

constexpr size_t kStreamBytes = size_t{1} << 30;

// One 1 GiB buffer shared by the streaming benchmarks (allocated once).
uint8_t* StreamBuffer() {
  static AlignedPtr<uint8_t> buf = AllocAligned<uint8_t>(kStreamBytes);
  return buf.get();
}

// The stream buffer's first `rows` rows of `cols` values of `type`, copies of
// 256 distinct random rows, so that the weights stream from memory.
uint8_t* FillStream(GgmlType type, int64_t cols, int64_t rows) {
  const size_t row_bytes = RowBytes(type, cols);
  const std::vector<uint8_t>& distinct = Weights(type, 256, cols);
  uint8_t* w = StreamBuffer();
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(w + r * row_bytes, distinct.data() + (r % 256) * row_bytes, row_bytes);
  }
  return w;
}

// n_tokens rows of cols standard normal activations.
AlignedPtr<float> NormalActivations(int64_t cols, int64_t n_tokens) {
  auto x = AllocAligned<float>(static_cast<size_t>(cols * n_tokens));
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < cols * n_tokens; ++i) x[i] = normal(rng);
  return x;
}

// Args: threads, streams. Sums 1 GiB of floats split over the threads, each
// thread's part read as `streams` sequential streams at once (64 bytes of
// each in turn): the read bandwidth a matvec can reach at best. One stream
// is what a naive loop gets; the hardware prefetchers fetch further ahead
// with a few concurrent streams, which is how the matvec kernels read (see
// VnniKMatVecRows), so the machine's bandwidth is the best of the rows.
void BM_ReadBandwidth(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t streams = state.range(1);
  const auto* data = reinterpret_cast<const float*>(StreamBuffer());
  const int64_t n = static_cast<int64_t>(kStreamBytes / sizeof(float));
  ThreadPool pool(threads);
  std::vector<double> partial(static_cast<size_t>(threads) * 8);  // one cache line each
  for (auto _ : state) {
    const int64_t per = (n + threads - 1) / threads;
    pool.ParallelFor(threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        float s[16] = {};
        const int64_t lo = t * per, hi = std::min(n, lo + per);
        const int64_t per_stream = (hi - lo) / streams / 16 * 16;
        for (int64_t i = 0; i < per_stream; i += 16) {
          for (int64_t k = 0; k < streams; ++k) {
            const float* p = data + lo + k * per_stream + i;
            for (int j = 0; j < 16; ++j) s[j] += p[j];
          }
        }
        double total = 0;
        for (float v : s) total += v;
        partial[static_cast<size_t>(t) * 8] = total;
      }
    });
    benchmark::DoNotOptimize(partial.data());
    benchmark::ClobberMemory();
  }
  // 1 GiB divides exactly into 1 or 2 threads x 1, 4 or 16 streams of 16 floats.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kStreamBytes));
}
BENCHMARK(BM_ReadBandwidth)
    ->ArgNames({"threads", "streams"})
    ->ArgsProduct({{1, 2}, {1, 4, 16}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Args: type index, threads, vnni. A matrix of 4096 columns and as many rows
// as fit in 1 GiB (256 distinct quantized rows repeated: values do not
// change the speed), one token, kGgml.
void BM_Decode(benchmark::State& state) {
  const GgmlType type = kTypes[state.range(0)];
  const int64_t cols = 4096;
  const size_t row_bytes = RowBytes(type, cols);
  const int64_t rows = static_cast<int64_t>(kStreamBytes / row_bytes);
  uint8_t* w = FillStream(type, cols, rows);
  if (state.range(2) == 0) {
    if ((hwy::SupportedTargets() & HWY_AVX3) == 0) {
      state.SkipWithError("no AVX3 target to compare with");
      return;
    }
    hwy::SetSupportedTargetsForTest(HWY_AVX3);
  }
  ThreadPool pool(static_cast<int>(state.range(1)));
  std::vector<float> x(cols), y(rows);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  const WeightView view{type, w, cols, rows, row_bytes};
  for (auto _ : state) {
    MatMul(view, x.data(), cols, 1, y.data(), rows, pool, MatMulPrecision::kGgml);
    benchmark::DoNotOptimize(y[0]);
    benchmark::ClobberMemory();
  }
  hwy::SetSupportedTargetsForTest(0);
  state.SetLabel(std::string(GetTypeTraits(type).name));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * rows *
                          static_cast<int64_t>(row_bytes));
}

void DecodeArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"type", "threads", "vnni"});
  for (int64_t t = 1; t < static_cast<int64_t>(std::size(kTypes)); ++t) {
    for (int64_t threads : {1, 2}) {
      for (int64_t vnni : {1, 0}) b->Args({t, threads, vnni});
    }
  }
}
BENCHMARK(BM_Decode)->Apply(DecodeArgs)->UseRealTime()->Unit(benchmark::kMillisecond);

// Args: type index, tokens, threads. The batched kernels (prefill, batched
// decode) at 4096 columns: up to 16 tokens over 1 GiB of weights (streamed
// from memory, as a batched decode step reads the model: compare the bytes
// per second with BM_ReadBandwidth and with tokens:1), 512 tokens over 4096
// rows (compute-bound, as prefill). Reports weight bytes per second and
// rows x tokens per second.
void BM_Batched(benchmark::State& state) {
  const GgmlType type = kTypes[state.range(0)];
  const int64_t n_tokens = state.range(1);
  const int64_t cols = 4096;
  const size_t row_bytes = RowBytes(type, cols);
  const int64_t rows =
      n_tokens <= 16 ? static_cast<int64_t>(kStreamBytes / row_bytes) / 16 * 16 : 4096;
  uint8_t* w = FillStream(type, cols, rows);
  ThreadPool pool(static_cast<int>(state.range(2)));
  const auto x = NormalActivations(cols, n_tokens);
  auto y = AllocAligned<float>(static_cast<size_t>(rows * n_tokens));
  const WeightView view{type, w, cols, rows, row_bytes};
  for (auto _ : state) {
    MatMul(view, x.get(), cols, n_tokens, y.get(), rows, pool, MatMulPrecision::kGgml);
    benchmark::DoNotOptimize(y[0]);
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(GetTypeTraits(type).name));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * rows *
                          static_cast<int64_t>(row_bytes));
  state.counters["rows*tokens/s"] =
      benchmark::Counter(static_cast<double>(rows) * static_cast<double>(n_tokens),
                         benchmark::Counter::kIsIterationInvariantRate);
}

void BatchedArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"type", "tokens", "threads"});
  for (int64_t t = 3; t < static_cast<int64_t>(std::size(kTypes)); ++t) {  // quantized types
    for (int64_t tokens : {1, 8, 16, 512}) {
      for (int64_t threads : {1, 2}) b->Args({t, tokens, threads});
    }
  }
}
BENCHMARK(BM_Batched)->Apply(BatchedArgs)->UseRealTime()->Unit(benchmark::kMillisecond);

// Args: type index, rows, cols, tokens, threads. A batched decode step over
// a model's matrix shape: copies of one rows x cols matrix fill the 1 GiB
// buffer and each iteration multiplies all of them, so the weights stream
// from memory and each call splits its rows over the threads as a model's
// does (a thread's rows, and so the spacing of a row tile's rows, depend on
// the shape: 1024 rows of a 2048-column Q4_K matrix are 72 x 4 KiB).
// Reports weight bytes per second.
void BM_BatchedShape(benchmark::State& state) {
  const GgmlType type = kTypes[state.range(0)];
  const int64_t rows = state.range(1), cols = state.range(2), n_tokens = state.range(3);
  const size_t row_bytes = RowBytes(type, cols), matrix_bytes = row_bytes * rows;
  const int64_t n_matrices = static_cast<int64_t>(kStreamBytes / matrix_bytes);
  uint8_t* w = FillStream(type, cols, n_matrices * rows);
  ThreadPool pool(static_cast<int>(state.range(4)));
  const auto x = NormalActivations(cols, n_tokens);
  auto y = AllocAligned<float>(static_cast<size_t>(rows * n_tokens));
  for (auto _ : state) {
    for (int64_t m = 0; m < n_matrices; ++m) {
      const WeightView view{type, w + m * matrix_bytes, cols, rows, row_bytes};
      MatMul(view, x.get(), cols, n_tokens, y.get(), rows, pool, MatMulPrecision::kGgml);
    }
    benchmark::DoNotOptimize(y[0]);
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(GetTypeTraits(type).name));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n_matrices *
                          static_cast<int64_t>(matrix_bytes));
}

// The matrices of a Llama 3.2 1B Q4_K_M decode step at 8 sequences: ffn_up
// and ffn_gate (Q4_K), ffn_down (Q6_K in some layers, Q4_K in the others),
// attn_q (Q4_K), and a row count that spaces the rows differently.
void BatchedShapeArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"type", "rows", "cols", "tokens", "threads"});
  for (int64_t threads : {1, 2}) {
    b->Args({5, 8192, 2048, 8, threads});
    b->Args({5, 8064, 2048, 8, threads});
    b->Args({7, 2048, 8192, 8, threads});
    b->Args({5, 2048, 8192, 8, threads});
    b->Args({5, 2048, 2048, 8, threads});
  }
}
BENCHMARK(BM_BatchedShape)->Apply(BatchedShapeArgs)->UseRealTime()->Unit(benchmark::kMillisecond);

void MatMulArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"type", "n", "tokens", "threads", "ggml"});
  for (int64_t t = 0; t < static_cast<int64_t>(std::size(kTypes)); ++t) {
    for (int64_t n : {1024, 4096}) {
      for (int64_t tokens : {1, 32}) {
        for (int64_t threads : {1, 2}) {
          for (int64_t ggml : {0, 1}) b->Args({t, n, tokens, threads, ggml});
        }
      }
    }
  }
}
BENCHMARK(BM_MatMul)->Apply(MatMulArgs)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace arkv

BENCHMARK_MAIN();
