// Micro-benchmarks of the KV library: decode attention over the store at
// context 1K/4K/16K (all fp16, half fp16 / half fp8, all fp8), prefill
// attention of a 512-token chunk (with and without the probability capture the
// ARKV policies use) and the row codecs. One thread.
// Shape of one Llama-3 layer: 32 query heads, 8 KV heads, head_dim 128 (8B)
// or 64 (3.2-1B; the decode benchmark's `dim`).
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

// One layer's KV stores: per KV head an Original (fp16) and a Quantized (fp8)
// store; the first quant_pct percent of the n tokens are Quantized.
struct LayerStores {
  std::vector<SlotStore> orig, quant;
  LayerStores(PagePool* pool, int n, int quant_pct, std::mt19937& rng, int dim = kDim) {
    for (int h = 0; h < kKvHeads; ++h) {
      orig.emplace_back(pool, SlotFormat::kF16, dim);
      quant.emplace_back(pool, SlotFormat::kFp8, dim);
      for (int t = 0; t < n; ++t) {
        const auto k = Random(dim, rng), v = Random(dim, rng);
        SlotStore& s = (static_cast<int64_t>(t) * 100 / n < quant_pct) ? quant[h] : orig[h];
        EncodeSlot(s.format(), k.data(), v.data(), dim, s.Append(t));
      }
    }
  }
  size_t bytes() const {
    size_t b = 0;
    for (int h = 0; h < kKvHeads; ++h) b += orig[h].bytes() + quant[h].bytes();
    return b;
  }
};

// state.range(0): context; state.range(1): percent of tokens Quantized (fp8);
// state.range(2): head dim.
void BM_DecodeAttention(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int quant_pct = static_cast<int>(state.range(1));
  const int dim = static_cast<int>(state.range(2));
  PagePool pool(64 * 1024);
  std::mt19937 rng(1);
  LayerStores stores(&pool, n, quant_pct, rng, dim);
  auto& orig = stores.orig;
  auto& quant = stores.quant;
  const auto q = Random(kHeads * dim, rng);
  std::vector<float> out(kHeads * dim);
  const int32_t pos = n;
  for (auto _ : state) {
    for (int h = 0; h < kKvHeads; ++h) {
      const SlotSpan spans[2] = {orig[h].View(), quant[h].View()};
      QueryBlock qb;
      qb.q = q.data() + h * kGroup * dim;
      qb.q_token_stride = kHeads * dim;
      qb.positions = &pos;
      qb.n_queries = 1;
      qb.group = kGroup;
      qb.head_dim = dim;
      qb.scale = 0.088f;
      qb.out = out.data() + h * kGroup * dim;
      qb.out_token_stride = kHeads * dim;
      AttendKvHead(spans, 2, qb, nullptr);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["kv_bytes"] = static_cast<double>(stores.bytes());
  state.counters["kv_bytes/s"] = benchmark::Counter(static_cast<double>(stores.bytes()),
                                                    benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(n) * kKvHeads,
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DecodeAttention)
    ->ArgsProduct({{1024, 4096, 16384}, {0, 50, 100}, {64, 128}})
    ->ArgNames({"ctx", "fp8_pct", "dim"})
    ->Unit(benchmark::kMicrosecond);

// A 512-token prompt chunk after `past` cached tokens (half fp8), as the cache
// runs it: per KV head, blocks of 8 queries over all keys (causal within the
// chunk). state.range(0): past; state.range(1): capture the probabilities of
// the last 32 queries (the ARKV observation window) or not; state.range(3):
// queries per block.
void BM_PrefillAttention(benchmark::State& state) {
  constexpr int kChunk = 512, kWindow = 32;
  const int past = static_cast<int>(state.range(0));
  const bool capture = state.range(1) != 0;
  const int dim = static_cast<int>(state.range(2));
  const int kBlock = static_cast<int>(state.range(3));
  const int n = past + kChunk;
  PagePool pool(64 * 1024);
  std::mt19937 rng(4);
  // Past tokens half fp8; the chunk itself is Original (it was just appended).
  LayerStores stores(&pool, past, 50, rng, dim);
  for (int h = 0; h < kKvHeads; ++h) {
    for (int t = past; t < n; ++t) {
      const auto k = Random(dim, rng), v = Random(dim, rng);
      EncodeSlot(SlotFormat::kF16, k.data(), v.data(), dim, stores.orig[h].Append(t));
    }
  }
  const auto q = Random(static_cast<size_t>(kChunk) * kHeads * dim, rng);
  std::vector<float> out(q.size());
  std::vector<int32_t> pos(kChunk);
  for (int t = 0; t < kChunk; ++t) pos[t] = past + t;
  std::vector<float> probs(capture ? static_cast<size_t>(kGroup) * kWindow * n : 0);
  const size_t stride = static_cast<size_t>(kHeads) * dim;
  for (auto _ : state) {
    for (int h = 0; h < kKvHeads; ++h) {
      const SlotSpan spans[2] = {stores.orig[h].View(), stores.quant[h].View()};
      for (int t0 = 0; t0 < kChunk; t0 += kBlock) {
        QueryBlock qb;
        qb.q = q.data() + t0 * stride + static_cast<size_t>(h) * kGroup * dim;
        qb.q_token_stride = stride;
        qb.positions = pos.data() + t0;
        qb.n_queries = kBlock;
        qb.group = kGroup;
        qb.head_dim = dim;
        qb.scale = 0.088f;
        qb.out = out.data() + t0 * stride + static_cast<size_t>(h) * kGroup * dim;
        qb.out_token_stride = stride;
        const ProbCapture cap{probs.data(), t0, kChunk - kWindow, kWindow, n};
        AttendKvHead(spans, 2, qb, capture ? &cap : nullptr);
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(kChunk, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_PrefillAttention)
    ->ArgsProduct({{0, 2048, 3584}, {0, 1}, {64, 128}, {8, 16, 32, 64}})
    ->ArgNames({"past", "capture", "dim", "block"})
    ->Unit(benchmark::kMillisecond);

void BM_EncodeRow(benchmark::State& state) {
  const auto type = static_cast<SlotFormat>(state.range(0));
  std::mt19937 rng(2);
  const auto x = Random(kDim, rng);
  std::vector<uint8_t> codes(RowBytes(type, kDim));
  for (auto _ : state) {
    benchmark::DoNotOptimize(EncodeRow(type, x.data(), kDim, codes.data()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kDim);
}
BENCHMARK(BM_EncodeRow)->DenseRange(0, 4)->ArgName("f16_f32_fp8_int8_int4");

void BM_DecodeRow(benchmark::State& state) {
  const auto type = static_cast<SlotFormat>(state.range(0));
  std::mt19937 rng(3);
  const auto x = Random(kDim, rng);
  std::vector<uint8_t> codes(RowBytes(type, kDim));
  const float scale = EncodeRow(type, x.data(), kDim, codes.data());
  std::vector<float> y(kDim);
  for (auto _ : state) {
    DecodeRow(type, codes.data(), scale, kDim, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * kDim);
}
BENCHMARK(BM_DecodeRow)->DenseRange(0, 4)->ArgName("f16_f32_fp8_int8_int4");

}  // namespace
}  // namespace arkv::kv
