#include "server/choice_builder.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "core/log_sum_exp.h"

namespace arkv::server {

TokenLogprob ComputeLogprob(std::span<const float> logits, int32_t token, int top,
                            const Tokenizer& tokenizer) {
  const double log_z = LogSumExp(logits);
  TokenLogprob t;
  t.piece = tokenizer.TokenToPiece(token);
  t.logprob = static_cast<double>(logits[static_cast<size_t>(token)]) - log_z;
  const size_t n = std::min(static_cast<size_t>(std::max(top, 0)), logits.size());
  if (n > 0) {
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(
        ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(),
        [&](int32_t a, int32_t b) {
          return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
                 (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
        });
    for (size_t i = 0; i < n; ++i) {
      t.top.emplace_back(tokenizer.TokenToPiece(ids[i]),
                         static_cast<double>(logits[static_cast<size_t>(ids[i])]) - log_z);
    }
  }
  return t;
}

ChoiceBuilder::ChoiceBuilder(const Tokenizer& tokenizer, std::vector<std::string> stops,
                             bool logprobs)
    : text_(tokenizer, std::move(stops)), want_logprobs_(logprobs) {}

void ChoiceBuilder::Add(int32_t token, std::optional<TokenLogprob> logprob) {
  if (text_.stopped() || finished_) return;
  ++tokens_;
  size_t offset = 0;
  delta_ += text_.Push(token, &offset);
  if (want_logprobs_ && logprob) {
    logprob->text_offset = offset;
    logprobs_.push_back(std::move(*logprob));
  }
  // A token whose text has started to go out may go out; after a stop, only
  // those that start before it.
  Release(text_.emitted());
}

void ChoiceBuilder::Finish() {
  if (text_.stopped() || finished_) return;
  finished_ = true;
  delta_ += text_.Finish();
  ready_ = logprobs_.size();
}

void ChoiceBuilder::Release(size_t limit) {
  while (ready_ < logprobs_.size() && logprobs_[ready_].text_offset < limit) ++ready_;
}

Choice ChoiceBuilder::TakeDelta() {
  Choice c;
  c.text = std::move(delta_);
  delta_.clear();
  c.logprobs = want_logprobs_;
  for (; released_ < ready_; ++released_) c.tokens.push_back(logprobs_[released_]);
  return c;
}

}  // namespace arkv::server
