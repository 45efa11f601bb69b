// The weights of a pre-norm decoder-only transformer, as views into the
// memory-mapped GGUF file (matrices) or small owned float copies (vectors).
#pragma once

#include <string>
#include <vector>

#include "model/config.h"
#include "tensor/kernels.h"

namespace arkv::gguf {
class GgufFile;
}

namespace arkv {

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> q_norm, k_norm;          // qwen3: per-head RMSNorm weights [head_dim]
  std::vector<float> q_bias, k_bias, v_bias;  // qwen2
  WeightView wq, wk, wv, wo;
  WeightView ffn_gate, ffn_up, ffn_down;
};

struct ModelWeights {
  WeightView token_embd;  // [n_vocab rows][n_embd]
  WeightView output;      // [n_vocab rows][n_embd]; == token_embd when tied
  std::vector<float> output_norm;
  std::vector<float> rope_freqs;  // empty, or n_rot/2 divisors of the RoPE frequencies
  std::vector<LayerWeights> layers;
};

// Helpers for the per-architecture binders (model/arch_*.cc).
class WeightBinder {
 public:
  WeightBinder(const gguf::GgufFile& file, const ModelConfig& config)
      : file_(file), config_(config) {}

  // A matrix of `rows` x `cols` (ggml ne = {cols, rows}); checks shape and type.
  WeightView Matrix(const std::string& name, int64_t cols, int64_t rows) const;
  // A vector of n values converted to float (any float type).
  std::vector<float> Vector(const std::string& name, int64_t n) const;
  bool Has(const std::string& name) const;

  // Binds the tensors every supported architecture shares (embeddings, output,
  // norms, attention and SwiGLU FFN projections, optional rope_freqs).
  ModelWeights BindCommon() const;

 private:
  const gguf::GgufFile& file_;
  const ModelConfig& config_;
};

// Per-architecture entry points, one per file.
ModelWeights BindLlamaWeights(const gguf::GgufFile& file, const ModelConfig& config);
ModelWeights BindQwen2Weights(const gguf::GgufFile& file, const ModelConfig& config);
ModelWeights BindQwen3Weights(const gguf::GgufFile& file, const ModelConfig& config);

}  // namespace arkv
