// OpenAI response bodies and server-sent events, as text. Pure formatting:
// what to say is decided elsewhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/api_request.h"

namespace arkv::server {

// One generated token's log-probability (the log-softmax of the logits the
// sampler saw) and the most likely alternatives.
struct TokenLogprob {
  std::string piece;  // the token's bytes (may be part of a UTF-8 character)
  double logprob = 0;
  std::vector<std::pair<std::string, double>> top;  // piece, logprob; most likely first
  size_t text_offset = 0;  // where the token's text starts in the generated text
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// What every body and chunk of one response repeats.
struct ResponseHead {
  Endpoint endpoint = Endpoint::kChat;
  std::string id;  // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;
  std::string model;
};

// The one choice of a response or chunk.
struct Choice {
  std::string text;
  std::optional<std::string> finish_reason;  // "stop" or "length"; none while streaming
  bool logprobs = false;                     // false: "logprobs": null
  std::vector<TokenLogprob> tokens;          // with logprobs: the tokens of `text`
  bool role = false;                         // chat chunk: the delta names the role
};

// A fresh response id for the endpoint ("chatcmpl-" or "cmpl-" and 24 random hex digits).
std::string NewResponseId(Endpoint endpoint);

// The non-streamed answer.
std::string CompletionBody(const ResponseHead& head, const Choice& choice, const Usage& usage);
// One streamed chunk as an SSE event. `usage_null` adds "usage": null (when
// the client asked for a final usage chunk, as OpenAI does).
std::string ChunkEvent(const ResponseHead& head, const Choice& choice, bool usage_null);
// The final usage chunk (choices: []) of stream_options.include_usage.
std::string UsageEvent(const ResponseHead& head, const Usage& usage);
// An error after a stream has started.
std::string ErrorEvent(const ApiError& error);
inline constexpr std::string_view kDoneEvent = "data: [DONE]\n\n";

std::string ErrorBody(const ApiError& error);
std::string ModelsBody(std::string_view model_id, int64_t created);

}  // namespace arkv::server
