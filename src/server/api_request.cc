#include "server/api_request.h"

#include <limits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace arkv::server {
namespace {

using Json = nlohmann::json;

// Thrown inside the parser; ParseApiRequest turns it into its result.
struct Rejection {
  ApiError error;
};

[[noreturn]] void Reject(std::string param, std::string message) {
  throw Rejection{InvalidRequest(std::move(message), std::move(param))};
}

std::string_view TypeName(const Json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  return v.type_name();
}

[[noreturn]] void WrongType(const std::string& param, std::string_view expected, const Json& got) {
  Reject(param, fmt::format("'{}' must be {}, got {}", param, expected, TypeName(got)));
}

// The member `name` of `body`, nullptr when absent or null (OpenAI clients
// send null for "not given").
const Json* Field(const Json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

bool GetBool(const Json& v, const std::string& param) {
  if (!v.is_boolean()) WrongType(param, "a boolean", v);
  return v.get<bool>();
}

int64_t GetInt(const Json& v, const std::string& param) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Reject(param, fmt::format("'{}' is too large", param));
    }
    return static_cast<int64_t>(u);
  }
  if (!v.is_number_integer()) WrongType(param, "an integer", v);
  return v.get<int64_t>();
}

double GetNumber(const Json& v, const std::string& param) {
  if (!v.is_number()) WrongType(param, "a number", v);
  return v.get<double>();
}

const std::string& GetString(const Json& v, const std::string& param) {
  if (!v.is_string()) WrongType(param, "a string", v);
  return v.get_ref<const std::string&>();
}

// A number in [lo, hi], with an open bound where `lo_open`.
double GetInRange(const Json& v, const std::string& param, double lo, double hi, bool lo_open) {
  const double x = GetNumber(v, param);
  if (lo_open ? !(x > lo) : !(x >= lo)) {
    Reject(param, fmt::format("'{}' must be {} {}, got {}", param, lo_open ? ">" : ">=", lo, x));
  }
  if (!(x <= hi)) Reject(param, fmt::format("'{}' must be <= {}, got {}", param, hi, x));
  return x;
}

// A message's content: a string, or an array of {"type": "text", "text": ...}
// parts (concatenated); null for an assistant turn without text.
std::string MessageContent(const Json& m, const std::string& param) {
  const auto it = m.find("content");
  if (it == m.end()) Reject(param, fmt::format("'{}' is missing", param));
  if (it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) WrongType(param, "a string or an array of text parts", *it);
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& part = (*it)[i];
    const std::string part_param = fmt::format("{}[{}]", param, i);
    if (!part.is_object()) WrongType(part_param, "an object", part);
    const Json* type = Field(part, "type");
    if (type == nullptr || GetString(*type, part_param + ".type") != "text") {
      Reject(part_param + ".type", fmt::format("'{}.type' must be \"text\" (only text content "
                                               "is supported)",
                                               part_param));
    }
    const Json* t = Field(part, "text");
    if (t == nullptr) Reject(part_param + ".text", fmt::format("'{}.text' is missing", part_param));
    text += GetString(*t, part_param + ".text");
  }
  return text;
}

void ParseMessages(const Json& body, ApiRequest& r) {
  const Json* messages = Field(body, "messages");
  if (messages == nullptr) Reject("messages", "'messages' is required");
  if (!messages->is_array()) WrongType("messages", "an array", *messages);
  if (messages->empty()) Reject("messages", "'messages' must hold at least one message");
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    const std::string param = fmt::format("messages[{}]", i);
    if (!m.is_object()) WrongType(param, "an object", m);
    const Json* role = Field(m, "role");
    if (role == nullptr) Reject(param + ".role", fmt::format("'{}.role' is missing", param));
    std::string name = GetString(*role, param + ".role");
    if (name == "developer") name = "system";  // OpenAI's newer name for the system turn
    if (name != "system" && name != "user" && name != "assistant") {
      Reject(param + ".role",
             fmt::format("'{}.role' must be system, user, assistant or developer, got '{}'", param,
                         name));
    }
    r.messages.push_back(ChatMessage{std::move(name), MessageContent(m, param + ".content")});
  }
  if (const Json* kwargs = Field(body, "chat_template_kwargs")) {
    if (!kwargs->is_object()) WrongType("chat_template_kwargs", "an object", *kwargs);
    if (const Json* v = Field(*kwargs, "enable_thinking")) {
      r.enable_thinking = GetBool(*v, "chat_template_kwargs.enable_thinking");
    }
  }
}

void ParsePrompt(const Json& body, ApiRequest& r) {
  const Json* prompt = Field(body, "prompt");
  if (prompt == nullptr) Reject("prompt", "'prompt' is required");
  if (prompt->is_string()) {
    r.prompt = prompt->get<std::string>();
    return;
  }
  if (!prompt->is_array()) WrongType("prompt", "a string or an array of token ids", *prompt);
  if (prompt->size() == 1 && (*prompt)[0].is_string()) {
    r.prompt = (*prompt)[0].get<std::string>();
    return;
  }
  if (prompt->empty()) Reject("prompt", "'prompt' must not be an empty array");
  r.prompt_is_tokens = true;
  for (size_t i = 0; i < prompt->size(); ++i) {
    const Json& id = (*prompt)[i];
    if (id.is_string()) Reject("prompt", "'prompt' may hold one string only (n must be 1)");
    const int64_t v = GetInt(id, fmt::format("prompt[{}]", i));
    if (v < 0 || v > std::numeric_limits<int32_t>::max()) {
      Reject("prompt", fmt::format("'prompt[{}]' is not a token id: {}", i, v));
    }
    r.prompt_tokens.push_back(static_cast<int32_t>(v));
  }
}

void ParseStop(const Json& body, ApiRequest& r) {
  const Json* stop = Field(body, "stop");
  if (stop == nullptr) return;
  if (stop->is_string()) {
    r.stop.push_back(stop->get<std::string>());
  } else if (stop->is_array()) {
    if (stop->size() > kMaxStopStrings) {
      Reject("stop",
             fmt::format("'stop' holds at most {} strings, got {}", kMaxStopStrings, stop->size()));
    }
    for (size_t i = 0; i < stop->size(); ++i) {
      r.stop.push_back(GetString((*stop)[i], fmt::format("stop[{}]", i)));
    }
  } else {
    WrongType("stop", "a string or an array of strings", *stop);
  }
  for (const std::string& s : r.stop) {
    if (s.empty()) Reject("stop", "'stop' strings must not be empty");
  }
}

void ParseSampling(const Json& body, ApiRequest& r) {
  if (const Json* n = Field(body, "n"); n != nullptr && GetInt(*n, "n") != 1) {
    Reject("n", "'n' must be 1: arkv serve returns one choice per request");
  }
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (const Json* v = Field(body, name)) {
      const int64_t n = GetInt(*v, name);
      if (n < 1) Reject(name, fmt::format("'{}' must be >= 1, got {}", name, n));
      r.max_tokens = n;  // max_completion_tokens, read last, wins
    }
  }
  if (const Json* v = Field(body, "temperature")) {
    r.temperature = GetInRange(*v, "temperature", 0, 2, false);
  }
  if (const Json* v = Field(body, "top_p")) r.top_p = GetInRange(*v, "top_p", 0, 1, true);
  if (const Json* v = Field(body, "min_p")) r.min_p = GetInRange(*v, "min_p", 0, 1, false);
  if (const Json* v = Field(body, "top_k")) {
    r.top_k = GetInt(*v, "top_k");
    if (*r.top_k < 0) Reject("top_k", fmt::format("'top_k' must be >= 0, got {}", *r.top_k));
  }
  if (const Json* v = Field(body, "seed")) r.seed = static_cast<uint64_t>(GetInt(*v, "seed"));
  ParseStop(body, r);
}

void ParseStreaming(const Json& body, ApiRequest& r) {
  if (const Json* v = Field(body, "stream")) r.stream = GetBool(*v, "stream");
  if (const Json* o = Field(body, "stream_options")) {
    if (!o->is_object()) WrongType("stream_options", "an object", *o);
    if (const Json* u = Field(*o, "include_usage")) {
      r.include_usage = GetBool(*u, "stream_options.include_usage");
    }
  }
}

void ParseLogprobs(const Json& body, ApiRequest& r) {
  const Json* logprobs = Field(body, "logprobs");
  if (r.endpoint == Endpoint::kChat) {
    if (logprobs != nullptr) r.logprobs = GetBool(*logprobs, "logprobs");
    if (const Json* top = Field(body, "top_logprobs")) {
      const int64_t n = GetInt(*top, "top_logprobs");
      if (n < 0 || n > kMaxChatTopLogprobs) {
        Reject("top_logprobs",
               fmt::format("'top_logprobs' must be in [0, {}], got {}", kMaxChatTopLogprobs, n));
      }
      if (n > 0 && !r.logprobs) {
        Reject("top_logprobs", "'top_logprobs' needs 'logprobs': true");
      }
      r.top_logprobs = static_cast<int>(n);
    }
    return;
  }
  if (logprobs == nullptr) return;
  const int64_t n = GetInt(*logprobs, "logprobs");
  if (n < 0 || n > kMaxCompletionLogprobs) {
    Reject("logprobs",
           fmt::format("'logprobs' must be in [0, {}], got {}", kMaxCompletionLogprobs, n));
  }
  r.logprobs = true;
  r.top_logprobs = static_cast<int>(n);
}

void ParseKv(const Json& body, ApiRequest& r) {
  if (const Json* v = Field(body, "kv_policy")) {
    const std::string& name = GetString(*v, "kv_policy");
    try {
      r.kv_policy = kv::ParsePolicyKind(name);
    } catch (const Error& e) {
      Reject("kv_policy", fmt::format("'kv_policy': {}", e.what()));
    }
  }
  if (const Json* v = Field(body, "kv_budget")) {
    if (v->is_string()) {
      try {
        r.kv_budget = kv::ParseBudget(v->get<std::string>());
      } catch (const Error& e) {
        Reject("kv_budget", fmt::format("'kv_budget': {}", e.what()));
      }
    } else {
      r.kv_budget = kv::Budget::Tokens(GetInt(*v, "kv_budget"));
    }
    if (!(r.kv_budget->value >= 1)) {
      Reject("kv_budget", fmt::format("'kv_budget' must be >= 1, got {}", r.kv_budget->value));
    }
  }
}

// OpenAI fields arkv does not implement, refused rather than ignored when
// they would change the answer.
void RejectUnsupported(const Json& body) {
  if (const Json* v = Field(body, "echo"); v != nullptr && GetBool(*v, "echo")) {
    Reject("echo", "'echo' is not supported");
  }
  if (const Json* v = Field(body, "suffix"); v != nullptr && !GetString(*v, "suffix").empty()) {
    Reject("suffix", "'suffix' is not supported");
  }
  if (const Json* v = Field(body, "best_of"); v != nullptr && GetInt(*v, "best_of") != 1) {
    Reject("best_of", "'best_of' must be 1");
  }
  if (const Json* v = Field(body, "tools"); v != nullptr && !(v->is_array() && v->empty())) {
    Reject("tools", "'tools' are not supported");
  }
}

ApiRequest Parse(Endpoint endpoint, std::string_view text, std::string_view model_id) {
  Json body;
  try {
    body = Json::parse(text);
  } catch (const Json::exception& e) {
    throw Rejection{InvalidRequest(fmt::format("malformed JSON body: {}", e.what()), std::nullopt)};
  }
  if (!body.is_object()) {
    throw Rejection{InvalidRequest(
        fmt::format("the request body must be a JSON object, got {}", TypeName(body)),
        std::nullopt)};
  }
  ApiRequest r;
  r.endpoint = endpoint;
  const Json* model = Field(body, "model");
  if (model == nullptr) Reject("model", "'model' is required");
  if (const std::string& name = GetString(*model, "model"); name != model_id) {
    ApiError e = InvalidRequest(
        fmt::format("the model '{}' does not exist: this server serves '{}'", name, model_id),
        "model");
    e.code = "model_not_found";
    throw Rejection{std::move(e)};
  }
  if (endpoint == Endpoint::kChat) {
    ParseMessages(body, r);
  } else {
    ParsePrompt(body, r);
  }
  ParseSampling(body, r);
  ParseStreaming(body, r);
  ParseLogprobs(body, r);
  ParseKv(body, r);
  RejectUnsupported(body);
  return r;
}

}  // namespace

ApiError InvalidRequest(std::string message, std::optional<std::string> param) {
  ApiError e;
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

std::variant<ApiRequest, ApiError> ParseApiRequest(Endpoint endpoint, std::string_view body,
                                                   std::string_view model_id) {
  // The alternative is named: clang 14 would build an aggregate ApiRequest
  // from an ApiError in variant's converting constructor (seen by the fuzzer).
  try {
    return std::variant<ApiRequest, ApiError>(std::in_place_type<ApiRequest>,
                                              Parse(endpoint, body, model_id));
  } catch (Rejection& r) {
    return std::variant<ApiRequest, ApiError>(std::in_place_type<ApiError>, std::move(r.error));
  }
}

}  // namespace arkv::server
