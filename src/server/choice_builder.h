// Assembles the choice of a response from generated tokens: the text deltas
// (TokenTextStream) and, when asked, each token's log-probability, released
// with the delta that carries the token's text and cut with it at a stop string.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "server/api_response.h"
#include "server/text_stream.h"
#include "tokenizer/tokenizer.h"

namespace arkv::server {

// log_softmax(logits)[token] and the `top` most likely tokens, pieces from `tokenizer`.
TokenLogprob ComputeLogprob(std::span<const float> logits, int32_t token, int top,
                            const Tokenizer& tokenizer);

class ChoiceBuilder {
 public:
  ChoiceBuilder(const Tokenizer& tokenizer, std::vector<std::string> stops, bool logprobs);

  // One generated token; `logprob` is required when logprobs were asked for.
  void Add(int32_t token, std::optional<TokenLogprob> logprob);
  // The end of generation (not needed after a stop string).
  void Finish();
  // A stop string has ended the text: further tokens are ignored.
  bool stopped() const { return text_.stopped(); }
  int64_t tokens() const { return tokens_; }

  // What is ready to go out since the last call: text and its tokens' logprobs.
  Choice TakeDelta();
  bool HasDelta() const { return !delta_.empty() || released_ < ready_; }

 private:
  void Release(size_t limit);

  TokenTextStream text_;
  bool want_logprobs_;
  bool finished_ = false;
  int64_t tokens_ = 0;
  std::string delta_;
  std::vector<TokenLogprob> logprobs_;  // every token so far
  size_t released_ = 0;                 // logprobs_[0, released_) went out
  size_t ready_ = 0;                    // logprobs_[0, ready_) may go out
};

}  // namespace arkv::server
