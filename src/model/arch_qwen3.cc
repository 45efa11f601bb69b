// Qwen3 (dense): the common decoder plus a per-head RMSNorm of q and k before
// NEOX-mode RoPE, with an explicit head dim (attention.key_length).
#include "gguf/gguf.h"
#include "model/weights.h"

namespace arkv {

ModelWeights BindQwen3Weights(const gguf::GgufFile& file, const ModelConfig& config) {
  WeightBinder b(file, config);
  ModelWeights w = b.BindCommon();
  for (int l = 0; l < config.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    w.layers[l].q_norm = b.Vector(p + "attn_q_norm.weight", config.head_dim);
    w.layers[l].k_norm = b.Vector(p + "attn_k_norm.weight", config.head_dim);
  }
  return w;
}

}  // namespace arkv
