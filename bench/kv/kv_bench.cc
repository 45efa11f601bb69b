// Micro-benchmarks of the KV library: decode attention over the store at
// context 1K/4K/16K (all fp16 vs half fp16 / half fp8) and the row codecs.
// Shape of one Llama-3-8B layer: 32 query heads, 8 KV heads, head_dim 128.
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "arkv/kv_page_pool.h"
#include "kv/attention.h"
#include "kv/codecs.h"
#include "kv/token_store.h"

namespace arkv::kv {
namespace {

constexpr int kHeads = 32, kKvHeads = 8, kDim = 128, kGroup = kHeads / kKvHeads;

std::vector<float> Random(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// state.range(0): context; state.range(1): percent of tokens Quantized (fp8).
void BM_DecodeAttention(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int quant_pct = static_cast<int>(state.range(1));
  PagePool pool(64 * 1024);
  std::mt19937 rng(1);
  std::vector<SlotStore> orig, quant;
  for (int h = 0; h < kKvHeads; ++h) {
    orig.emplace_back(&pool, SlotFormat::kF16, kDim);
    quant.emplace_back(&pool, SlotFormat::kFp8, kDim);
    for (int t = 0; t < n; ++t) {
      const auto k = Random(kDim, rng), v = Random(kDim, rng);
      SlotStore& s = (t * 100 / n < quant_pct) ? quant[h] : orig[h];
      EncodeSlot(s.format(), k.data(), v.data(), kDim, s.Append(t));
    }
  }
  const auto q = Random(kHeads * kDim, rng);
  std::vector<float> out(kHeads * kDim);
  const int32_t pos = n;
  for (auto _ : state) {
    for (int h = 0; h < kKvHeads; ++h) {
      const SlotSpan spans[2] = {orig[h].View(), quant[h].View()};
      QueryBlock qb;
      qb.q = q.data() + h * kGroup * kDim;
      qb.q_token_stride = kHeads * kDim;
      qb.positions = &pos;
      qb.n_queries = 1;
      qb.group = kGroup;
      qb.head_dim = kDim;
      qb.scale = 0.088f;
      qb.out = out.data() + h * kGroup * kDim;
      qb.out_token_stride = kHeads * kDim;
      AttendKvHead(spans, 2, qb, nullptr);
    }
    benchmark::DoNotOptimize(out.data());
  }
  const double bytes = static_cast<double>(orig[0].bytes() + quant[0].bytes()) * kKvHeads;
  state.counters["kv_bytes"] = bytes;
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(n) * kKvHeads,
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DecodeAttention)
    ->ArgsProduct({{1024, 4096, 16384}, {0, 50}})
    ->ArgNames({"ctx", "fp8_pct"})
    ->Unit(benchmark::kMicrosecond);

void BM_QuantizeRow(benchmark::State& state) {
  const auto type = static_cast<QuantType>(state.range(0));
  std::mt19937 rng(2);
  const auto x = Random(kDim, rng);
  std::vector<uint8_t> codes(QuantRowBytes(type, kDim));
  for (auto _ : state) {
    benchmark::DoNotOptimize(QuantizeRow(type, x.data(), kDim, codes.data()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kDim);
}
BENCHMARK(BM_QuantizeRow)->DenseRange(0, 2)->ArgName("fp8_int8_int4");

void BM_DequantizeRow(benchmark::State& state) {
  const auto type = static_cast<QuantType>(state.range(0));
  std::mt19937 rng(3);
  const auto x = Random(kDim, rng);
  std::vector<uint8_t> codes(QuantRowBytes(type, kDim));
  const float scale = QuantizeRow(type, x.data(), kDim, codes.data());
  std::vector<float> y(kDim);
  for (auto _ : state) {
    DequantizeRow(type, codes.data(), scale, kDim, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * kDim);
}
BENCHMARK(BM_DequantizeRow)->DenseRange(0, 2)->ArgName("fp8_int8_int4");

}  // namespace
}  // namespace arkv::kv
