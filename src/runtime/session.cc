#include "runtime/session.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace arkv {
namespace {
double Now() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}
}  // namespace

Session::Session(const Model& model, std::unique_ptr<kv::SequenceCache> cache, ThreadPool& pool,
                 int prefill_chunk)
    : model_(model), cache_(std::move(cache)), pool_(pool), prefill_chunk_(prefill_chunk) {
  if (cache_ == nullptr) Fail("Session: no KV cache");
  if (prefill_chunk_ < 1) Fail("prefill chunk must be >= 1 (got {})", prefill_chunk_);
}

std::span<const float> Session::Run(std::span<const int32_t> tokens, kv::BatchKind kind,
                                    bool all_logits) {
  const int n = static_cast<int>(tokens.size());
  positions_.resize(n);
  for (int i = 0; i < n; ++i) positions_[i] = n_past_ + i;
  const size_t n_vocab = model_.config().n_vocab;
  logits_.resize((all_logits ? n : 1) * n_vocab);
  model_.Forward(tokens, positions_, *cache_, kind, all_logits, logits_.data(), ws_, pool_);
  n_past_ += n;
  return logits_;
}

std::span<const float> Session::Prefill(std::span<const int32_t> tokens) {
  if (tokens.empty()) Fail("empty prompt: nothing to evaluate");
  const double t0 = Now();
  std::span<const float> out;
  for (size_t begin = 0; begin < tokens.size(); begin += prefill_chunk_) {
    const size_t end = std::min(tokens.size(), begin + prefill_chunk_);
    const kv::BatchKind kind =
        end == tokens.size() ? kv::BatchKind::kPromptEnd : kv::BatchKind::kPromptChunk;
    out = Run(tokens.subspan(begin, end - begin), kind, false);
  }
  timings_.n_prompt += static_cast<int64_t>(tokens.size());
  timings_.prompt_seconds += Now() - t0;
  return out;
}

std::span<const float> Session::Decode(int32_t token) {
  const double t0 = Now();
  std::span<const float> out =
      Run(std::span<const int32_t>(&token, 1), kv::BatchKind::kDecode, false);
  timings_.n_decode += 1;
  timings_.decode_seconds += Now() - t0;
  return out;
}

std::span<const float> Session::EvaluateAll(std::span<const int32_t> tokens) {
  if (tokens.empty()) Fail("nothing to evaluate");
  const double t0 = Now();
  std::span<const float> out = Run(tokens, kv::BatchKind::kPromptEnd, true);
  timings_.n_prompt += static_cast<int64_t>(tokens.size());
  timings_.prompt_seconds += Now() - t0;
  return out;
}

void Session::Reset() {
  cache_->Clear();
  n_past_ = 0;
}

}  // namespace arkv
