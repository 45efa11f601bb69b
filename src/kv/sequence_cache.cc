// The SequenceCache implementation: per layer and KV head an Original and a
// Quantized slot store; a Policy decides token states at EndBatch and this file
// carries them out.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "arkv/kv_cache.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kv/attention.h"
#include "kv/token_store.h"

namespace arkv::kv {
namespace {

struct Stream {
  SlotStore original;
  SlotStore quantized;
};

struct Layer {
  std::vector<Stream> heads;
  int64_t evictions = 0;
  int64_t quantizations = 0;
};

void ValidateShape(const CacheShape& s) {
  if (s.n_layers < 1) Fail("KV cache shape: n_layers must be >= 1, got {}", s.n_layers);
  if (s.n_heads < 1) Fail("KV cache shape: n_heads must be >= 1, got {}", s.n_heads);
  if (s.n_kv_heads < 1 || s.n_heads % s.n_kv_heads != 0) {
    Fail("KV cache shape: n_kv_heads {} must divide n_heads {}", s.n_kv_heads, s.n_heads);
  }
  if (s.head_dim < 1 || s.head_dim > 1024) {
    Fail("KV cache shape: head_dim must be in [1, 1024], got {}", s.head_dim);
  }
}

class Cache final : public SequenceCache {
 public:
  Cache(const CacheShape& shape, const CacheConfig& config, PagePool* pool)
      : shape_(shape), config_(config) {
    ValidateShape(shape);
    ValidateConfig(config);
    if (pool == nullptr) {
      owned_pool_ = std::make_unique<PagePool>();
      pool = owned_pool_.get();
    }
    pool_ = pool;
    const SlotFormat orig = OriginalFormat(config.original);
    const SlotFormat quant = QuantizedFormat(config.quant);
    layers_.resize(shape.n_layers);
    for (Layer& layer : layers_) {
      layer.heads.reserve(shape.n_kv_heads);
      for (int h = 0; h < shape.n_kv_heads; ++h) {
        layer.heads.push_back(
            Stream{SlotStore(pool, orig, shape.head_dim), SlotStore(pool, quant, shape.head_dim)});
      }
    }
  }

  void Attend(int layer, const float* q, const float* k, const float* v, const int32_t* positions,
              int n_tokens, float scale, float* out, ThreadPool& threads) override {
    if (layer < 0 || layer >= shape_.n_layers) {
      Fail("KV Attend: layer {} out of range [0, {})", layer, shape_.n_layers);
    }
    if (n_tokens < 0) Fail("KV Attend: negative token count {}", n_tokens);
    if (n_tokens == 0) return;
    if (!q || !k || !v || !positions || !out) Fail("KV Attend: null input");
    if (!std::isfinite(scale)) Fail("KV Attend: scale is not finite");
    const int d = shape_.head_dim;
    const int hkv = shape_.n_kv_heads;
    const int group = shape_.n_heads / hkv;
    Layer& L = layers_[layer];

    // Store the batch's keys and values (Original).
    for (int h = 0; h < hkv; ++h) {
      SlotStore& store = L.heads[h].original;
      for (int t = 0; t < n_tokens; ++t) {
        const size_t off = (static_cast<size_t>(t) * hkv + h) * d;
        EncodeSlot(store.format(), k + off, v + off, d, store.Append(positions[t]));
      }
    }
    peak_bytes_ = std::max(peak_bytes_, static_cast<int64_t>(BytesHeld()));

    // One task per (KV head, block of queries).
    const int block = n_tokens == 1 ? 1 : 8;
    const int n_blocks = (n_tokens + block - 1) / block;
    const size_t q_stride = static_cast<size_t>(shape_.n_heads) * d;
    threads.ParallelFor(static_cast<int64_t>(hkv) * n_blocks, 1, [&](int64_t b, int64_t e) {
      for (int64_t task = b; task < e; ++task) {
        const int h = static_cast<int>(task / n_blocks);
        const int t0 = static_cast<int>(task % n_blocks) * block;
        const Stream& s = L.heads[h];
        const SlotSpan spans[2] = {s.original.View(), s.quantized.View()};
        QueryBlock qb;
        qb.q = q + t0 * q_stride + static_cast<size_t>(h) * group * d;
        qb.q_token_stride = q_stride;
        qb.positions = positions + t0;
        qb.n_queries = std::min(block, n_tokens - t0);
        qb.group = group;
        qb.head_dim = d;
        qb.scale = scale;
        qb.out = out + t0 * q_stride + static_cast<size_t>(h) * group * d;
        qb.out_token_stride = q_stride;
        AttendKvHead(spans, 2, qb, nullptr);
      }
    });
  }

  void EndBatch(BatchKind kind) override {}

  void Clear() override {
    for (Layer& layer : layers_) {
      for (Stream& s : layer.heads) {
        s.original.Clear();
        s.quantized.Clear();
      }
    }
  }

  size_t BytesHeld() const override {
    size_t total = 0;
    for (const Layer& layer : layers_) {
      for (const Stream& s : layer.heads) total += s.original.bytes() + s.quantized.bytes();
    }
    return total;
  }

  CacheStats Stats() const override {
    CacheStats st;
    st.layers.resize(layers_.size());
    for (size_t l = 0; l < layers_.size(); ++l) {
      LayerStats& ls = st.layers[l];
      for (const Stream& s : layers_[l].heads) {
        ls.original_tokens += s.original.size();
        ls.quantized_tokens += s.quantized.size();
        ls.original_bytes += static_cast<int64_t>(s.original.bytes());
        ls.quantized_bytes += static_cast<int64_t>(s.quantized.bytes());
        st.pages_held += static_cast<int64_t>(s.original.pages_held() + s.quantized.pages_held());
      }
      ls.evictions = layers_[l].evictions;
      ls.quantizations = layers_[l].quantizations;
      st.original_tokens += ls.original_tokens;
      st.quantized_tokens += ls.quantized_tokens;
      st.bytes += ls.original_bytes + ls.quantized_bytes;
      st.evictions += ls.evictions;
      st.quantizations += ls.quantizations;
    }
    st.peak_bytes = std::max(peak_bytes_, st.bytes);
    st.page_bytes = static_cast<int64_t>(pool_->page_bytes());
    return st;
  }

 private:
  CacheShape shape_;
  CacheConfig config_;
  std::unique_ptr<PagePool> owned_pool_;
  PagePool* pool_ = nullptr;
  std::vector<Layer> layers_;
  int64_t peak_bytes_ = 0;
};

}  // namespace

std::unique_ptr<SequenceCache> CreateSequenceCache(const CacheShape& shape,
                                                   const CacheConfig& config, PagePool* pool) {
  return std::make_unique<Cache>(shape, config, pool);
}

std::string FormatStats(const CacheStats& st) {
  std::string s =
      fmt::format("{:>5} {:>8} {:>8} {:>8} {:>12} {:>12} {:>9} {:>9} {:>6}\n", "layer", "cap",
                  "orig", "quant", "orig_bytes", "quant_bytes", "evicted", "quantzd", "oq");
  for (size_t l = 0; l < st.layers.size(); ++l) {
    const LayerStats& x = st.layers[l];
    s += fmt::format("{:>5} {:>8} {:>8} {:>8} {:>12} {:>12} {:>9} {:>9} {:>6.3f}\n", l,
                     x.capacity_tokens, x.original_tokens, x.quantized_tokens, x.original_bytes,
                     x.quantized_bytes, x.evictions, x.quantizations, x.oq_ratio);
  }
  s += fmt::format(
      "total: {} Original + {} Quantized tokens, {} bytes (peak {}), {} evictions, "
      "{} quantizations, {} pages of {} bytes\n",
      st.original_tokens, st.quantized_tokens, st.bytes, st.peak_bytes, st.evictions,
      st.quantizations, st.pages_held, st.page_bytes);
  return s;
}

}  // namespace arkv::kv
