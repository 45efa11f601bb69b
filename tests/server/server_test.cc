// The HTTP server in-process on 127.0.0.1 (a free port) over stories260K,
// driven with httplib::Client: answers against the model run alone, streams
// against non-streamed answers, every error status of the contract, and a
// client that disconnects mid-stream giving its pages back at once.
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "runtime/engine.h"
#include "runtime/logit_scan.h"
#include "runtime/session.h"
#include "server/completion_service.h"
#include "server/http_server.h"
#include "tokenizer/tokenizer.h"

namespace arkv::server {
namespace {

using Json = nlohmann::json;
constexpr const char* kModelPath = ARKV_SHARED_DIR "/models/stories260K.gguf";

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

const Loaded& TheModel() {
  static const Loaded loaded = [] {
    Loaded l;
    l.model = Model::Load(kModelPath);
    l.tokenizer = Tokenizer::FromGguf(l.model->file());
    return l;
  }();
  return loaded;
}

struct Options {
  int parallel = 2;
  int queue_size = 8;
  int ctx_size = 256;
  std::string api_key;
  bool cache_reuse = true;
  bool start_engine = true;
};

// An engine, its service and the HTTP server on a free port.
class TestServer {
 public:
  explicit TestServer(const Options& o) : threads_(1) {
    const Loaded& m = TheModel();
    EngineConfig ec;
    ec.max_sequences = o.parallel;
    ec.prefill_chunk = 64;
    ec.kv_budget_bytes = 4 << 20;
    ec.cache_reuse = o.cache_reuse;
    engine_ = std::make_unique<Engine>(*m.model, threads_, ec);
    ServerConfig sc;
    sc.model_id = "stories260K";
    sc.chat_template = ChatTemplateByName("chatml");
    sc.ctx_size = o.ctx_size;
    sc.api_key = o.api_key;
    sc.queue_size = o.queue_size;
    sc.kv_budget_bytes = ec.kv_budget_bytes;
    service_ = std::make_unique<CompletionService>(*engine_, *m.model, *m.tokenizer, sc);
    http_ = std::make_unique<HttpServer>(*service_);
    port_ = http_->Bind("127.0.0.1", 0);
    if (o.start_engine) engine_->Start();
    http_->Start();
  }
  ~TestServer() {
    http_->Stop();
    engine_->Stop();
  }

  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  Engine& engine() { return *engine_; }
  CompletionService& service() { return *service_; }

 private:
  ThreadPool threads_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<CompletionService> service_;
  std::unique_ptr<HttpServer> http_;
  int port_ = 0;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModelPath)) {
      GTEST_SKIP() << "../shared/models/stories260K.gguf is absent: the HTTP tests need it";
    }
  }
};

httplib::Result Post(httplib::Client& c, const std::string& path, const Json& body,
                     const httplib::Headers& headers = {}) {
  return c.Post(path.c_str(), headers, body.dump(), "application/json");
}

// The generated text of `prompt` (greedy), decoded piece by piece.
std::string GreedyAlone(const std::string& prompt, int n) {
  const Loaded& m = TheModel();
  std::vector<int32_t> ids = m.tokenizer->Encode(prompt, true, true);
  ThreadPool threads(1);
  Session s(*m.model, kv::CreateSequenceCache(m.model->cache_shape(), kv::CacheConfig{}), threads,
            64);
  std::span<const float> logits = s.Prefill(ids);
  std::string text;
  for (int i = 0; i < n; ++i) {
    const int32_t t = Argmax(logits.data(), m.model->config().n_vocab);
    if (m.tokenizer->IsEndOfGeneration(t)) break;
    text += m.tokenizer->TokenToPiece(t);
    if (i + 1 < n) logits = s.Decode(t);
  }
  return text;
}

// The JSON of each "data: " event of an SSE body, and whether it ended with [DONE].
std::vector<Json> Events(const std::string& body, bool* done) {
  std::vector<Json> out;
  *done = false;
  size_t at = 0;
  while (at < body.size()) {
    const size_t end = body.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "an event without its blank line";
    if (end == std::string::npos) break;
    const std::string event = body.substr(at, end - at);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    EXPECT_FALSE(*done) << "an event after [DONE]";
    if (event == "data: [DONE]") {
      *done = true;
    } else {
      out.push_back(Json::parse(event.substr(6)));
    }
    at = end + 2;
  }
  return out;
}

TEST_F(ServerTest, HealthModelsAndUnknownRoutes) {
  TestServer server(Options{});
  auto c = server.Client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body), (Json{{"status", "ok"}}));
  r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(Json::parse(r->body)["data"][0]["id"], "stories260K");
  r = c.Get("/v1/nothing");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(Json::parse(r->body)["error"].contains("message"));
  r = c.Get("/v1/chat/completions");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(Json::parse(r->body)["error"]["type"], "invalid_request_error");
}

TEST_F(ServerTest, CompletionIsTheModelsGreedyText) {
  TestServer server(Options{});
  auto c = server.Client();
  const std::string prompt = "Once upon a time";
  auto r =
      Post(c, "/v1/completions",
           {{"model", "stories260K"}, {"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json j = Json::parse(r->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], GreedyAlone(prompt, 24));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  const int64_t prompt_tokens =
      static_cast<int64_t>(TheModel().tokenizer->Encode(prompt, true, true).size());
  EXPECT_EQ(j["usage"]["prompt_tokens"], prompt_tokens);
  EXPECT_EQ(j["usage"]["completion_tokens"], 24);
  EXPECT_EQ(j["usage"]["total_tokens"], prompt_tokens + 24);
}

TEST_F(ServerTest, StreamsCarryTheSameTextAsAnswers) {
  TestServer server(Options{});
  auto c = server.Client();
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    SCOPED_TRACE(path);
    const bool chat = std::string(path) == "/v1/chat/completions";
    Json body = {{"model", "stories260K"}, {"max_tokens", 20}, {"seed", 11}, {"temperature", 1.0}};
    if (chat) {
      body["messages"] = Json::array({{{"role", "user"}, {"content", "Tell a story."}}});
    } else {
      body["prompt"] = "The cat";
    }
    auto r = Post(c, path, body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const Json answer = Json::parse(r->body);
    const std::string text = chat ? answer["choices"][0]["message"]["content"].get<std::string>()
                                  : answer["choices"][0]["text"].get<std::string>();
    EXPECT_FALSE(text.empty());

    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    r = Post(c, path, body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
    bool done = false;
    const std::vector<Json> events = Events(r->body, &done);
    EXPECT_TRUE(done);
    ASSERT_GE(events.size(), 3u);
    std::string streamed;
    for (size_t i = 0; i + 2 < events.size(); ++i) {
      const Json& choice = events[i]["choices"][0];
      EXPECT_TRUE(choice["finish_reason"].is_null());
      if (chat) {
        EXPECT_EQ(choice["delta"].contains("role"), i == 0);
        streamed += choice["delta"].value("content", "");
      } else {
        streamed += choice["text"].get<std::string>();
      }
      EXPECT_EQ(events[i]["id"], events[0]["id"]);
    }
    EXPECT_EQ(streamed, text);  // same seed, same text
    EXPECT_EQ(events[events.size() - 2]["choices"][0]["finish_reason"], "length");
    const Json& usage = events.back();
    EXPECT_EQ(usage["choices"], Json::array());
    EXPECT_EQ(usage["usage"], answer["usage"]);
  }
}

TEST_F(ServerTest, StopStringsEndTheText) {
  TestServer server(Options{});
  auto c = server.Client();
  const std::string full = GreedyAlone("Once upon a time", 40);
  // A stop string from the middle of the text (not at its start).
  const size_t cut = full.find(' ', 10);
  ASSERT_NE(cut, std::string::npos) << full;
  const std::string stop = full.substr(cut, 4);
  const size_t first = full.find(stop);
  for (bool stream : {false, true}) {
    auto r = Post(c, "/v1/completions",
                  {{"model", "stories260K"},
                   {"prompt", "Once upon a time"},
                   {"max_tokens", 40},
                   {"temperature", 0},
                   {"stop", Json::array({"zzzz", stop})},
                   {"stream", stream}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    std::string text, reason;
    if (stream) {
      bool done = false;
      for (const Json& e : Events(r->body, &done)) {
        text += e["choices"][0]["text"].get<std::string>();
        if (!e["choices"][0]["finish_reason"].is_null()) reason = e["choices"][0]["finish_reason"];
      }
      EXPECT_TRUE(done);
    } else {
      const Json j = Json::parse(r->body);
      text = j["choices"][0]["text"];
      reason = j["choices"][0]["finish_reason"];
    }
    EXPECT_EQ(text, full.substr(0, first)) << "stream " << stream << ", stop '" << stop << "'";
    EXPECT_EQ(reason, "stop");
  }
}

TEST_F(ServerTest, LogprobsAreThoseOfTheSampledTokens) {
  TestServer server(Options{});
  auto c = server.Client();
  auto r = Post(c, "/v1/chat/completions",
                {{"model", "stories260K"},
                 {"messages", Json::array({{{"role", "user"}, {"content", "Hi"}}})},
                 {"max_tokens", 6},
                 {"temperature", 0},
                 {"logprobs", true},
                 {"top_logprobs", 3}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json j = Json::parse(r->body);
  const Json& content = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 6u);
  std::string joined;
  for (const Json& t : content) {
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    // Greedy: the sampled token is the most likely one.
    EXPECT_EQ(t["token"], t["top_logprobs"][0]["token"]);
    EXPECT_DOUBLE_EQ(t["logprob"].get<double>(), t["top_logprobs"][0]["logprob"].get<double>());
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(),
              t["top_logprobs"][1]["logprob"].get<double>());
    joined += t["token"].get<std::string>();
  }
  EXPECT_EQ(joined, j["choices"][0]["message"]["content"]);
}

TEST_F(ServerTest, BadRequestsNameTheirField) {
  Options o;
  o.ctx_size = 32;
  TestServer server(o);
  auto c = server.Client();
  auto r = c.Post("/v1/chat/completions", "{not json", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(Json::parse(r->body)["error"]["param"].is_null());

  const std::string long_text(400, 'a');
  struct Case {
    const char* path;
    Json body;
    const char* param;
  };
  const Json user = Json::array({{{"role", "user"}, {"content", "Hi"}}});
  const Case cases[] = {
      {"/v1/chat/completions", {{"model", "gpt-4"}, {"messages", user}}, "model"},
      {"/v1/chat/completions",
       {{"model", "stories260K"}, {"messages", user}, {"max_tokens", 0}},
       "max_tokens"},
      {"/v1/completions", {{"model", "stories260K"}, {"prompt", long_text}}, "prompt"},
      {"/v1/chat/completions",
       {{"model", "stories260K"},
        {"messages", Json::array({{{"role", "user"}, {"content", long_text}}})}},
       "messages"},
      {"/v1/completions",
       {{"model", "stories260K"}, {"prompt", "x"}, {"kv_policy", "lru"}},
       "kv_policy"},
      {"/v1/completions",
       {{"model", "stories260K"}, {"prompt", Json::array({1, 99999})}},
       "prompt"},
      {"/v1/completions",
       {{"model", "stories260K"}, {"prompt", "x"}, {"kv_policy", "arkv"}, {"kv_budget", 1}},
       "kv_budget"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.body.dump());
    r = Post(c, k.path, k.body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    const Json e = Json::parse(r->body)["error"];
    EXPECT_EQ(e["type"], "invalid_request_error");
    EXPECT_EQ(e["param"], k.param) << e["message"];
  }
  // A long prompt is fine under a compressing policy.
  r = Post(c, "/v1/completions",
           {{"model", "stories260K"},
            {"prompt", long_text},
            {"max_tokens", 2},
            {"kv_policy", "window"},
            {"kv_budget", 64}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(ServerTest, ApiKeyGuardsAllButHealth) {
  Options o;
  o.api_key = "sesame";
  TestServer server(o);
  auto c = server.Client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const Json body = {{"model", "stories260K"}, {"prompt", "x"}, {"max_tokens", 1}};
  for (const httplib::Headers& h :
       {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer wrong"}}}) {
    r = Post(c, "/v1/completions", body, h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(Json::parse(r->body)["error"]["code"], "invalid_api_key");
  }
  r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = Post(c, "/v1/completions", body, {{"Authorization", "Bearer sesame"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// Waits until the server holds `n` requests (they are submitted from other threads).
void WaitInFlight(CompletionService& service, int64_t n) {
  for (int i = 0; i < 2000 && service.Metrics().in_flight != n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(service.Metrics().in_flight, n);
}

TEST_F(ServerTest, AFullQueueAnswers503WithRetryAfter) {
  Options o;
  o.parallel = 1;
  o.queue_size = 1;
  o.start_engine = false;  // nothing runs: requests stay queued
  TestServer server(o);
  const Json body = {{"model", "stories260K"}, {"prompt", "Once"}, {"max_tokens", 4}};
  std::vector<std::future<int>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::async(std::launch::async, [&] {
      auto c = server.Client();
      auto r = Post(c, "/v1/completions", body);
      return r ? r->status : -1;
    }));
    WaitInFlight(server.service(), i + 1);
  }
  auto c = server.Client();
  auto r = Post(c, "/v1/completions", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(Json::parse(r->body)["error"]["type"], "server_error");
  server.engine().Start();
  for (auto& f : held) EXPECT_EQ(f.get(), 200);
  r = Post(c, "/v1/completions", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, ARequestsOwnBudgetIsCappedToItsShare) {
  TestServer server(Options{});
  auto c = server.Client();
  // 1 GiB for 8,000 tokens would need more pages than the whole 4 MiB pool:
  // capped to a share, the request runs (the client leaves at its first token).
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = Json{{"model", "stories260K"}, {"prompt", "Once"},    {"max_tokens", 8000},
                  {"kv_policy", "arkv"},    {"kv_budget", "1GiB"}, {"stream", true}}
                 .dump();
  req.set_header("Content-Type", "application/json");
  int status = 0;
  std::string body;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    body.append(data, n);
    return false;
  };
  (void)c.send(req);
  EXPECT_EQ(status, 200) << body;
}

TEST_F(ServerTest, ConcurrentRequestsStayInsideTheBudget) {
  Options o;
  o.parallel = 3;
  TestServer server(o);
  const char* policies[] = {"full", "arkv", "window", "quant", "snapkv"};
  std::vector<std::future<std::string>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::async(std::launch::async, [&, i] {
      auto c = server.Client();
      Json body = {{"model", "stories260K"}, {"prompt", std::string(20 + 9 * i, 'x')},
                   {"max_tokens", 24},       {"kv_policy", policies[i % 5]},
                   {"stream", i % 2 == 0},   {"seed", i}};
      if (i % 3 == 0) body["kv_budget"] = "1GiB";
      auto r = Post(c, "/v1/completions", body);
      if (!r) return std::string("no response");
      return r->status == 200 ? std::string() : std::to_string(r->status) + " " + r->body;
    }));
  }
  for (auto& f : clients) EXPECT_EQ(f.get(), "");
  const EngineStats st = server.engine().Stats();
  ASSERT_GT(st.max_pages, 0u);
  EXPECT_LE(server.engine().pool().peak_pages_in_use(), st.max_pages);
  EXPECT_GT(server.engine().pool().peak_pages_in_use(), 0u);
}

// A metric's value from /metrics.
double Metric(httplib::Client& c, const std::string& name) {
  auto r = c.Get("/metrics");
  if (!r) return -1;
  const std::string key = "\n" + name + " ";
  const size_t at = r->body.find(key);
  if (at == std::string::npos) return -1;
  return std::stod(r->body.substr(at + key.size()));
}

TEST_F(ServerTest, AClientThatLeavesMidStreamGivesItsPagesBack) {
  Options o;
  o.cache_reuse = false;
  TestServer server(o);
  for (bool stream : {true, false}) {
    SCOPED_TRACE(stream ? "streamed" : "not streamed");
    auto c = server.Client();
    const double cancelled = Metric(c, "arkv_requests_cancelled_total");
    // Far more tokens than the test waits for: only a cancel ends it soon.
    const Json body = {{"model", "stories260K"}, {"prompt", "Once upon a time"},
                       {"max_tokens", 1000000},  {"kv_policy", "window"},
                       {"kv_budget", 64},        {"stream", stream}};
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    size_t received = 0;
    int status = 0;
    req.response_handler = [&](const httplib::Response& res) {
      status = res.status;
      return true;
    };
    const auto started = std::chrono::steady_clock::now();
    req.content_receiver = [&](const char*, size_t n, uint64_t, uint64_t) {
      received += n;
      return false;  // hang up at the first bytes
    };
    auto leaving = server.Client();
    if (!stream) {
      // A non-streamed answer sends nothing until the end: hang up after a while.
      leaving.set_read_timeout(0, 300000);
    }
    (void)leaving.send(req);
    if (stream) {
      EXPECT_EQ(status, 200);
      EXPECT_GT(received, 0u);
    } else {
      EXPECT_EQ(received, 0u);  // the client gave up before the answer
    }
    double pages = -1;
    for (int i = 0; i < 400; ++i) {
      // The request may not have reached the engine yet when the client
      // leaves: wait for the server to let go of it, then for its pages.
      pages = Metric(c, "arkv_kv_pool_pages");
      if (pages == 0 && Metric(c, "arkv_requests_in_flight") == 0 &&
          Metric(c, "arkv_live_sequences") == 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(pages, 0);
    EXPECT_EQ(Metric(c, "arkv_live_sequences"), 0);
    EXPECT_EQ(Metric(c, "arkv_requests_cancelled_total"), cancelled + 1);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
    EXPECT_EQ(Metric(c, R"(arkv_kv_bytes{state="original"})"), 0);
  }
}

}  // namespace
}  // namespace arkv::server
