// Hyper-parameters of a decoder-only transformer, read from GGUF metadata
// with llama.cpp's defaults for absent keys.
#pragma once

#include <string>

namespace arkv::gguf {
class GgufFile;
}

namespace arkv {

// How RoPE pairs dimensions: ggml's NORM mode rotates (2i, 2i+1) (llama),
// NEOX mode rotates (i, i + n_rot/2) (qwen2, qwen3).
enum class RopeStyle { kNorm, kNeox };

struct ModelConfig {
  std::string arch;  // general.architecture
  std::string name;  // general.name, if any
  int n_layers = 0;
  int n_embd = 0;
  int n_ff = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;  // attention.key_length (== value_length), default n_embd / n_heads
  int n_vocab = 0;
  int n_ctx_train = 0;
  float rms_eps = 1e-5f;
  // RoPE: theta_i = pos * freq_scale * freq_base^(-2i / n_rot), divided by
  // rope_freqs[i] when the model has that tensor (Llama 3.1-style scaling).
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  int n_rot = 0;
  RopeStyle rope_style = RopeStyle::kNorm;
  bool qk_norm = false;   // per-head RMSNorm of q and k before RoPE (qwen3)
  bool qkv_bias = false;  // biases on the q, k, v projections (qwen2)
};

// Reads and validates the hyper-parameters of `file` for its architecture.
// Throws arkv::Error for an unsupported architecture or inconsistent values.
ModelConfig ReadModelConfig(const gguf::GgufFile& file);

}  // namespace arkv
