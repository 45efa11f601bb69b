// Response bodies and SSE chunks: parsed back with nlohmann-json and checked
// field by field against what the OpenAI API documents.
#include "server/api_response.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace arkv::server {
namespace {

using Json = nlohmann::json;

// The JSON of one SSE event "data: {...}\n\n".
Json EventJson(const std::string& event) {
  EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
  EXPECT_TRUE(event.size() >= 2 && event.substr(event.size() - 2) == "\n\n") << event;
  EXPECT_EQ(event.find('\n'), event.size() - 2) << "one line per event: " << event;
  return Json::parse(event.substr(6, event.size() - 8));
}

ResponseHead Head(Endpoint e) { return ResponseHead{e, "chatcmpl-abc", 1700000000, "m"}; }

TEST(ApiResponse, ChatCompletionBody) {
  Choice c;
  c.text = "Hello \xE2\x9C\x93";
  c.finish_reason = "stop";
  const Json j = Json::parse(CompletionBody(Head(Endpoint::kChat), c, Usage{5, 3}));
  EXPECT_EQ(j["id"], "chatcmpl-abc");
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["created"], 1700000000);
  EXPECT_EQ(j["model"], "m");
  ASSERT_EQ(j["choices"].size(), 1u);
  const Json& choice = j["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_EQ(choice["message"]["content"], "Hello \xE2\x9C\x93");
  EXPECT_TRUE(choice["logprobs"].is_null());
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(j["usage"],
            (Json{{"prompt_tokens", 5}, {"completion_tokens", 3}, {"total_tokens", 8}}));
}

TEST(ApiResponse, TextCompletionWithLogprobs) {
  Choice c;
  c.text = "ab";
  c.finish_reason = "length";
  c.logprobs = true;
  c.tokens = {TokenLogprob{"a", -0.5, {{"a", -0.5}, {"b", -1.5}}, 0},
              TokenLogprob{"b", -2.0, {{"c", -0.25}, {"b", -2.0}}, 1}};
  const Json j = Json::parse(CompletionBody(Head(Endpoint::kCompletion), c, Usage{1, 2}));
  EXPECT_EQ(j["object"], "text_completion");
  const Json& choice = j["choices"][0];
  EXPECT_EQ(choice["text"], "ab");
  EXPECT_FALSE(choice.contains("message"));
  const Json& lp = choice["logprobs"];
  EXPECT_EQ(lp["tokens"], (Json{"a", "b"}));
  EXPECT_EQ(lp["token_logprobs"], (Json{-0.5, -2.0}));
  EXPECT_EQ(lp["top_logprobs"][1], (Json{{"c", -0.25}, {"b", -2.0}}));
  EXPECT_EQ(lp["text_offset"], (Json{0, 1}));
}

TEST(ApiResponse, ChatLogprobsCarryBytes) {
  Choice c;
  c.logprobs = true;
  c.tokens = {TokenLogprob{"\xE2", -1.0, {{"\xE2", -1.0}}, 0}};  // a cut UTF-8 character
  const Json j = Json::parse(CompletionBody(Head(Endpoint::kChat), c, Usage{}));
  const Json& t = j["choices"][0]["logprobs"]["content"][0];
  EXPECT_EQ(t["token"], "\xEF\xBF\xBD");  // U+FFFD: the JSON stays valid UTF-8
  EXPECT_EQ(t["bytes"], (Json{0xE2}));
  EXPECT_EQ(t["logprob"], -1.0);
  EXPECT_EQ(t["top_logprobs"][0]["bytes"], (Json{0xE2}));
}

TEST(ApiResponse, ChatStreamChunks) {
  Choice first;
  first.role = true;
  Json j = EventJson(ChunkEvent(Head(Endpoint::kChat), first, false));
  EXPECT_EQ(j["object"], "chat.completion.chunk");
  EXPECT_EQ(j["choices"][0]["delta"], (Json{{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(j.contains("usage"));

  Choice text;
  text.text = "Hi";
  j = EventJson(ChunkEvent(Head(Endpoint::kChat), text, true));
  EXPECT_EQ(j["choices"][0]["delta"], (Json{{"content", "Hi"}}));
  EXPECT_TRUE(j.contains("usage") && j["usage"].is_null());

  Choice last;
  last.finish_reason = "length";
  j = EventJson(ChunkEvent(Head(Endpoint::kChat), last, false));
  EXPECT_EQ(j["choices"][0]["delta"], Json::object());
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");

  j = EventJson(UsageEvent(Head(Endpoint::kChat), Usage{4, 6}));
  EXPECT_EQ(j["choices"], Json::array());
  EXPECT_EQ(j["usage"]["total_tokens"], 10);
  EXPECT_EQ(std::string(kDoneEvent), "data: [DONE]\n\n");
}

TEST(ApiResponse, CompletionStreamChunk) {
  Choice c;
  c.text = "x\ny";  // a newline in the text stays escaped inside one event line
  const Json j = EventJson(ChunkEvent(Head(Endpoint::kCompletion), c, false));
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "x\ny");
}

TEST(ApiResponse, ErrorsAndModels) {
  ApiError e = InvalidRequest("bad \"thing\"", "temperature");
  Json j = Json::parse(ErrorBody(e));
  EXPECT_EQ(j, (Json{{"error",
                      {{"message", "bad \"thing\""},
                       {"type", "invalid_request_error"},
                       {"param", "temperature"},
                       {"code", nullptr}}}}));
  e = InvalidRequest("x", std::nullopt);
  e.code = "invalid_api_key";
  j = Json::parse(ErrorBody(e));
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_EQ(j["error"]["code"], "invalid_api_key");
  EXPECT_EQ(EventJson(ErrorEvent(e))["error"]["message"], "x");

  j = Json::parse(ModelsBody("m1", 123));
  EXPECT_EQ(
      j, (Json{{"object", "list"},
               {"data",
                {{{"id", "m1"}, {"object", "model"}, {"created", 123}, {"owned_by", "arkv"}}}}}));
}

TEST(ApiResponse, IdsAreFreshAndPrefixed) {
  const std::string a = NewResponseId(Endpoint::kChat), b = NewResponseId(Endpoint::kChat);
  EXPECT_EQ(a.rfind("chatcmpl-", 0), 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(NewResponseId(Endpoint::kCompletion).rfind("cmpl-", 0), 0u);
}

}  // namespace
}  // namespace arkv::server
