// Synthetic GGUF models with random weights, for tests and benchmarks of any
// size (`arkv make-model`). They carry a byte-level BPE vocabulary (256 byte
// tokens, BOS, EOS, then unused filler tokens), so every command works on
// them; their output is meaningless text, and their metadata says so.
#pragma once

#include <cstdint>
#include <string>

#include "core/thread_pool.h"
#include "gguf/ggml_types.h"

namespace arkv {

struct SyntheticModelSpec {
  std::string arch = "llama";  // llama | qwen2 | qwen3
  int n_layers = 2;
  int n_embd = 256;
  int n_ff = 512;
  int n_heads = 8;
  int n_kv_heads = 2;
  int head_dim = 0;   // 0: n_embd / n_heads
  int n_vocab = 512;  // >= 258
  int n_ctx = 4096;
  GgmlType type = GgmlType::kF32;  // type of the 2-D weights; norms stay F32
  uint64_t seed = 1;
  bool tied_output = false;

  void Validate() const;  // throws arkv::Error naming the bad field
  int64_t n_params() const;
};

// Presets by name: "tiny" (the defaults), "1b" (Llama-3.2-1B-like shapes with
// a 32000 vocabulary, about 1.1B parameters).
SyntheticModelSpec SyntheticPreset(const std::string& name);

// Parses "f32", "q8_0", "q4_K"/"q4_k", ... (case-insensitive) into a
// supported weight type.
GgmlType ParseWeightType(const std::string& name);

void WriteSyntheticModel(const SyntheticModelSpec& spec, const std::string& path, ThreadPool& pool);

}  // namespace arkv
