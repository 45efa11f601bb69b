// The request parser on good bodies (every field read) and bad ones (each
// error of the contract in /work/notes/serve-contract.md names its field).
#include "server/api_request.h"

#include <string>
#include <variant>

#include <gtest/gtest.h>

namespace arkv::server {
namespace {

constexpr const char* kModel = "stories260K";

ApiRequest Good(Endpoint endpoint, const std::string& body) {
  auto r = ParseApiRequest(endpoint, body, kModel);
  if (const ApiError* e = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "rejected " << body << ": " << e->message;
    return {};
  }
  return std::get<ApiRequest>(r);
}

ApiError Bad(Endpoint endpoint, const std::string& body) {
  auto r = ParseApiRequest(endpoint, body, kModel);
  if (!std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << "accepted " << body;
    return {};
  }
  return std::get<ApiError>(r);
}

std::string Chat(const std::string& extra) {
  return R"({"model":"stories260K","messages":[{"role":"user","content":"Hi"}])" +
         (extra.empty() ? "" : "," + extra) + "}";
}

std::string Completion(const std::string& extra) {
  return R"({"model":"stories260K","prompt":"Once")" + (extra.empty() ? "" : "," + extra) + "}";
}

TEST(ApiRequest, ReadsEveryChatField) {
  const ApiRequest r =
      Good(Endpoint::kChat,
           R"({"model":"stories260K","messages":[{"role":"system","content":"Be brief."},
          {"role":"user","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"}]},
          {"role":"assistant","content":null},{"role":"developer","content":"d"}],
          "max_tokens":7,"max_completion_tokens":9,"temperature":0.5,"top_p":0.9,"seed":-3,
          "stop":["a","bc"],"stream":true,"stream_options":{"include_usage":true},
          "logprobs":true,"top_logprobs":3,"top_k":5,"min_p":0.1,"kv_policy":"arkv",
          "kv_budget":"16MiB","n":1,"frequency_penalty":0,"user":"x",
          "chat_template_kwargs":{"enable_thinking":false}})");
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "Hi there");
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_EQ(r.messages[3].role, "system");  // developer is OpenAI's newer name
  EXPECT_EQ(r.max_tokens, 9);               // max_completion_tokens wins
  EXPECT_EQ(r.temperature, 0.5);
  EXPECT_EQ(r.top_p, 0.9);
  EXPECT_EQ(r.seed, static_cast<uint64_t>(-3));
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_EQ(r.top_k, 5);
  EXPECT_EQ(r.min_p, 0.1);
  EXPECT_EQ(r.kv_policy, kv::PolicyKind::kArkv);
  ASSERT_TRUE(r.kv_budget.has_value());
  EXPECT_EQ(r.kv_budget->unit, kv::Budget::Unit::kBytes);
  EXPECT_EQ(r.kv_budget->value, 16 << 20);
  EXPECT_EQ(r.enable_thinking, false);
}

TEST(ApiRequest, DefaultsAndNulls) {
  const ApiRequest r = Good(Endpoint::kChat, Chat(R"("temperature":null,"stop":null,"seed":null)"));
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_FALSE(r.temperature.has_value());
  EXPECT_FALSE(r.seed.has_value());
  EXPECT_TRUE(r.stop.empty());
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.logprobs);
  EXPECT_FALSE(r.kv_policy.has_value());
}

TEST(ApiRequest, CompletionPrompts) {
  EXPECT_EQ(Good(Endpoint::kCompletion, Completion("")).prompt, "Once");
  EXPECT_EQ(Good(Endpoint::kCompletion, R"({"model":"stories260K","prompt":["Twice"]})").prompt,
            "Twice");
  const ApiRequest ids = Good(Endpoint::kCompletion, R"({"model":"stories260K","prompt":[1,2,3]})");
  EXPECT_TRUE(ids.prompt_is_tokens);
  EXPECT_EQ(ids.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  const ApiRequest lp = Good(Endpoint::kCompletion, Completion(R"("logprobs":2,"stop":"x")"));
  EXPECT_TRUE(lp.logprobs);
  EXPECT_EQ(lp.top_logprobs, 2);
  EXPECT_EQ(lp.stop, (std::vector<std::string>{"x"}));
  EXPECT_TRUE(Good(Endpoint::kCompletion, Completion(R"("logprobs":0)")).logprobs);
  EXPECT_EQ(Good(Endpoint::kCompletion, Completion(R"("kv_budget":64)")).kv_budget->value, 64);
}

struct BadCase {
  Endpoint endpoint;
  std::string body;
  const char* param;  // nullptr: the body as a whole
};

TEST(ApiRequest, EachErrorNamesItsField) {
  const Endpoint C = Endpoint::kChat, P = Endpoint::kCompletion;
  const BadCase cases[] = {
      {C, "{", nullptr},
      {C, "", nullptr},
      {C, R"({"model":"stories260K",})", nullptr},
      {C, "[1,2]", nullptr},
      {C, "\"text\"", nullptr},
      {C, R"({"messages":[{"role":"user","content":"Hi"}]})", "model"},
      {C, R"({"model":"gpt-4","messages":[{"role":"user","content":"Hi"}]})", "model"},
      {C, R"({"model":7,"messages":[]})", "model"},
      {C, R"({"model":"stories260K"})", "messages"},
      {C, R"({"model":"stories260K","messages":[]})", "messages"},
      {C, R"({"model":"stories260K","messages":"Hi"})", "messages"},
      {C, R"({"model":"stories260K","messages":[7]})", "messages[0]"},
      {C, R"({"model":"stories260K","messages":[{"content":"Hi"}]})", "messages[0].role"},
      {C, R"({"model":"stories260K","messages":[{"role":"tool","content":"Hi"}]})",
       "messages[0].role"},
      {C, R"({"model":"stories260K","messages":[{"role":"user","content":"a"},{"role":"user"}]})",
       "messages[1].content"},
      {C, R"({"model":"stories260K","messages":[{"role":"user","content":5}]})",
       "messages[0].content"},
      {C,
       R"({"model":"stories260K","messages":[{"role":"user","content":[{"type":"image_url"}]}]})",
       "messages[0].content[0].type"},
      {C, Chat(R"("n":2)"), "n"},
      {C, Chat(R"("n":"1")"), "n"},
      {C, Chat(R"("max_tokens":0)"), "max_tokens"},
      {C, Chat(R"("max_tokens":-5)"), "max_tokens"},
      {C, Chat(R"("max_tokens":1.5)"), "max_tokens"},
      {C, Chat(R"("max_tokens":"10")"), "max_tokens"},
      {C, Chat(R"("max_completion_tokens":0)"), "max_completion_tokens"},
      {C, Chat(R"("max_tokens":99999999999999999999)"), "max_tokens"},
      {C, Chat(R"("temperature":2.5)"), "temperature"},
      {C, Chat(R"("temperature":-0.1)"), "temperature"},
      {C, Chat(R"("temperature":"hot")"), "temperature"},
      {C, Chat(R"("top_p":0)"), "top_p"},
      {C, Chat(R"("top_p":1.01)"), "top_p"},
      {C, Chat(R"("top_k":-1)"), "top_k"},
      {C, Chat(R"("min_p":1.5)"), "min_p"},
      {C, Chat(R"("seed":1.5)"), "seed"},
      {C, Chat(R"("stop":5)"), "stop"},
      {C, Chat(R"("stop":["a","b","c","d","e"])"), "stop"},
      {C, Chat(R"("stop":["a",1])"), "stop[1]"},
      {C, Chat(R"("stop":"")"), "stop"},
      {C, Chat(R"("stream":"yes")"), "stream"},
      {C, Chat(R"("stream_options":true)"), "stream_options"},
      {C, Chat(R"("stream":true,"stream_options":{"include_usage":1})"),
       "stream_options.include_usage"},
      {C, Chat(R"("logprobs":1)"), "logprobs"},
      {C, Chat(R"("logprobs":true,"top_logprobs":21)"), "top_logprobs"},
      {C, Chat(R"("top_logprobs":2)"), "top_logprobs"},
      {C, Chat(R"("kv_policy":"lru")"), "kv_policy"},
      {C, Chat(R"("kv_policy":3)"), "kv_policy"},
      {C, Chat(R"("kv_budget":0)"), "kv_budget"},
      {C, Chat(R"("kv_budget":"lots")"), "kv_budget"},
      {C, Chat(R"("kv_budget":1.5)"), "kv_budget"},
      {C, Chat(R"("tools":[{"type":"function"}])"), "tools"},
      {C, Chat(R"("chat_template_kwargs":[])"), "chat_template_kwargs"},
      {C, Chat(R"("chat_template_kwargs":{"enable_thinking":"no"})"),
       "chat_template_kwargs.enable_thinking"},
      {P, R"({"model":"stories260K"})", "prompt"},
      {P, Completion(R"("echo":true)"), "echo"},
      {P, Completion(R"("best_of":3)"), "best_of"},
      {P, R"({"model":"stories260K","prompt":7})", "prompt"},
      {P, R"({"model":"stories260K","prompt":[]})", "prompt"},
      {P, R"({"model":"stories260K","prompt":["a","b"]})", "prompt"},
      {P, R"({"model":"stories260K","prompt":[1,-2]})", "prompt"},
      {P, R"({"model":"stories260K","prompt":[1,"x"]})", "prompt"},
      {P, Completion(R"("logprobs":6)"), "logprobs"},
      {P, Completion(R"("logprobs":true)"), "logprobs"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.body);
    const ApiError e = Bad(c.endpoint, c.body);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_FALSE(e.message.empty());
    if (c.param == nullptr) {
      EXPECT_FALSE(e.param.has_value()) << *e.param;
    } else {
      EXPECT_EQ(e.param.value_or("(none)"), c.param) << e.message;
    }
  }
}

TEST(ApiRequest, UnknownModelHasItsCode) {
  const ApiError e = Bad(Endpoint::kCompletion, R"({"model":"other","prompt":"x"})");
  EXPECT_EQ(e.code.value_or(""), "model_not_found");
  EXPECT_NE(e.message.find("stories260K"), std::string::npos) << e.message;
}

}  // namespace
}  // namespace arkv::server
