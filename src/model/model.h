// A loaded model: the memory-mapped GGUF file, its hyper-parameters and its
// weights, and the forward pass of a batch of tokens through a KV cache.
#pragma once

#include <exception>
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

struct BatchSequence;

// Scratch memory of the forward pass, sized for the largest batch seen.
// One per sequence being evaluated; the model itself is immutable.
class ForwardWorkspace {
 public:
  void Reserve(const ModelConfig& c, int n_tokens);

 private:
  friend class Model;
  int capacity_ = 0;
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, rope_cos_, rope_sin_;
  std::vector<const BatchSequence*> decode_;  // Model::Attend's one-token sequences
  std::vector<std::exception_ptr> errors_;    // and what each threw
};

// One sequence's share of a batch: tokens [first, first + n_tokens) of the
// batch, evaluated through `cache`, which ends its batch with `kind`.
// all_logits: logits for each of its tokens, else for its last only.
struct BatchSequence {
  kv::SequenceCache* cache = nullptr;
  int first = 0;
  int n_tokens = 0;
  kv::BatchKind kind = kv::BatchKind::kDecode;
  bool all_logits = false;
};

// Tokens of several sequences evaluated in one forward pass. The sequences
// cover the tokens in order, without gaps, each cache at most once.
struct Batch {
  std::span<const int32_t> tokens;
  std::span<const int32_t> positions;
  std::span<const BatchSequence> sequences;

  // Rows of logits the batch produces: n_tokens of every sequence with
  // all_logits, one of every other.
  int LogitRows() const;
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

  // Evaluates the tokens of many sequences in one pass: every weight matrix
  // is read once for the whole batch, and each token attends to its own
  // sequence's cache only. Writes batch.LogitRows() rows of logits
  // ([rows][n_vocab]) in the order of batch.sequences. A token's result does
  // not depend on the other sequences of the batch.
  void ForwardBatch(const Batch& batch, float* logits, ForwardWorkspace& ws,
                    ThreadPool& pool) const;

 private:
  Model() = default;
  void ComputeRope(std::span<const int32_t> positions, ForwardWorkspace& ws) const;
  void ApplyRope(float* x, int n_tokens, int n_heads, const ForwardWorkspace& ws) const;
  void CheckBatch(const Batch& batch) const;
  // Attention of every sequence of the batch to its own cache, at `layer`.
  void Attend(const Batch& batch, int layer, float scale, ForwardWorkspace& ws,
              ThreadPool& pool) const;

  std::unique_ptr<gguf::GgufFile> file_;
  ModelConfig config_;
  ModelOptions options_;
  ModelWeights weights_;
  int64_t n_params_ = 0;
  std::vector<double> rope_inv_freq_;  // [n_rot / 2] angle per position of each pair
};

}  // namespace arkv
