// OpenAI request bodies turned into validated requests, or into the error the
// API answers (400, the offending field named in `param`). Pure: no HTTP, no
// model, no tokenizer, so that it can be fuzzed with arbitrary bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "arkv/kv_config.h"
#include "tokenizer/chat_template.h"

namespace arkv::server {

enum class Endpoint : uint8_t { kChat, kCompletion };

// OpenAI's error object: {"error": {message, type, param, code}} with a status.
struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string message;
  std::optional<std::string> param;
  std::optional<std::string> code;
};

// Field names of nested values: "messages[1].content", "stop[0]".
struct ApiRequest {
  Endpoint endpoint = Endpoint::kChat;
  std::vector<ChatMessage> messages;  // chat: at least one
  // chat: chat_template_kwargs.enable_thinking (vLLM's and llama.cpp's
  // extension); false switches Qwen3's thinking off.
  std::optional<bool> enable_thinking;
  std::string prompt;                  // completions, a text prompt
  std::vector<int32_t> prompt_tokens;  // completions, a prompt of token ids (then prompt_is_tokens)
  bool prompt_is_tokens = false;

  std::optional<int64_t> max_tokens;  // >= 1 (max_completion_tokens wins over max_tokens)
  std::optional<double> temperature;  // [0, 2]
  std::optional<double> top_p;        // (0, 1]
  std::optional<double> min_p;        // [0, 1]
  std::optional<int64_t> top_k;       // >= 0
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;  // up to 4, none empty
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;
  int top_logprobs = 0;  // chat 0..20, completions 0..5
  std::optional<kv::PolicyKind> kv_policy;
  std::optional<kv::Budget> kv_budget;  // tokens (>= 1) or bytes
};

inline constexpr int kMaxStopStrings = 4;
inline constexpr int kMaxChatTopLogprobs = 20;
inline constexpr int kMaxCompletionLogprobs = 5;

// Parses and validates a request body of `endpoint`. `model_id` is the one
// model served: the request's `model` must name it.
std::variant<ApiRequest, ApiError> ParseApiRequest(Endpoint endpoint, std::string_view body,
                                                   std::string_view model_id);

// A 400 invalid_request_error naming `param` (nullopt: the body as a whole).
ApiError InvalidRequest(std::string message, std::optional<std::string> param);

}  // namespace arkv::server
