#include "server/api_response.h"

#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tokenizer/unicode.h"

namespace arkv::server {
namespace {

using Json = nlohmann::ordered_json;

// Text from the model is valid UTF-8 already; this guards every string that
// goes out (a token piece may be a lone byte).
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json Bytes(const std::string& piece) {
  Json bytes = Json::array();
  for (char c : piece) bytes.push_back(static_cast<uint8_t>(c));
  return bytes;
}

Json ChatLogprobs(const std::vector<TokenLogprob>& tokens) {
  Json content = Json::array();
  for (const TokenLogprob& t : tokens) {
    Json top = Json::array();
    for (const auto& [piece, logprob] : t.top) {
      top.push_back(
          {{"token", unicode::Sanitize(piece)}, {"logprob", logprob}, {"bytes", Bytes(piece)}});
    }
    content.push_back({{"token", unicode::Sanitize(t.piece)},
                       {"logprob", t.logprob},
                       {"bytes", Bytes(t.piece)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

Json CompletionLogprobs(const std::vector<TokenLogprob>& tokens) {
  Json pieces = Json::array(), logprobs = Json::array(), tops = Json::array(),
       offsets = Json::array();
  for (const TokenLogprob& t : tokens) {
    pieces.push_back(unicode::Sanitize(t.piece));
    logprobs.push_back(t.logprob);
    Json top = Json::object();
    for (const auto& [piece, logprob] : t.top) top[unicode::Sanitize(piece)] = logprob;
    tops.push_back(std::move(top));
    offsets.push_back(t.text_offset);
  }
  return {{"tokens", std::move(pieces)},
          {"token_logprobs", std::move(logprobs)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

Json ChoiceJson(Endpoint endpoint, const Choice& c, bool chunk) {
  Json choice = {{"index", 0}};
  if (endpoint == Endpoint::kCompletion) {
    choice["text"] = c.text;
  } else if (chunk) {
    Json delta = Json::object();
    if (c.role) delta["role"] = "assistant";
    if (c.role || !c.text.empty()) delta["content"] = c.text;
    choice["delta"] = std::move(delta);
  } else {
    choice["message"] = {{"role", "assistant"}, {"content", c.text}};
  }
  if (!c.logprobs) {
    choice["logprobs"] = nullptr;
  } else {
    choice["logprobs"] =
        endpoint == Endpoint::kChat ? ChatLogprobs(c.tokens) : CompletionLogprobs(c.tokens);
  }
  choice["finish_reason"] = c.finish_reason ? Json(*c.finish_reason) : Json(nullptr);
  return choice;
}

Json UsageJson(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

Json Head(const ResponseHead& h, bool chunk) {
  const char* object = h.endpoint == Endpoint::kCompletion ? "text_completion"
                       : chunk                             ? "chat.completion.chunk"
                                                           : "chat.completion";
  return {{"id", h.id}, {"object", object}, {"created", h.created}, {"model", h.model}};
}

std::string Event(const Json& j) { return "data: " + Dump(j) + "\n\n"; }

}  // namespace

std::string NewResponseId(Endpoint endpoint) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:012x}{:012x}", endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-",
                     rng() & 0xffffffffffffULL, rng() & 0xffffffffffffULL);
}

std::string CompletionBody(const ResponseHead& head, const Choice& choice, const Usage& usage) {
  Json j = Head(head, false);
  j["choices"] = Json::array({ChoiceJson(head.endpoint, choice, false)});
  j["usage"] = UsageJson(usage);
  return Dump(j);
}

std::string ChunkEvent(const ResponseHead& head, const Choice& choice, bool usage_null) {
  Json j = Head(head, true);
  j["choices"] = Json::array({ChoiceJson(head.endpoint, choice, true)});
  if (usage_null) j["usage"] = nullptr;
  return Event(j);
}

std::string UsageEvent(const ResponseHead& head, const Usage& usage) {
  Json j = Head(head, true);
  j["choices"] = Json::array();
  j["usage"] = UsageJson(usage);
  return Event(j);
}

std::string ErrorEvent(const ApiError& error) { return "data: " + ErrorBody(error) + "\n\n"; }

std::string ErrorBody(const ApiError& e) {
  const Json j = {{"error",
                   {{"message", e.message},
                    {"type", e.type},
                    {"param", e.param ? Json(*e.param) : Json(nullptr)},
                    {"code", e.code ? Json(*e.code) : Json(nullptr)}}}};
  return Dump(j);
}

std::string ModelsBody(std::string_view model_id, int64_t created) {
  const Json j = {{"object", "list"},
                  {"data", Json::array({{{"id", std::string(model_id)},
                                         {"object", "model"},
                                         {"created", created},
                                         {"owned_by", "arkv"}}})}};
  return Dump(j);
}

}  // namespace arkv::server
