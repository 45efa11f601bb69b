// A generation session: one sequence, its KV cache, chunked prefill and
// token-by-token decoding, with timing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "arkv/kv_cache.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace arkv {

struct SessionTimings {
  int64_t n_prompt = 0;
  double prompt_seconds = 0.0;
  int64_t n_decode = 0;
  double decode_seconds = 0.0;
};

class Session {
 public:
  // prefill_chunk: the most prompt tokens evaluated per batch (>= 1).
  Session(const Model& model, std::unique_ptr<kv::SequenceCache> cache, ThreadPool& pool,
          int prefill_chunk);

  // Evaluates the prompt (appended after anything already evaluated) in
  // chunks and returns the logits of its last token.
  std::span<const float> Prefill(std::span<const int32_t> tokens);
  // Evaluates one token and returns its logits.
  std::span<const float> Decode(int32_t token);
  // Evaluates `tokens` as ONE batch from the current position and returns the
  // logits of every token ([n][n_vocab]); used for teacher-forced scoring.
  std::span<const float> EvaluateAll(std::span<const int32_t> tokens);

  // Forgets everything (positions restart at 0).
  void Reset();

  int n_past() const { return n_past_; }
  const SessionTimings& timings() const { return timings_; }
  kv::SequenceCache& cache() { return *cache_; }
  const Model& model() const { return model_; }

 private:
  std::span<const float> Run(std::span<const int32_t> tokens, kv::BatchKind kind, bool all_logits);

  const Model& model_;
  std::unique_ptr<kv::SequenceCache> cache_;
  ThreadPool& pool_;
  int prefill_chunk_;
  int n_past_ = 0;
  ForwardWorkspace ws_;
  std::vector<int32_t> positions_;
  std::vector<float> logits_;
  SessionTimings timings_;
};

}  // namespace arkv
