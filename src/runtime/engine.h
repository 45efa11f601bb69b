// The batched engine: one model, one KV page pool, many sequences advanced
// together (continuous batching). Each Step builds one batch holding the next
// token of every decoding sequence plus prompt chunks of sequences still in
// prefill, runs one forward pass over it (every weight matrix read once per
// step), and samples each sequence with its own sampler.
//
// Memory: a byte budget bounds the whole pool (PagePool max_pages). Each
// sequence reserves the most pages its cache can ever hold (MaxPagesHeld);
// a request is admitted only when its reservation fits beside the others, so
// the pool never exceeds the budget and never fails mid-batch. A sequence
// whose policy compresses and whose request names no budget is elastic: the
// pages the other sequences do not reserve are shared equally among the live
// elastic caches (running, or kept for reuse), and each gets the largest byte
// budget whose reservation fits its share. When sequences join, the shares
// shrink and every live elastic cache compresses to its new one at once
// (SequenceCache::SetBudget), before the newcomer evaluates anything; a
// request is admitted only when the others at their new shares plus its own
// reservation fit and every share still holds its window: else kept caches
// are dropped, oldest first, and when none is left it waits. When caches go,
// the shares grow. Cancelled sequences return their pages at once; finished
// ones too, unless cache reuse keeps them (at most max_sequences, the oldest
// dropped first), so that a later request whose tokens start with a kept
// sequence's tokens continues its cache.
//
// Threads: Submit, Cancel and Stats may be called from any thread. Step runs
// on one thread at a time: either call it yourself or let Start() run it on
// the engine's own thread. Callbacks run on the stepping thread and must
// not throw or call back into Step.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"
#include "arkv/kv_page_pool.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "runtime/sampler.h"

namespace arkv {

using RequestId = uint64_t;

enum class FinishReason : uint8_t {
  kStop,       // a stop token was sampled (it is not streamed)
  kLength,     // max_tokens generated
  kCancelled,  // Cancel()
  kError,      // the request could not run (StreamEvent::error says why)
};
std::string_view FinishReasonName(FinishReason reason);

struct RequestStats {
  int64_t prompt_tokens = 0;
  int64_t reused_tokens = 0;  // prompt tokens continued from a kept cache
  int64_t generated_tokens = 0;
  double queue_seconds = 0;        // submitted -> admitted
  double first_token_seconds = 0;  // submitted -> first token (0 if none)
  double total_seconds = 0;        // submitted -> finished
  size_t kv_bytes = 0;             // bytes the cache held at the end
};

// One event of a request's stream: each generated token, then a final one.
struct StreamEvent {
  RequestId id = 0;
  int32_t token = -1;             // the generated token; -1 in the final event
  std::span<const float> logits;  // its logits, with GenerationRequest::keep_logits
  bool finished = false;
  FinishReason reason = FinishReason::kLength;  // final event only
  std::string error;                            // reason kError
  RequestStats stats;                           // final event only
};

struct GenerationRequest {
  std::vector<int32_t> prompt;  // at least one token
  int max_tokens = 16;          // >= 1
  SamplerConfig sampler;
  std::vector<int32_t> stop_tokens;
  // The request's KV policy; nullopt: the engine's default. A compressing
  // policy with an unlimited budget gets the engine's per-sequence share.
  std::optional<kv::CacheConfig> kv;
  bool keep_logits = false;
  std::function<void(const StreamEvent&)> on_event;
};

struct EngineConfig {
  int max_sequences = 4;  // sequences decoding at once (--parallel)
  int prefill_chunk = 512;
  int64_t kv_budget_bytes = 0;  // the whole pool; 0: unlimited
  size_t page_bytes = kv::PagePool::kDefaultPageBytes;
  kv::CacheConfig cache;  // the default policy of a request
  bool cache_reuse = true;

  void Validate() const;
};

struct EngineStats {
  int64_t steps = 0;
  int64_t waiting = 0;   // submitted, not admitted
  int64_t running = 0;   // admitted, unfinished
  int64_t retained = 0;  // finished, cache kept for reuse
  int64_t finished = 0;
  int64_t prompt_tokens = 0;  // evaluated (reused ones not counted)
  int64_t generated_tokens = 0;
  size_t pages_in_use = 0;
  size_t peak_pages_in_use = 0;
  size_t max_pages = 0;  // 0: unlimited
  size_t page_bytes = 0;
  size_t share_pages = 0;      // each compressing sequence's share now (0: none running)
  int64_t original_bytes = 0;  // K/V bytes held per state, all caches
  int64_t quantized_bytes = 0;
};

class Engine {
 public:
  Engine(const Model& model, ThreadPool& threads, const EngineConfig& config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. Throws arkv::Error naming the field when it is invalid.
  RequestId Submit(GenerationRequest request);
  // Cancels a waiting or running request (its pages return at the next step);
  // unknown or finished ids are ignored.
  void Cancel(RequestId id);

  // One step: takes in new requests and cancellations, admits what fits,
  // evaluates one batch, streams the sampled tokens. Returns false when
  // nothing was waiting or running.
  bool Step();
  void RunUntilIdle();

  // Steps on a thread of the engine until Stop() (or destruction).
  void Start();
  void Stop();

  EngineStats Stats() const;
  const kv::PagePool& pool() const { return *pool_; }
  const EngineConfig& config() const { return config_; }
  // The byte budget a compressing sequence gets when its request names none
  // and `live_sequences` such sequences share the pool (0 without an engine
  // budget, or when the share cannot hold the window).
  int64_t SequenceShareBytes(const kv::CacheConfig& config, int live_sequences) const;
  // The same with every one of max_sequences slots taken: the smallest share.
  int64_t SequenceShareBytes(const kv::CacheConfig& config) const;

 private:
  struct Sequence;
  struct Pending {
    RequestId id;
    GenerationRequest request;
    double submitted;
  };

  // The shares of a set of sequences: each compressing one's byte budget and
  // every one's reservation (MaxPagesHeld), in the order given.
  struct SharePlan {
    bool fits = true;  // false: a share cannot hold its window
    size_t share_pages = 0;
    std::vector<int64_t> budgets;  // 0 for sequences that are not elastic
    std::vector<size_t> pages;
    size_t total_pages = 0;
  };

  void TakeInbox();
  void Admit();
  bool TryAdmit(Pending& pending);
  static bool Elastic(const kv::CacheConfig& config);
  kv::CacheConfig ResolveCache(const GenerationRequest& request) const;
  int64_t ShareBytes(const kv::CacheConfig& config, size_t share_pages) const;
  SharePlan PlanShares(std::span<const Sequence* const> seqs) const;
  void ApplyShares(std::span<Sequence* const> seqs, const SharePlan& plan);
  void Reshare();
  // The running sequences and the kept caches, but `except`.
  std::vector<Sequence*> Holders(const Sequence* except);
  void EvictRetained(size_t index);
  void RunBatch();
  void Sample(Sequence& seq, const float* logits);
  void Finish(std::unique_ptr<Sequence> seq, FinishReason reason, const std::string& error);
  void FinishPending(Pending& pending, FinishReason reason, const std::string& error);
  void PublishStats();

  const Model& model_;
  ThreadPool& threads_;
  EngineConfig config_;
  size_t max_pages_ = 0;  // of the pool; 0: unlimited
  std::unique_ptr<kv::PagePool> pool_;
  ForwardWorkspace ws_;

  // Touched by the stepping thread only.
  std::deque<Pending> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;
  std::vector<std::unique_ptr<Sequence>> retained_;  // oldest first
  std::vector<int32_t> batch_tokens_, batch_positions_;
  std::vector<BatchSequence> batch_sequences_;
  std::vector<Sequence*> batch_owners_;
  std::vector<float> logits_;
  int64_t steps_ = 0, finished_ = 0, prompt_tokens_ = 0, generated_tokens_ = 0;
  size_t share_pages_ = 0;
  bool reshare_ = false;  // a sequence left: Reshare() grows the others' shares

  // Shared with other threads.
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Pending> inbox_;
  std::vector<RequestId> cancels_;
  RequestId next_id_ = 1;
  bool stop_ = false;
  EngineStats stats_;
  std::thread loop_;
};

}  // namespace arkv
