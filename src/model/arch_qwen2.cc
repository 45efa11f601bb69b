// Qwen2 / Qwen2.5: the common decoder plus biases on the q, k, v projections,
// NEOX-mode RoPE.
#include "gguf/gguf.h"
#include "model/weights.h"

namespace arkv {

ModelWeights BindQwen2Weights(const gguf::GgufFile& file, const ModelConfig& config) {
  WeightBinder b(file, config);
  ModelWeights w = b.BindCommon();
  const int64_t q_dim = int64_t{config.n_heads} * config.head_dim;
  const int64_t kv_dim = int64_t{config.n_kv_heads} * config.head_dim;
  for (int l = 0; l < config.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    w.layers[l].q_bias = b.Vector(p + "attn_q.bias", q_dim);
    w.layers[l].k_bias = b.Vector(p + "attn_k.bias", kv_dim);
    w.layers[l].v_bias = b.Vector(p + "attn_v.bias", kv_dim);
  }
  return w;
}

}  // namespace arkv
