#include "runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include "arkv/kv_memory.h"
#include "core/error.h"

namespace arkv {
namespace {

double Now() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Tokens that bound a share's byte budget from above without overflowing the
// page arithmetic (the budget, not the context, is what binds).
constexpr int64_t kUnboundedTokens = int64_t{1} << 30;

bool SameCacheConfig(const kv::CacheConfig& a, const kv::CacheConfig& b) {
  return a.policy == b.policy && a.budget.unit == b.budget.unit &&
         a.budget.value == b.budget.value && a.window == b.window && a.sinks == b.sinks &&
         a.snapkv_decode == b.snapkv_decode && a.tau1 == b.tau1 && a.tau2 == b.tau2 &&
         a.tau3 == b.tau3 && a.gamma == b.gamma && a.keep_fraction == b.keep_fraction &&
         a.pool_kernel == b.pool_kernel && a.original == b.original && a.quant == b.quant;
}

}  // namespace

std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "?";
}

void EngineConfig::Validate() const {
  if (max_sequences < 1) Fail("parallel sequences must be >= 1 (got {})", max_sequences);
  if (prefill_chunk < 1) Fail("prefill chunk must be >= 1 (got {})", prefill_chunk);
  if (kv_budget_bytes < 0) Fail("KV budget must be >= 0 bytes (got {})", kv_budget_bytes);
  if (kv_budget_bytes > 0 && static_cast<size_t>(kv_budget_bytes) < page_bytes) {
    Fail("KV budget of {} bytes is less than one page of {} bytes", kv_budget_bytes, page_bytes);
  }
  kv::CacheConfig c = cache;
  if (c.policy != kv::PolicyKind::kFull && c.budget.unit == kv::Budget::Unit::kUnlimited) {
    // Each sequence gets its share of the engine's budget at admission.
    if (kv_budget_bytes == 0) {
      Fail("KV policy '{}' needs a budget: give --kv-budget", kv::PolicyName(c.policy));
    }
    c.budget = kv::Budget::Bytes(kv_budget_bytes);
  }
  kv::ValidateConfig(c);
}

struct Engine::Sequence {
  RequestId id = 0;
  GenerationRequest request;
  kv::CacheConfig base_config;   // the request's policy, before any share
  bool elastic = false;          // its budget is the engine's share
  int64_t max_tokens = 0;        // prompt + max_tokens: what it may ever hold
  size_t fixed_pages = 0;        // the reservation of a sequence that is not elastic
  kv::CacheConfig cache_config;  // the policy with its budget now
  std::unique_ptr<kv::SequenceCache> cache;
  std::vector<int32_t> evaluated;  // the tokens in the cache, position i at [i]
  size_t prompt_next = 0;          // first prompt token not yet evaluated
  std::optional<Sampler> sampler;
  int32_t pending = -1;  // sampled and streamed, evaluated in the next step
  int generated = 0;
  size_t reserved_pages = 0;
  double submitted = 0;
  RequestStats stats;

  bool decoding() const { return pending >= 0; }
};

Engine::Engine(const Model& model, ThreadPool& threads, const EngineConfig& config)
    : model_(model), threads_(threads), config_(config) {
  config_.Validate();
  const size_t max_pages = config_.kv_budget_bytes > 0
                               ? static_cast<size_t>(config_.kv_budget_bytes) / config_.page_bytes
                               : 0;
  pool_ = std::make_unique<kv::PagePool>(config_.page_bytes, max_pages);
  max_pages_ = max_pages;
  stats_.max_pages = max_pages;
  stats_.page_bytes = config_.page_bytes;
}

Engine::~Engine() { Stop(); }

int64_t Engine::ShareBytes(const kv::CacheConfig& config, size_t share_pages) const {
  // The largest byte budget whose worst case fits the share (MaxPagesHeld
  // grows with the budget).
  kv::CacheConfig c = config;
  int64_t lo = 0, hi = static_cast<int64_t>(share_pages * config_.page_bytes);
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    c.budget = kv::Budget::Bytes(mid);
    const size_t pages = kv::MaxPagesHeld(model_.cache_shape(), c, kUnboundedTokens,
                                          config_.prefill_chunk, config_.page_bytes);
    if (pages <= share_pages) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  // A share that cannot hold the window is no share.
  return lo >= kv::MinByteBudget(model_.cache_shape(), config, config_.page_bytes) ? lo : 0;
}

int64_t Engine::SequenceShareBytes(const kv::CacheConfig& config, int live_sequences) const {
  if (max_pages_ == 0 || live_sequences < 1) return 0;
  return ShareBytes(config, max_pages_ / static_cast<size_t>(live_sequences));
}

int64_t Engine::SequenceShareBytes(const kv::CacheConfig& config) const {
  return SequenceShareBytes(config, config_.max_sequences);
}

bool Engine::Elastic(const kv::CacheConfig& config) {
  return config.policy != kv::PolicyKind::kFull &&
         config.budget.unit == kv::Budget::Unit::kUnlimited;
}

kv::CacheConfig Engine::ResolveCache(const GenerationRequest& request) const {
  kv::CacheConfig c = request.kv.value_or(config_.cache);
  if (Elastic(c)) {
    // Checked at the largest share it can get: the whole pool, alone.
    const int64_t share = SequenceShareBytes(c, 1);
    if (share == 0) {
      Fail("KV policy '{}' needs a budget: give the request one or the engine a --kv-budget{}",
           kv::PolicyName(c.policy), max_pages_ == 0 ? "" : " that holds its window");
    }
    c.budget = kv::Budget::Bytes(share);
  }
  kv::ValidateConfig(c);
  return c;
}

Engine::SharePlan Engine::PlanShares(std::span<const Sequence* const> seqs) const {
  SharePlan plan;
  plan.budgets.assign(seqs.size(), 0);
  plan.pages.assign(seqs.size(), 0);
  size_t fixed = 0;
  int elastic = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i]->elastic) {
      ++elastic;
    } else {
      plan.pages[i] = seqs[i]->fixed_pages;
      fixed += seqs[i]->fixed_pages;
    }
  }
  plan.total_pages = fixed;
  if (elastic == 0) {
    plan.fits = max_pages_ == 0 || fixed <= max_pages_;
    return plan;
  }
  if (max_pages_ == 0 || fixed >= max_pages_) {
    plan.fits = false;
    return plan;
  }
  plan.share_pages = (max_pages_ - fixed) / static_cast<size_t>(elastic);
  for (size_t i = 0; i < seqs.size(); ++i) {
    const Sequence& s = *seqs[i];
    if (!s.elastic) continue;
    plan.budgets[i] = ShareBytes(s.base_config, plan.share_pages);
    if (plan.budgets[i] == 0) {
      plan.fits = false;
      return plan;
    }
    kv::CacheConfig c = s.base_config;
    c.budget = kv::Budget::Bytes(plan.budgets[i]);
    plan.pages[i] = kv::MaxPagesHeld(model_.cache_shape(), c, s.max_tokens, config_.prefill_chunk,
                                     config_.page_bytes);
    plan.total_pages += plan.pages[i];
  }
  plan.fits = plan.total_pages <= max_pages_;
  return plan;
}

void Engine::ApplyShares(std::span<Sequence* const> seqs, const SharePlan& plan) {
  // Shrinking ones first: each compresses inside its old reservation, and
  // the pages it frees make room for the ones that grow.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < seqs.size(); ++i) {
      Sequence& s = *seqs[i];
      if (!s.elastic || !s.cache) continue;
      const int64_t budget = plan.budgets[i];
      const bool shrink = budget < s.cache_config.budget.value;
      if (budget == s.cache_config.budget.value || shrink != (pass == 0)) continue;
      s.cache->SetBudget(kv::Budget::Bytes(budget));
      s.cache_config.budget = kv::Budget::Bytes(budget);
    }
  }
  for (size_t i = 0; i < seqs.size(); ++i) seqs[i]->reserved_pages = plan.pages[i];
  share_pages_ = plan.share_pages;
}

std::vector<Engine::Sequence*> Engine::Holders(const Sequence* except) {
  std::vector<Sequence*> seqs;
  for (auto& s : running_) seqs.push_back(s.get());
  for (auto& s : retained_) {
    if (s.get() != except) seqs.push_back(s.get());
  }
  return seqs;
}

void Engine::Reshare() {
  if (!reshare_ || max_pages_ == 0) return;
  reshare_ = false;
  for (;;) {
    const std::vector<Sequence*> seqs = Holders(nullptr);
    const SharePlan plan = PlanShares(seqs);
    if (plan.fits) {
      ApplyShares(seqs, plan);
      return;
    }
    // Cannot happen (the running ones fitted at admission, with fewer pages
    // free); kept caches would go first.
    if (retained_.empty()) return;
    EvictRetained(0);
  }
}

RequestId Engine::Submit(GenerationRequest request) {
  if (request.prompt.empty()) Fail("request: prompt is empty");
  for (int32_t id : request.prompt) {
    if (id < 0 || id >= model_.config().n_vocab) {
      Fail("request: prompt token {} is out of range (vocabulary size {})", id,
           model_.config().n_vocab);
    }
  }
  if (request.max_tokens < 1) Fail("request: max_tokens must be >= 1 (got {})", request.max_tokens);
  request.sampler.Validate();
  const kv::CacheConfig cache = ResolveCache(request);
  // A budget too small for the window fails here, not at admission (byte
  // budgets count whole pages, so the probe has the engine's page size).
  kv::PagePool probe(config_.page_bytes);
  kv::CreateSequenceCache(model_.cache_shape(), cache, &probe);
  const int64_t tokens = static_cast<int64_t>(request.prompt.size()) + request.max_tokens;
  const size_t need = kv::MaxPagesHeld(model_.cache_shape(), cache, tokens, config_.prefill_chunk,
                                       config_.page_bytes);
  if (max_pages_ != 0 && need > max_pages_) {
    Fail(
        "request: {} tokens with KV policy '{}' need up to {} pages of {} bytes, but the KV budget "
        "holds {}",
        tokens, kv::PolicyName(cache.policy), need, config_.page_bytes, max_pages_);
  }
  std::lock_guard<std::mutex> lock(mu_);
  const RequestId id = next_id_++;
  inbox_.push_back(Pending{id, std::move(request), Now()});
  ++stats_.waiting;
  wake_.notify_all();
  return id;
}

void Engine::Cancel(RequestId id) {
  std::lock_guard<std::mutex> lock(mu_);
  cancels_.push_back(id);
  wake_.notify_all();
}

void Engine::TakeInbox() {
  std::vector<Pending> inbox;
  std::vector<RequestId> cancels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox.swap(inbox_);
    cancels.swap(cancels_);
  }
  for (Pending& p : inbox) waiting_.push_back(std::move(p));
  for (RequestId id : cancels) {
    auto w = std::find_if(waiting_.begin(), waiting_.end(),
                          [id](const Pending& p) { return p.id == id; });
    if (w != waiting_.end()) {
      Pending p = std::move(*w);
      waiting_.erase(w);
      FinishPending(p, FinishReason::kCancelled, "");
      continue;
    }
    auto r = std::find_if(running_.begin(), running_.end(),
                          [id](const std::unique_ptr<Sequence>& s) { return s->id == id; });
    if (r != running_.end()) {
      std::unique_ptr<Sequence> seq = std::move(*r);
      running_.erase(r);
      Finish(std::move(seq), FinishReason::kCancelled, "");
    }
  }
}

void Engine::EvictRetained(size_t index) {
  retained_.erase(retained_.begin() + static_cast<std::ptrdiff_t>(index));
  reshare_ = true;
}

bool Engine::TryAdmit(Pending& pending) {
  const GenerationRequest& req = pending.request;
  auto seq = std::make_unique<Sequence>();
  seq->base_config = req.kv.value_or(config_.cache);
  seq->elastic = Elastic(seq->base_config);
  seq->max_tokens = static_cast<int64_t>(req.prompt.size()) + req.max_tokens;
  seq->cache_config = ResolveCache(req);
  if (!seq->elastic) {
    seq->fixed_pages = kv::MaxPagesHeld(model_.cache_shape(), seq->cache_config, seq->max_tokens,
                                        config_.prefill_chunk, config_.page_bytes);
  }
  // The kept cache with the longest history that the prompt continues.
  std::optional<size_t> reuse;
  if (config_.cache_reuse) {
    for (size_t i = 0; i < retained_.size(); ++i) {
      const Sequence& r = *retained_[i];
      const std::vector<int32_t>& h = r.evaluated;
      const bool same_policy = r.elastic == seq->elastic &&
                               SameCacheConfig(seq->elastic ? r.base_config : r.cache_config,
                                               seq->elastic ? seq->base_config : seq->cache_config);
      if (h.size() < req.prompt.size() && same_policy &&
          std::equal(h.begin(), h.end(), req.prompt.begin()) &&
          (!reuse || h.size() > retained_[*reuse]->evaluated.size())) {
        reuse = i;
      }
    }
  }
  // Everyone holding pages at their shares with this one among them; kept
  // caches go, oldest first, while that does not fit.
  std::vector<Sequence*> seqs;
  SharePlan plan;
  for (;;) {
    seqs = Holders(reuse ? retained_[*reuse].get() : nullptr);
    seqs.push_back(seq.get());
    plan = PlanShares(seqs);
    if (plan.fits && reuse && max_pages_ != 0) {
      // A kept cache continued at a smaller budget compresses inside the
      // pages of its old one.
      const size_t old_worst =
          kv::MaxPagesHeld(model_.cache_shape(), retained_[*reuse]->cache_config, seq->max_tokens,
                           config_.prefill_chunk, config_.page_bytes);
      plan.fits = plan.total_pages - plan.pages.back() + std::max(plan.pages.back(), old_worst) <=
                  max_pages_;
    }
    if (plan.fits) break;
    const size_t oldest = reuse && *reuse == 0 ? 1 : 0;
    if (oldest >= retained_.size()) return false;
    EvictRetained(oldest);
    if (reuse && *reuse > oldest) --*reuse;
  }

  if (reuse) {
    Sequence& r = *retained_[*reuse];
    seq->cache = std::move(r.cache);
    seq->evaluated = std::move(r.evaluated);
    seq->cache_config = r.cache_config;
    seq->stats.reused_tokens = static_cast<int64_t>(seq->evaluated.size());
    EvictRetained(*reuse);
  } else {
    if (seq->elastic) seq->cache_config.budget = kv::Budget::Bytes(plan.budgets.back());
    seq->cache = kv::CreateSequenceCache(model_.cache_shape(), seq->cache_config, pool_.get());
  }
  ApplyShares(seqs, plan);
  seq->id = pending.id;
  seq->request = std::move(pending.request);
  seq->prompt_next = seq->evaluated.size();
  seq->sampler.emplace(seq->request.sampler);
  seq->submitted = pending.submitted;
  seq->stats.prompt_tokens = static_cast<int64_t>(seq->request.prompt.size());
  seq->stats.queue_seconds = Now() - pending.submitted;
  running_.push_back(std::move(seq));
  return true;
}

void Engine::Admit() {
  while (!waiting_.empty() && static_cast<int>(running_.size()) < config_.max_sequences) {
    Pending& head = waiting_.front();
    bool admitted = false;
    try {
      admitted = TryAdmit(head);
    } catch (const std::exception& e) {
      Pending p = std::move(head);
      waiting_.pop_front();
      FinishPending(p, FinishReason::kError, e.what());
      continue;
    }
    if (!admitted) break;  // first come, first served: later requests wait too
    waiting_.pop_front();
  }
}

void Engine::RunBatch() {
  batch_tokens_.clear();
  batch_positions_.clear();
  batch_sequences_.clear();
  batch_owners_.clear();
  auto add = [&](Sequence& s, std::span<const int32_t> tokens, kv::BatchKind kind) {
    const int first = static_cast<int>(batch_tokens_.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      batch_tokens_.push_back(tokens[i]);
      batch_positions_.push_back(static_cast<int32_t>(s.evaluated.size() + i));
    }
    batch_sequences_.push_back(
        BatchSequence{s.cache.get(), first, static_cast<int>(tokens.size()), kind, false});
    batch_owners_.push_back(&s);
  };
  for (auto& s : running_) {
    if (s->decoding()) add(*s, std::span<const int32_t>(&s->pending, 1), kv::BatchKind::kDecode);
  }
  // Prompt chunks at the same boundaries as a sequence alone; at most one
  // chunk's worth of prompt tokens per step (the first always fits).
  int prompt_tokens = 0;
  for (auto& s : running_) {
    if (s->decoding()) continue;
    const std::vector<int32_t>& prompt = s->request.prompt;
    const size_t n =
        std::min(prompt.size() - s->prompt_next, static_cast<size_t>(config_.prefill_chunk));
    if (prompt_tokens > 0 && prompt_tokens + static_cast<int>(n) > config_.prefill_chunk) continue;
    const bool last = s->prompt_next + n == prompt.size();
    add(*s, std::span<const int32_t>(prompt).subspan(s->prompt_next, n),
        last ? kv::BatchKind::kPromptEnd : kv::BatchKind::kPromptChunk);
    prompt_tokens += static_cast<int>(n);
  }
  if (batch_sequences_.empty()) return;

  const Batch batch{batch_tokens_, batch_positions_, batch_sequences_};
  const size_t n_vocab = static_cast<size_t>(model_.config().n_vocab);
  logits_.resize(static_cast<size_t>(batch.LogitRows()) * n_vocab);
  std::vector<Sequence*> done;
  std::vector<FinishReason> reasons;
  try {
    model_.ForwardBatch(batch, logits_.data(), ws_, threads_);
  } catch (const std::exception& e) {
    // The caches of this batch are in an unknown state: end their sequences.
    const std::string error = e.what();
    for (Sequence* s : batch_owners_) {
      auto it = std::find_if(running_.begin(), running_.end(),
                             [s](const std::unique_ptr<Sequence>& r) { return r.get() == s; });
      std::unique_ptr<Sequence> seq = std::move(*it);
      running_.erase(it);
      seq->cache.reset();
      Finish(std::move(seq), FinishReason::kError, error);
    }
    return;
  }
  ++steps_;
  prompt_tokens_ += prompt_tokens;

  for (size_t i = 0; i < batch_sequences_.size(); ++i) {
    Sequence& s = *batch_owners_[i];
    const BatchSequence& bs = batch_sequences_[i];
    for (int t = 0; t < bs.n_tokens; ++t) s.evaluated.push_back(batch_tokens_[bs.first + t]);
    if (bs.kind == kv::BatchKind::kPromptChunk) {
      s.prompt_next += static_cast<size_t>(bs.n_tokens);
      continue;
    }
    if (bs.kind == kv::BatchKind::kPromptEnd) s.prompt_next = s.request.prompt.size();
    Sample(s, logits_.data() + i * n_vocab);
  }
  // Sequences that sampled a stop token or reached max_tokens leave now.
  for (size_t i = 0; i < running_.size();) {
    Sequence& s = *running_[i];
    const bool stopped = !s.decoding() && s.prompt_next == s.request.prompt.size();
    if (!stopped && s.generated < s.request.max_tokens) {
      ++i;
      continue;
    }
    std::unique_ptr<Sequence> seq = std::move(running_[i]);
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
    Finish(std::move(seq), stopped ? FinishReason::kStop : FinishReason::kLength, "");
  }
}

void Engine::Sample(Sequence& s, const float* logits) {
  const int n_vocab = model_.config().n_vocab;
  const int32_t token = s.sampler->Sample(logits, n_vocab);
  if (s.generated == 0) s.stats.first_token_seconds = Now() - s.submitted;
  const std::vector<int32_t>& stops = s.request.stop_tokens;
  if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
    s.pending = -1;  // finished with kStop (prompt_next is at the end)
    return;
  }
  ++s.generated;
  ++generated_tokens_;
  s.pending = token;
  if (s.request.on_event) {
    StreamEvent ev;
    ev.id = s.id;
    ev.token = token;
    if (s.request.keep_logits) ev.logits = std::span<const float>(logits, n_vocab);
    s.request.on_event(ev);
  }
}

void Engine::Finish(std::unique_ptr<Sequence> seq, FinishReason reason, const std::string& error) {
  ++finished_;
  reshare_ = true;  // the shares change at the next step
  seq->stats.generated_tokens = seq->generated;
  seq->stats.total_seconds = Now() - seq->submitted;
  seq->stats.kv_bytes = seq->cache ? seq->cache->BytesHeld() : 0;
  if (seq->request.on_event) {
    StreamEvent ev;
    ev.id = seq->id;
    ev.finished = true;
    ev.reason = reason;
    ev.error = error;
    ev.stats = seq->stats;
    seq->request.on_event(ev);
  }
  const bool keep = config_.cache_reuse && seq->cache &&
                    (reason == FinishReason::kStop || reason == FinishReason::kLength);
  if (!keep) return;  // the cache and its pages go now
  seq->pending = -1;
  seq->request = GenerationRequest{};
  seq->sampler.reset();
  seq->reserved_pages = static_cast<size_t>(seq->cache->Stats().pages_held);
  // A kept cache never grows: it holds at most its tokens at its budget.
  seq->max_tokens = std::max<int64_t>(1, static_cast<int64_t>(seq->evaluated.size()));
  if (!seq->elastic) seq->fixed_pages = seq->reserved_pages;
  retained_.push_back(std::move(seq));
  while (static_cast<int>(retained_.size()) > config_.max_sequences) EvictRetained(0);
}

void Engine::FinishPending(Pending& pending, FinishReason reason, const std::string& error) {
  ++finished_;
  if (!pending.request.on_event) return;
  StreamEvent ev;
  ev.id = pending.id;
  ev.finished = true;
  ev.reason = reason;
  ev.error = error;
  ev.stats.prompt_tokens = static_cast<int64_t>(pending.request.prompt.size());
  ev.stats.total_seconds = Now() - pending.submitted;
  pending.request.on_event(ev);
}

bool Engine::Step() {
  TakeInbox();
  Admit();
  Reshare();
  const bool busy = !running_.empty();
  if (busy) RunBatch();
  PublishStats();
  return busy || !waiting_.empty();
}

void Engine::RunUntilIdle() {
  while (Step()) {
  }
}

void Engine::PublishStats() {
  EngineStats st;
  st.steps = steps_;
  st.running = static_cast<int64_t>(running_.size());
  st.retained = static_cast<int64_t>(retained_.size());
  st.finished = finished_;
  st.prompt_tokens = prompt_tokens_;
  st.generated_tokens = generated_tokens_;
  st.pages_in_use = pool_->pages_in_use();
  st.peak_pages_in_use = pool_->peak_pages_in_use();
  st.page_bytes = config_.page_bytes;
  st.share_pages = share_pages_;
  for (const auto* list : {&running_, &retained_}) {
    for (const auto& s : *list) {
      if (!s->cache) continue;
      const kv::CacheStats cs = s->cache->Stats();
      for (const kv::LayerStats& l : cs.layers) {
        st.original_bytes += l.original_bytes;
        st.quantized_bytes += l.quantized_bytes;
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  st.max_pages = max_pages_;
  st.waiting = static_cast<int64_t>(waiting_.size() + inbox_.size());
  stats_ = st;
}

EngineStats Engine::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Engine::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (loop_.joinable()) return;
  stop_ = false;
  loop_ = std::thread([this] {
    for (;;) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (stop_) return;
      }
      if (Step()) continue;
      std::unique_lock<std::mutex> l(mu_);
      wake_.wait(l, [this] { return stop_ || !inbox_.empty() || !cancels_.empty(); });
    }
  });
}

void Engine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    wake_.notify_all();
  }
  if (loop_.joinable()) loop_.join();
}

}  // namespace arkv
