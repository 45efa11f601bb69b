// Llama 2 / 3 / 3.1 / 3.2: GQA, RMSNorm, SwiGLU, NORM-mode RoPE with optional
// rope_freqs (Llama 3.1 scaling), tied or separate output. Everything it needs
// is the common decoder layout.
#include "gguf/gguf.h"
#include "model/weights.h"

namespace arkv {

ModelWeights BindLlamaWeights(const gguf::GgufFile& file, const ModelConfig& config) {
  return WeightBinder(file, config).BindCommon();
}

}  // namespace arkv
