// The architectures arkv runs, one row each (architectures.cc): the traits the
// forward pass switches on and the binder of the architecture's weights (one
// file each, model/arch_*.cc). Adding an architecture is adding a row.
#pragma once

#include <string>
#include <string_view>

#include "model/config.h"
#include "model/weights.h"

namespace arkv {

struct Architecture {
  std::string_view name;  // general.architecture
  RopeStyle rope_style;
  bool qk_norm;   // per-head RMSNorm of q and k before RoPE
  bool qkv_bias;  // biases on the q, k, v projections
  ModelWeights (*bind_weights)(const gguf::GgufFile& file, const ModelConfig& config);
};

// The row of `name`, or nullptr.
const Architecture* FindArchitecture(std::string_view name);
// "llama, qwen2, qwen3", for error messages.
std::string ArchitectureNames();

}  // namespace arkv
