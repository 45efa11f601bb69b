// Between the HTTP handlers and the engine: turns a validated request into an
// engine request within the server's limits (the chat template, --ctx-size,
// the KV budget, the queue), submits it and hands its tokens to the handler's
// thread as they come from the engine's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "model/model.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "server/api_request.h"
#include "server/api_response.h"
#include "server/metrics.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace arkv::server {

struct ServerConfig {
  std::string model_id;
  ChatTemplate chat_template;
  // Positions of a full-policy sequence, prompt and completion together; also
  // the default max_tokens of a compressing policy.
  int ctx_size = 4096;
  std::string api_key;      // empty: none asked
  int queue_size = 64;      // requests beyond --parallel that may wait
  SamplerConfig sampler;    // defaults of every request
  bool random_seed = true;  // a request without a seed gets a random one (else sampler.seed)
  int http_threads = 0;     // 0: parallel + queue_size + 8
  size_t max_body_bytes = 16u << 20;
  int64_t kv_budget_bytes = 0;  // what /metrics reports
};

// The longest completion a compressing policy may ask for.
inline constexpr int64_t kMaxCompletionTokens = int64_t{1} << 20;

// One submitted request as its handler sees it.
class Job {
 public:
  struct Token {
    int32_t id = -1;
    std::optional<TokenLogprob> logprob;
  };
  struct End {
    FinishReason reason = FinishReason::kLength;
    std::string error;
    RequestStats stats;
  };

  // Waits up to `timeout` for tokens or the end; moves the tokens that came
  // into `tokens` and returns the end once every token is taken.
  std::optional<End> Wait(std::chrono::milliseconds timeout, std::vector<Token>& tokens);
  RequestId id() const { return id_; }

 private:
  friend class CompletionService;
  RequestId id_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Token> tokens_;
  std::optional<End> end_;
};

// A request ready for the engine (no callback yet).
struct PreparedRequest {
  GenerationRequest generation;
  std::vector<std::string> stop;
  bool logprobs = false;
  int top_logprobs = 0;
};

class CompletionService {
 public:
  // The engine must outlive the service; it may run on its own thread.
  CompletionService(Engine& engine, const Model& model, const Tokenizer& tokenizer,
                    ServerConfig config);
  ~CompletionService();

  std::variant<PreparedRequest, ApiError> Prepare(const ApiRequest& request) const;
  // Queues the request, or answers 503 when the queue is full or the server stops.
  std::variant<std::shared_ptr<Job>, ApiError> Submit(PreparedRequest request);
  // The client went away: stop generating for it (counted in /metrics).
  void Cancel(const Job& job);
  // The answer is complete before the engine knows it (a stop string).
  void EndEarly(const Job& job);
  // Refuses new requests and cancels all running ones.
  void Shutdown();

  MetricsSnapshot Metrics() const;
  const ServerConfig& config() const { return config_; }
  int parallel() const { return engine_.config().max_sequences; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  ServerCounters& counters() { return counters_; }

 private:
  // What engine callbacks touch: shared, so that a late callback never sees a
  // destroyed service.
  struct Shared {
    std::mutex mu;
    std::condition_variable idle;
    std::set<RequestId> live;
    int64_t in_flight = 0;
    bool stopping = false;
    TokenRate rate;
  };

  std::vector<int32_t> PromptTokens(const ApiRequest& request) const;
  // The request's KV configuration for the engine, checked against the
  // server's budget (no budget of its own: left to the engine's share).
  kv::CacheConfig CacheFor(const ApiRequest& request, int64_t tokens) const;

  Engine& engine_;
  const Model& model_;
  const Tokenizer& tokenizer_;
  ServerConfig config_;
  std::vector<int32_t> stop_tokens_;  // end-of-generation tokens
  std::shared_ptr<Shared> shared_;
  ServerCounters counters_;
};

// Seconds on a steady clock (the rate's time base).
double SteadySeconds();

}  // namespace arkv::server
