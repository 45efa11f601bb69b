#include "server/completion_service.h"

#include <algorithm>
#include <exception>
#include <random>
#include <utility>

#include <fmt/format.h>

#include "arkv/kv_memory.h"
#include "core/error.h"
#include "server/choice_builder.h"

namespace arkv::server {
namespace {

ApiError Busy(std::string message) {
  ApiError e;
  e.status = 503;
  e.type = "server_error";
  e.message = std::move(message);
  return e;
}

const char* PromptParam(const ApiRequest& r) {
  return r.endpoint == Endpoint::kChat ? "messages" : "prompt";
}

struct Rejection {
  ApiError error;
};

// Variants are built with the alternative named (see ParseApiRequest).
using Prepared = std::variant<PreparedRequest, ApiError>;
using Submitted = std::variant<std::shared_ptr<Job>, ApiError>;

}  // namespace

double SteadySeconds() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

std::optional<Job::End> Job::Wait(std::chrono::milliseconds timeout, std::vector<Token>& tokens) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return !tokens_.empty() || end_.has_value(); });
  for (Token& t : tokens_) tokens.push_back(std::move(t));
  tokens_.clear();
  return end_;
}

CompletionService::CompletionService(Engine& engine, const Model& model, const Tokenizer& tokenizer,
                                     ServerConfig config)
    : engine_(engine),
      model_(model),
      tokenizer_(tokenizer),
      config_(std::move(config)),
      shared_(std::make_shared<Shared>()) {
  for (int32_t id = 0; id < tokenizer_.n_vocab(); ++id) {
    if (tokenizer_.IsEndOfGeneration(id)) stop_tokens_.push_back(id);
  }
}

CompletionService::~CompletionService() { Shutdown(); }

std::vector<int32_t> CompletionService::PromptTokens(const ApiRequest& r) const {
  std::vector<int32_t> tokens;
  if (r.endpoint == Endpoint::kCompletion && r.prompt_is_tokens) {
    for (int32_t id : r.prompt_tokens) {
      if (id >= tokenizer_.n_vocab()) {
        throw Rejection{InvalidRequest(fmt::format("'prompt' holds token id {}, but the "
                                                   "vocabulary has {} tokens",
                                                   id, tokenizer_.n_vocab()),
                                       "prompt")};
      }
    }
    return r.prompt_tokens;
  }
  std::string text = r.prompt;
  if (r.endpoint == Endpoint::kChat) {
    try {
      ChatRenderOptions options;
      options.enable_thinking = r.enable_thinking.value_or(true);
      text = RenderChat(config_.chat_template, r.messages, options);
    } catch (const Error& e) {
      throw Rejection{InvalidRequest(e.what(), "messages")};
    }
  }
  // Special-token texts of a template become their tokens; BOS is added as
  // the vocabulary asks unless the text (Llama 3's template) begins with it.
  tokens = tokenizer_.Encode(text, /*add_special=*/false, /*parse_special=*/true);
  const int32_t bos = tokenizer_.bos_id();
  if (tokenizer_.add_bos() && bos >= 0 && (tokens.empty() || tokens[0] != bos)) {
    tokens.insert(tokens.begin(), bos);
  }
  if (tokens.empty()) {
    throw Rejection{InvalidRequest(fmt::format("'{}' is empty", PromptParam(r)), PromptParam(r))};
  }
  return tokens;
}

kv::CacheConfig CompletionService::CacheFor(const ApiRequest& r, int64_t tokens) const {
  const EngineConfig& ec = engine_.config();
  kv::CacheConfig c = ec.cache;
  if (r.kv_policy) c.policy = *r.kv_policy;
  if (r.kv_budget) c.budget = *r.kv_budget;
  if (c.policy == kv::PolicyKind::kFull) {
    c.budget = kv::Budget::Unlimited();
    return c;
  }
  const char* param = r.kv_budget ? "kv_budget" : "kv_policy";
  const size_t max_pages = engine_.Stats().max_pages;
  kv::CacheConfig unlimited = c;
  unlimited.budget = kv::Budget::Unlimited();
  const int64_t share = engine_.SequenceShareBytes(unlimited);
  // Without a budget of its own a sequence gets a share of the pool from the
  // engine (at least one --parallel slot's); a budget of its own is capped to
  // one slot's share.
  if (c.budget.unit == kv::Budget::Unit::kUnlimited) {
    if (share == 0) {
      throw Rejection{InvalidRequest(
          max_pages == 0
              ? fmt::format("KV policy '{}' needs a budget: give 'kv_budget'",
                            kv::PolicyName(c.policy))
              : fmt::format("KV policy '{}': one --parallel share of the server's KV budget ({} "
                            "pages of {} bytes) cannot hold a prompt chunk of {} tokens; give "
                            "'kv_budget' in tokens, or run the server with a smaller "
                            "--prefill-chunk or a larger --kv-budget",
                            kv::PolicyName(c.policy), max_pages / ec.max_sequences, ec.page_bytes,
                            ec.prefill_chunk),
          param)};
    }
  } else if (max_pages != 0 && share > 0) {
    const size_t share_pages = max_pages / static_cast<size_t>(ec.max_sequences);
    const size_t need =
        kv::MaxPagesHeld(model_.cache_shape(), c, tokens, ec.prefill_chunk, ec.page_bytes);
    if (need > share_pages) c.budget = kv::Budget::Bytes(share);
  }
  // Checked at the smallest share the engine may give (every slot taken).
  kv::CacheConfig checked = c;
  if (checked.budget.unit == kv::Budget::Unit::kUnlimited)
    checked.budget = kv::Budget::Bytes(share);
  if (const auto problem = kv::FindConfigProblem(checked)) {
    throw Rejection{
        InvalidRequest(fmt::format("KV config {}: {}", problem->field, problem->message),
                       problem->field == "budget" ? "kv_budget" : param)};
  }
  // A budget too small for the window fails here, as it would in the engine.
  try {
    kv::PagePool probe(ec.page_bytes);
    kv::CreateSequenceCache(model_.cache_shape(), checked, &probe);
  } catch (const Error& e) {
    throw Rejection{InvalidRequest(e.what(), param)};
  }
  return c;  // without a budget of its own: the engine gives the share
}

std::variant<PreparedRequest, ApiError> CompletionService::Prepare(const ApiRequest& r) const {
  try {
    PreparedRequest p;
    GenerationRequest& g = p.generation;
    g.prompt = PromptTokens(r);
    const int64_t prompt = static_cast<int64_t>(g.prompt.size());
    const bool full = r.kv_policy.value_or(engine_.config().cache.policy) == kv::PolicyKind::kFull;
    int64_t max_tokens = r.max_tokens.value_or(config_.ctx_size);
    if (full) {
      if (prompt >= config_.ctx_size) {
        throw Rejection{InvalidRequest(
            fmt::format("the prompt is {} tokens; with the full KV policy the context "
                        "(--ctx-size) holds {} tokens of prompt and completion",
                        prompt, config_.ctx_size),
            PromptParam(r))};
      }
      max_tokens = std::min(max_tokens, config_.ctx_size - prompt);
    }
    max_tokens = std::min(max_tokens, kMaxCompletionTokens);
    g.max_tokens = static_cast<int>(max_tokens);
    const kv::CacheConfig cache = CacheFor(r, prompt + max_tokens);
    if (r.kv_policy || r.kv_budget) g.kv = cache;

    const EngineConfig& ec = engine_.config();
    const size_t max_pages = engine_.Stats().max_pages;
    if (max_pages != 0 && cache.policy == kv::PolicyKind::kFull) {
      const size_t need = kv::MaxPagesHeld(model_.cache_shape(), cache, prompt + max_tokens,
                                           ec.prefill_chunk, ec.page_bytes);
      if (need > max_pages) {
        throw Rejection{InvalidRequest(
            fmt::format("{} tokens of prompt and completion under the full KV policy need {} "
                        "pages of {} bytes, but the server's KV budget holds {}",
                        prompt + max_tokens, need, ec.page_bytes, max_pages),
            PromptParam(r))};
      }
    }

    g.sampler = config_.sampler;
    if (r.temperature) g.sampler.temperature = static_cast<float>(*r.temperature);
    if (r.top_p) g.sampler.top_p = static_cast<float>(*r.top_p);
    if (r.min_p) g.sampler.min_p = static_cast<float>(*r.min_p);
    if (r.top_k) g.sampler.top_k = static_cast<int>(std::min<int64_t>(*r.top_k, 1 << 30));
    if (r.seed) {
      g.sampler.seed = *r.seed;
    } else if (config_.random_seed) {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      g.sampler.seed = rng();
    }
    g.stop_tokens = stop_tokens_;
    g.keep_logits = r.logprobs;
    p.stop = r.stop;
    p.logprobs = r.logprobs;
    p.top_logprobs = r.top_logprobs;
    return Prepared(std::in_place_type<PreparedRequest>, std::move(p));
  } catch (Rejection& rejection) {
    return Prepared(std::in_place_type<ApiError>, std::move(rejection.error));
  }
}

std::variant<std::shared_ptr<Job>, ApiError> CompletionService::Submit(PreparedRequest p) {
  auto job = std::make_shared<Job>();
  std::shared_ptr<Shared> shared = shared_;
  const Tokenizer* tokenizer = &tokenizer_;
  const int top = p.top_logprobs;
  const bool logprobs = p.logprobs;
  p.generation.on_event = [job, shared, tokenizer, top, logprobs](const StreamEvent& ev) {
    if (!ev.finished) {
      Job::Token t;
      t.id = ev.token;
      if (logprobs && !ev.logits.empty())
        t.logprob = ComputeLogprob(ev.logits, ev.token, top, *tokenizer);
      shared->rate.Add(SteadySeconds(), 1);
      std::lock_guard<std::mutex> lock(job->mu_);
      job->tokens_.push_back(std::move(t));
      job->cv_.notify_all();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(job->mu_);
      job->end_ = Job::End{ev.reason, ev.error, ev.stats};
      job->cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(shared->mu);
    if (shared->live.erase(ev.id) > 0) --shared->in_flight;
    shared->idle.notify_all();
  };

  std::lock_guard<std::mutex> lock(shared_->mu);
  if (shared_->stopping) {
    return Submitted(std::in_place_type<ApiError>, Busy("the server is shutting down"));
  }
  const int64_t limit = static_cast<int64_t>(engine_.config().max_sequences) + config_.queue_size;
  if (shared_->in_flight >= limit) {
    return Submitted(
        std::in_place_type<ApiError>,
        Busy(fmt::format("the server is busy: {} requests are running or waiting (--parallel "
                         "{} and --queue-size {}); retry later",
                         shared_->in_flight, engine_.config().max_sequences, config_.queue_size)));
  }
  try {
    job->id_ = engine_.Submit(std::move(p.generation));
  } catch (const Error& e) {
    return Submitted(std::in_place_type<ApiError>, InvalidRequest(e.what(), std::nullopt));
  }
  shared_->live.insert(job->id_);
  ++shared_->in_flight;
  return Submitted(std::in_place_type<std::shared_ptr<Job>>, std::move(job));
}

void CompletionService::Cancel(const Job& job) {
  counters_.CountCancelled();
  engine_.Cancel(job.id());
}

void CompletionService::EndEarly(const Job& job) { engine_.Cancel(job.id()); }

void CompletionService::Shutdown() {
  std::vector<RequestId> live;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stopping = true;
    live.assign(shared_->live.begin(), shared_->live.end());
  }
  for (RequestId id : live) engine_.Cancel(id);
}

MetricsSnapshot CompletionService::Metrics() const {
  MetricsSnapshot s;
  s.engine = engine_.Stats();
  s.responses = counters_.Responses();
  s.cancelled = counters_.cancelled();
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    s.in_flight = shared_->in_flight;
  }
  s.tokens_per_second = shared_->rate.PerSecond(SteadySeconds());
  s.kv_budget_bytes = config_.kv_budget_bytes;
  return s;
}

}  // namespace arkv::server
