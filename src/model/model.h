// A loaded model: the memory-mapped GGUF file, its hyper-parameters and its
// weights, and the forward pass of a batch of tokens through a KV cache.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "arkv/kv_cache.h"
#include "core/thread_pool.h"
#include "model/config.h"
#include "model/weights.h"
#include "tensor/kernels.h"

namespace arkv::gguf {
class GgufFile;
}

namespace arkv {

// Scratch memory of the forward pass, sized for the largest batch seen.
// One per sequence being evaluated; the model itself is immutable.
class ForwardWorkspace {
 public:
  void Reserve(const ModelConfig& c, int n_tokens);

 private:
  friend class Model;
  int capacity_ = 0;
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, rope_cos_, rope_sin_;
};

// How a model computes; fixed at load time.
struct ModelOptions {
  // Arithmetic of every weight matmul of the forward pass. kGgml (default)
  // converts activations as llama.cpp does (Q8_0/Q8_K/fp16/bf16) and matches
  // its logits; kFloat keeps f32 activations (exact up to f32 accumulation).
  MatMulPrecision matmul_precision = MatMulPrecision::kGgml;
};

class Model {
 public:
  static std::unique_ptr<Model> Load(const std::string& path, const ModelOptions& options = {});
  // Takes ownership of an opened file.
  static std::unique_ptr<Model> FromFile(std::unique_ptr<gguf::GgufFile> file,
                                         const ModelOptions& options = {});
  ~Model();

  const ModelConfig& config() const { return config_; }
  const ModelOptions& options() const { return options_; }
  const gguf::GgufFile& file() const { return *file_; }
  kv::CacheShape cache_shape() const;
  // Parameter count of the weight matrices and vectors.
  int64_t n_params() const { return n_params_; }

  // Evaluates `tokens` at `positions` through `cache` (which stores their K
  // and V) and writes logits: for every token ([n][n_vocab]) when all_logits,
  // else only for the last token ([n_vocab]). Ends the batch on the cache with
  // `kind`. Token ids are checked against the vocabulary.
  void Forward(std::span<const int32_t> tokens, std::span<const int32_t> positions,
               kv::SequenceCache& cache, kv::BatchKind kind, bool all_logits, float* logits,
               ForwardWorkspace& ws, ThreadPool& pool) const;

 private:
  Model() = default;
  void ComputeRope(std::span<const int32_t> positions, ForwardWorkspace& ws) const;
  void ApplyRope(float* x, int n_tokens, int n_heads, const ForwardWorkspace& ws) const;

  std::unique_ptr<gguf::GgufFile> file_;
  ModelConfig config_;
  ModelOptions options_;
  ModelWeights weights_;
  int64_t n_params_ = 0;
  std::vector<double> rope_inv_freq_;  // [n_rot / 2] angle per position of each pair
};

}  // namespace arkv
