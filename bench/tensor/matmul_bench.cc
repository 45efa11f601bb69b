// Weight matmul throughput per weight type and precision: matvec (1 token,
// decode) and matmul (32 tokens, prefill), reported as weight bytes per
// second (what bounds decode) and GFLOP/s (2 flops per weight per token).
// precision 0 = kFloat (f32 activations), 1 = kGgml (llama.cpp's activation
// quantization and integer dot products; the time includes quantizing x).
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include <benchmark/benchmark.h>

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
