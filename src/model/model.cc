#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "model/architectures.h"
#include "model/layer_ops.h"

namespace arkv {
namespace {

// RMSNorm and SwiGLU of a batch: at least this many values per chunk.
constexpr int64_t kRowOpChunkValues = int64_t{1} << 15;

void AddBias(float* x, const std::vector<float>& bias, int n_tokens) {
  const int n = static_cast<int>(bias.size());
  for (int t = 0; t < n_tokens; ++t) {
    for (int i = 0; i < n; ++i) x[t * n + i] += bias[i];
  }
}

// Runs a Parallel's loops on the calling thread: the attention of one
// sequence while the pool's threads each take whole sequences.
class InlineParallel final : public Parallel {
 public:
  int size() const override { return 1; }

 private:
  void Run(int64_t n, int64_t, Thunk thunk, void* ctx) override { thunk(ctx, 0, n); }
};

int64_t CountParams(const ModelWeights& w) {
  auto m = [](const WeightView& v) { return v.rows * v.cols; };
  int64_t n = m(w.token_embd) + static_cast<int64_t>(w.output_norm.size());
  if (w.output.data != w.token_embd.data) n += m(w.output);
  for (const LayerWeights& L : w.layers) {
    n += m(L.wq) + m(L.wk) + m(L.wv) + m(L.wo) + m(L.ffn_gate) + m(L.ffn_up) + m(L.ffn_down);
    n +=
        static_cast<int64_t>(L.attn_norm.size() + L.ffn_norm.size() + L.q_norm.size() +
                             L.k_norm.size() + L.q_bias.size() + L.k_bias.size() + L.v_bias.size());
  }
  return n;
}

}  // namespace

void ForwardWorkspace::Reserve(const ModelConfig& c, int n) {
  if (n <= capacity_) return;
  capacity_ = n;
  const size_t q_dim = static_cast<size_t>(c.n_heads) * c.head_dim;
  const size_t kv_dim = static_cast<size_t>(c.n_kv_heads) * c.head_dim;
  x_.assign(n * static_cast<size_t>(c.n_embd), 0.0f);
  h_.assign(n * static_cast<size_t>(c.n_embd), 0.0f);
  q_.assign(n * q_dim, 0.0f);
  k_.assign(n * kv_dim, 0.0f);
  v_.assign(n * kv_dim, 0.0f);
  attn_.assign(n * q_dim, 0.0f);
  gate_.assign(n * static_cast<size_t>(c.n_ff), 0.0f);
  up_.assign(n * static_cast<size_t>(c.n_ff), 0.0f);
  rope_cos_.assign(n * static_cast<size_t>(c.n_rot / 2), 0.0f);
  rope_sin_.assign(n * static_cast<size_t>(c.n_rot / 2), 0.0f);
}

Model::~Model() = default;

std::unique_ptr<Model> Model::Load(const std::string& path, const ModelOptions& options) {
  return FromFile(gguf::GgufFile::Open(path), options);
}

std::unique_ptr<Model> Model::FromFile(std::unique_ptr<gguf::GgufFile> file,
                                       const ModelOptions& options) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  m->options_ = options;
  m->config_ = ReadModelConfig(*m->file_);
  // ReadModelConfig accepted the architecture, so it has a row.
  m->weights_ = FindArchitecture(m->config_.arch)->bind_weights(*m->file_, m->config_);
  m->n_params_ = CountParams(m->weights_);
  // theta_i(pos) = pos * freq_scale * base^(-2i / n_rot) / rope_freqs[i].
  const ModelConfig& c = m->config_;
  m->rope_inv_freq_.resize(c.n_rot / 2);
  for (int i = 0; i < c.n_rot / 2; ++i) {
    double f =
        c.rope_freq_scale * std::pow(static_cast<double>(c.rope_freq_base), -2.0 * i / c.n_rot);
    if (!m->weights_.rope_freqs.empty()) f /= m->weights_.rope_freqs[i];
    m->rope_inv_freq_[i] = f;
  }
  return m;
}

kv::CacheShape Model::cache_shape() const {
  return kv::CacheShape{config_.n_layers, config_.n_heads, config_.n_kv_heads, config_.head_dim};
}

void Model::ComputeRope(std::span<const int32_t> positions, ForwardWorkspace& ws) const {
  const size_t half = rope_inv_freq_.size();
  for (size_t t = 0; t < positions.size(); ++t) {
    for (size_t i = 0; i < half; ++i) {
      // In double: float angles drift at long positions.
      const double theta = static_cast<double>(positions[t]) * rope_inv_freq_[i];
      ws.rope_cos_[t * half + i] = static_cast<float>(std::cos(theta));
      ws.rope_sin_[t * half + i] = static_cast<float>(std::sin(theta));
    }
  }
}

void Model::ApplyRope(float* x, int n_tokens, int n_heads, const ForwardWorkspace& ws) const {
  const int half = config_.n_rot / 2;
  const int hd = config_.head_dim;
  // NORM pairs (2i, 2i+1); NEOX pairs (i, i + n_rot/2).
  const int stride = config_.rope_style == RopeStyle::kNorm ? 2 : 1;
  const int offset = config_.rope_style == RopeStyle::kNorm ? 1 : half;
  for (int t = 0; t < n_tokens; ++t) {
    const float* cs = &ws.rope_cos_[static_cast<size_t>(t) * half];
    const float* sn = &ws.rope_sin_[static_cast<size_t>(t) * half];
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (static_cast<size_t>(t) * n_heads + h) * hd;
      for (int i = 0; i < half; ++i) {
        const int a = i * stride;
        const float x0 = v[a], x1 = v[a + offset];
        v[a] = x0 * cs[i] - x1 * sn[i];
        v[a + offset] = x0 * sn[i] + x1 * cs[i];
      }
    }
  }
}

int Batch::LogitRows() const {
  int rows = 0;
  for (const BatchSequence& s : sequences) rows += s.all_logits ? s.n_tokens : 1;
  return rows;
}

void Model::Forward(std::span<const int32_t> tokens, std::span<const int32_t> positions,
                    kv::SequenceCache& cache, kv::BatchKind kind, bool all_logits, float* logits,
                    ForwardWorkspace& ws, ThreadPool& pool) const {
  const BatchSequence seq{&cache, 0, static_cast<int>(tokens.size()), kind, all_logits};
  ForwardBatch(Batch{tokens, positions, std::span<const BatchSequence>(&seq, 1)}, logits, ws, pool);
}

void Model::CheckBatch(const Batch& batch) const {
  const size_t n = batch.tokens.size();
  if (n == 0) Fail("Forward: empty batch");
  if (batch.positions.size() != n) {
    Fail("Forward: {} positions for {} tokens", batch.positions.size(), n);
  }
  for (int32_t id : batch.tokens) {
    if (id < 0 || id >= config_.n_vocab) {
      Fail("token id {} is out of range (vocabulary size {})", id, config_.n_vocab);
    }
  }
  size_t next = 0;
  for (size_t i = 0; i < batch.sequences.size(); ++i) {
    const BatchSequence& s = batch.sequences[i];
    if (s.cache == nullptr) Fail("Forward: batch sequence {} has no KV cache", i);
    if (s.n_tokens < 1 || static_cast<size_t>(s.first) != next) {
      Fail("Forward: batch sequence {} covers tokens [{}, +{}), expected to start at {} with >= 1",
           i, s.first, s.n_tokens, next);
    }
    next += static_cast<size_t>(s.n_tokens);
    for (size_t j = 0; j < i; ++j) {
      if (batch.sequences[j].cache == s.cache) Fail("Forward: a KV cache appears twice in a batch");
    }
  }
  if (next != n) Fail("Forward: the batch's sequences cover {} of {} tokens", next, n);
}

void Model::Attend(const Batch& batch, int layer, float scale, ForwardWorkspace& ws,
                   ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const size_t q_dim = static_cast<size_t>(c.n_heads) * c.head_dim;
  const size_t kv_dim = static_cast<size_t>(c.n_kv_heads) * c.head_dim;
  auto attend = [&](const BatchSequence& s, Parallel& threads) {
    const size_t t0 = static_cast<size_t>(s.first);
    s.cache->Attend(layer, ws.q_.data() + t0 * q_dim, ws.k_.data() + t0 * kv_dim,
                    ws.v_.data() + t0 * kv_dim, batch.positions.data() + t0, s.n_tokens, scale,
                    ws.attn_.data() + t0 * q_dim, threads);
  };
  // One decode token has only n_kv_heads tasks of attention: with many
  // sequences, the threads take whole sequences instead, one parallel loop
  // per layer rather than one per sequence. Only where a sequence alone
  // would not split its keys among threads either (n_kv_heads >= threads,
  // AttendLayer), so each result is bit for bit the one of a lone call.
  ws.decode_.clear();
  for (const BatchSequence& s : batch.sequences) {
    if (s.n_tokens == 1) ws.decode_.push_back(&s);
  }
  const bool across = ws.decode_.size() >= 2 && pool.size() > 1 && c.n_kv_heads >= pool.size();
  if (across) {
    ws.errors_.assign(ws.decode_.size(), nullptr);
    pool.ParallelFor(static_cast<int64_t>(ws.decode_.size()), 1, [&](int64_t b, int64_t e) {
      InlineParallel inline_threads;
      for (int64_t i = b; i < e; ++i) {
        try {
          attend(*ws.decode_[i], inline_threads);
        } catch (...) {
          ws.errors_[i] = std::current_exception();
        }
      }
    });
    for (const std::exception_ptr& error : ws.errors_) {
      if (error) std::rethrow_exception(error);
    }
  }
  for (const BatchSequence& s : batch.sequences) {
    if (!across || s.n_tokens != 1) attend(s, pool);
  }
}

void Model::ForwardBatch(const Batch& batch, float* logits, ForwardWorkspace& ws,
                         ThreadPool& pool) const {
  CheckBatch(batch);
  const ModelConfig& c = config_;
  const std::span<const int32_t> tokens = batch.tokens;
  const int n = static_cast<int>(tokens.size());
  ws.Reserve(c, n);
  const int E = c.n_embd;
  const int q_dim = c.n_heads * c.head_dim;
  const int kv_dim = c.n_kv_heads * c.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const MatMulPrecision mp = options_.matmul_precision;
  float* x = ws.x_.data();
  float* h = ws.h_.data();

  const WeightView& emb = weights_.token_embd;
  for (int t = 0; t < n; ++t) {
    DequantizeRow(emb.type, static_cast<const uint8_t*>(emb.data) + tokens[t] * emb.row_bytes,
                  x + static_cast<size_t>(t) * E, E);
  }
  ComputeRope(batch.positions, ws);

  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = weights_.layers[l];
    ForEachRow(pool, n, E, kRowOpChunkValues,
               [&](int64_t t) { RmsNorm(x + t * E, L.attn_norm.data(), h + t * E, E, c.rms_eps); });
    MatMul(L.wq, h, E, n, ws.q_.data(), q_dim, pool, mp);
    MatMul(L.wk, h, E, n, ws.k_.data(), kv_dim, pool, mp);
    MatMul(L.wv, h, E, n, ws.v_.data(), kv_dim, pool, mp);
    if (c.qkv_bias) {
      AddBias(ws.q_.data(), L.q_bias, n);
      AddBias(ws.k_.data(), L.k_bias, n);
      AddBias(ws.v_.data(), L.v_bias, n);
    }
    if (c.qk_norm) {
      const int hd = c.head_dim;
      for (int i = 0; i < n * c.n_heads; ++i) {
        RmsNorm(&ws.q_[i * hd], L.q_norm.data(), &ws.q_[i * hd], hd, c.rms_eps);
      }
      for (int i = 0; i < n * c.n_kv_heads; ++i) {
        RmsNorm(&ws.k_[i * hd], L.k_norm.data(), &ws.k_[i * hd], hd, c.rms_eps);
      }
    }
    ApplyRope(ws.q_.data(), n, c.n_heads, ws);
    ApplyRope(ws.k_.data(), n, c.n_kv_heads, ws);
    Attend(batch, l, scale, ws, pool);
    // x += Wo * attn; h is free as the output buffer.
    MatMul(L.wo, ws.attn_.data(), q_dim, n, h, E, pool, mp);
    for (size_t i = 0; i < static_cast<size_t>(n) * E; ++i) x[i] += h[i];

    ForEachRow(pool, n, E, kRowOpChunkValues,
               [&](int64_t t) { RmsNorm(x + t * E, L.ffn_norm.data(), h + t * E, E, c.rms_eps); });
    MatMul(L.ffn_gate, h, E, n, ws.gate_.data(), c.n_ff, pool, mp);
    MatMul(L.ffn_up, h, E, n, ws.up_.data(), c.n_ff, pool, mp);
    float* g = ws.gate_.data();
    const float* u = ws.up_.data();
    ForEachRow(pool, n, c.n_ff, kRowOpChunkValues,
               [&](int64_t t) { SwiGlu(g + t * c.n_ff, u + t * c.n_ff, c.n_ff); });
    MatMul(L.ffn_down, g, c.n_ff, n, h, E, pool, mp);
    for (size_t i = 0; i < static_cast<size_t>(n) * E; ++i) x[i] += h[i];
  }
  for (const BatchSequence& s : batch.sequences) s.cache->EndBatch(s.kind);

  // The output rows, gathered in sequence order.
  int rows = 0;
  for (const BatchSequence& s : batch.sequences) {
    const int first = s.all_logits ? s.first : s.first + s.n_tokens - 1;
    for (int t = first; t < s.first + s.n_tokens; ++t, ++rows) {
      RmsNorm(x + t * E, weights_.output_norm.data(), h + rows * E, E, c.rms_eps);
    }
  }
  MatMul(weights_.output, h, E, rows, logits, c.n_vocab, pool, mp);
}

}  // namespace arkv
