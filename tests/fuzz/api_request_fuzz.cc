// libFuzzer target for the server's request parser: any bytes, as the body of
// either endpoint, give a validated request or a 400 naming its field, never
// a crash. An accepted request must satisfy every promise of ApiRequest, and
// an error must render as valid JSON (checked here, trapping on a violation).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "server/api_request.h"
#include "server/api_response.h"

namespace {

using arkv::server::ApiError;
using arkv::server::ApiRequest;
using arkv::server::Endpoint;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckRequest(const ApiRequest& r, Endpoint endpoint) {
  Check(r.endpoint == endpoint);
  if (endpoint == Endpoint::kChat) {
    Check(!r.messages.empty());
    for (const auto& m : r.messages) {
      Check(m.role == "system" || m.role == "user" || m.role == "assistant");
    }
  } else {
    Check(r.prompt_is_tokens ? !r.prompt_tokens.empty() : r.prompt_tokens.empty());
    for (int32_t id : r.prompt_tokens) Check(id >= 0);
  }
  Check(!r.max_tokens || *r.max_tokens >= 1);
  Check(!r.temperature || (*r.temperature >= 0 && *r.temperature <= 2));
  Check(!r.top_p || (*r.top_p > 0 && *r.top_p <= 1));
  Check(!r.min_p || (*r.min_p >= 0 && *r.min_p <= 1));
  Check(!r.top_k || *r.top_k >= 0);
  Check(r.stop.size() <= arkv::server::kMaxStopStrings);
  for (const auto& s : r.stop) Check(!s.empty());
  Check(r.top_logprobs >= 0 && r.top_logprobs <= arkv::server::kMaxChatTopLogprobs);
  Check(r.logprobs || r.top_logprobs == 0);
  Check(!r.kv_budget || r.kv_budget->value >= 1);
}

void CheckError(const ApiError& e) {
  Check(e.status == 400 && !e.message.empty());
  // The error goes out as JSON whatever bytes it quotes.
  const auto body = nlohmann::json::parse(arkv::server::ErrorBody(e), nullptr, false);
  Check(!body.is_discarded() && body["error"]["message"].is_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (Endpoint endpoint : {Endpoint::kChat, Endpoint::kCompletion}) {
    auto result = arkv::server::ParseApiRequest(endpoint, body, "m");
    if (const ApiRequest* r = std::get_if<ApiRequest>(&result)) {
      CheckRequest(*r, endpoint);
    } else {
      CheckError(std::get<ApiError>(result));
    }
  }
  return 0;
}
