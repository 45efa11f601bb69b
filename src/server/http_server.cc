#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <functional>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "core/error.h"
#include "server/api_response.h"
#include "server/choice_builder.h"

namespace arkv::server {
namespace {

constexpr const char* kChatPath = "/v1/chat/completions";
constexpr const char* kCompletionPath = "/v1/completions";
constexpr const char* kJson = "application/json";
// How often a handler waiting for tokens checks that its client is still there.
constexpr std::chrono::milliseconds kPoll{50};
constexpr int kListenBacklog = 1024;
constexpr int kMaxHttpThreads = 512;

const char* const kGetPaths[] = {"/health", "/v1/models", "/metrics"};
const char* const kPostPaths[] = {kChatPath, kCompletionPath};

void Reply(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 503) res.set_header("Retry-After", "1");
  res.set_content(ErrorBody(e), kJson);
}

ApiError Status(int status, std::string type, std::string message) {
  ApiError e;
  e.status = status;
  e.type = std::move(type);
  e.message = std::move(message);
  return e;
}

// The label of /metrics' arkv_requests_total: known paths, else "other".
std::string EndpointLabel(const std::string& path) {
  for (const char* p : kGetPaths) {
    if (path == p) return p;
  }
  for (const char* p : kPostPaths) {
    if (path == p) return p;
  }
  return "other";
}

std::string FinishName(FinishReason reason) {
  return reason == FinishReason::kStop ? "stop" : "length";
}

// One completion as its response is written: the job, the builder of its
// choice and what the answer repeats. Shared by the content provider's calls.
struct Generation {
  CompletionService* service = nullptr;
  std::shared_ptr<Job> job;
  ChoiceBuilder builder;
  ResponseHead head;
  bool stream = false;
  bool include_usage = false;
  int64_t prompt_tokens = 0;

  Generation(const Tokenizer& tokenizer, const PreparedRequest& p)
      : builder(tokenizer, p.stop, p.logprobs) {}
};

struct Outcome {
  std::string finish_reason;
  std::optional<ApiError> error;
  Usage usage;
};

// Feeds the job's tokens to the builder, handing each delta to `emit`, until
// the generation ends (a stop string, a stop token, max_tokens) or the client
// goes away (nullopt; the request is cancelled then).
std::optional<Outcome> Drive(Generation& g, httplib::DataSink& sink,
                             const std::function<bool(Choice&&)>& emit) {
  Outcome out;
  out.usage.prompt_tokens = g.prompt_tokens;
  auto last_check = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<Job::Token> tokens;
    const std::optional<Job::End> end = g.job->Wait(kPoll, tokens);
    for (Job::Token& t : tokens) {
      g.builder.Add(t.id, std::move(t.logprob));
      if (g.builder.stopped()) break;
    }
    bool done = false;
    if (g.builder.stopped()) {
      g.service->EndEarly(*g.job);  // a stop string: the engine need not go on
      out.finish_reason = "stop";
      out.usage.completion_tokens = g.builder.tokens();
      done = true;
    } else if (end) {
      if (end->reason == FinishReason::kError) {
        out.error = Status(500, "server_error", fmt::format("generation failed: {}", end->error));
        return out;
      }
      g.builder.Finish();
      out.finish_reason = FinishName(end->reason);
      out.usage.completion_tokens = end->stats.generated_tokens;
      done = true;
    }
    if (g.builder.HasDelta() && !emit(g.builder.TakeDelta())) {
      g.service->Cancel(*g.job);
      return std::nullopt;
    }
    if (done) return out;
    // Tokens may keep coming with nothing written (a non-streamed answer, text
    // held back for a stop string): look at the socket every kPoll anyway.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check >= kPoll) {
      last_check = now;
      if (!sink.is_writable()) {
        g.service->Cancel(*g.job);
        return std::nullopt;
      }
    }
  }
}

bool Write(httplib::DataSink& sink, const std::string& text) {
  return sink.write(text.data(), text.size());
}

bool StreamProvider(Generation& g, httplib::DataSink& sink) {
  const bool usage_null = g.include_usage;
  if (g.head.endpoint == Endpoint::kChat) {
    Choice first;
    first.role = true;
    if (!Write(sink, ChunkEvent(g.head, first, usage_null))) {
      g.service->Cancel(*g.job);
      return false;
    }
  }
  const std::optional<Outcome> out = Drive(
      g, sink, [&](Choice&& delta) { return Write(sink, ChunkEvent(g.head, delta, usage_null)); });
  if (!out) return false;
  bool ok = true;
  if (out->error) {
    ok = Write(sink, ErrorEvent(*out->error));
  } else {
    Choice last;
    last.finish_reason = out->finish_reason;
    ok = Write(sink, ChunkEvent(g.head, last, usage_null));
    if (ok && g.include_usage) ok = Write(sink, UsageEvent(g.head, out->usage));
  }
  ok = ok && Write(sink, std::string(kDoneEvent));
  if (ok) sink.done();
  return ok;
}

bool JsonProvider(Generation& g, httplib::DataSink& sink) {
  Choice answer;
  const std::optional<Outcome> out = Drive(g, sink, [&](Choice&& delta) {
    answer.text += delta.text;
    answer.logprobs = delta.logprobs;
    for (TokenLogprob& t : delta.tokens) answer.tokens.push_back(std::move(t));
    return true;
  });
  if (!out) return false;
  // The status line went out already: a failure after it is told in the body.
  answer.finish_reason = out->finish_reason;
  const std::string body =
      out->error ? ErrorBody(*out->error) : CompletionBody(g.head, answer, out->usage);
  if (!Write(sink, body)) return false;
  sink.done();
  return true;
}

}  // namespace

HttpServer::HttpServer(CompletionService& service)
    : service_(service), http_(std::make_unique<httplib::Server>()) {
  const ServerConfig& c = service_.config();
  // A thread per connection that may run or wait, a few for /health and
  // /metrics; bounded, as every thread is started up front (connections
  // beyond wait for one).
  const int threads = c.http_threads > 0
                          ? c.http_threads
                          : std::min(service_.parallel() + c.queue_size + 8, kMaxHttpThreads);
  http_->new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  http_->set_payload_max_length(c.max_body_bytes);
  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second
  // server bind the same port. The socket is kept to deepen its backlog.
  http_->set_socket_options([this](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_socket_ = sock;
  });
  Route();
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route() {
  const ServerConfig& config = service_.config();
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::string& key = service_.config().api_key;
    if (key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + key) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    ApiError e = Status(401, "invalid_request_error",
                        "invalid or missing API key: send the header 'Authorization: Bearer KEY'");
    e.code = "invalid_api_key";
    Reply(res, e);
    return httplib::Server::HandlerResponse::Handled;
  });
  http_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                   httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const ApiError e =
        res.status == 404
            ? Status(404, "invalid_request_error", fmt::format("no such endpoint: {}", req.path))
            : Status(res.status, res.status >= 500 ? "server_error" : "invalid_request_error",
                     fmt::format("HTTP status {}", res.status));
    res.set_content(ErrorBody(e), kJson);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    service_.counters().CountResponse(EndpointLabel(req.path), res.status);
  });

  http_->Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", kJson);
  });
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  http_->Get("/v1/models",
             [model = config.model_id, created](const httplib::Request&, httplib::Response& res) {
               res.set_content(ModelsBody(model, created), kJson);
             });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderMetrics(service_.Metrics()), "text/plain; version=0.0.4; charset=utf-8");
  });
  for (const Endpoint endpoint : {Endpoint::kChat, Endpoint::kCompletion}) {
    const char* path = endpoint == Endpoint::kChat ? kChatPath : kCompletionPath;
    http_->Post(path, [this, endpoint](const httplib::Request& req, httplib::Response& res) {
      auto parsed = ParseApiRequest(endpoint, req.body, service_.config().model_id);
      if (const ApiError* e = std::get_if<ApiError>(&parsed)) return Reply(res, *e);
      const ApiRequest& request = std::get<ApiRequest>(parsed);
      auto prepared = service_.Prepare(request);
      if (const ApiError* e = std::get_if<ApiError>(&prepared)) return Reply(res, *e);
      PreparedRequest& p = std::get<PreparedRequest>(prepared);
      auto g = std::make_shared<Generation>(service_.tokenizer(), p);
      g->service = &service_;
      g->head = ResponseHead{endpoint, NewResponseId(endpoint),
                             static_cast<int64_t>(std::time(nullptr)), service_.config().model_id};
      g->stream = request.stream;
      g->include_usage = request.include_usage;
      g->prompt_tokens = static_cast<int64_t>(p.generation.prompt.size());
      auto submitted = service_.Submit(std::move(p));
      if (const ApiError* e = std::get_if<ApiError>(&submitted)) return Reply(res, *e);
      g->job = std::get<std::shared_ptr<Job>>(submitted);
      if (g->stream) {
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider("text/event-stream", [g](size_t, httplib::DataSink& sink) {
          return StreamProvider(*g, sink);
        });
      } else {
        res.set_chunked_content_provider(
            kJson, [g](size_t, httplib::DataSink& sink) { return JsonProvider(*g, sink); });
      }
    });
  }
  // A known path with another method: 405, with the error object.
  auto not_allowed = [](const char* allow) {
    return [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      Reply(res, Status(405, "invalid_request_error",
                        fmt::format("{} does not take {} (use {})", req.path, req.method, allow)));
    };
  };
  for (const char* p : kGetPaths) {
    http_->Post(p, not_allowed("GET"));
    http_->Put(p, not_allowed("GET"));
    http_->Patch(p, not_allowed("GET"));
    http_->Delete(p, not_allowed("GET"));
  }
  for (const char* p : kPostPaths) {
    http_->Get(p, not_allowed("POST"));
    http_->Put(p, not_allowed("POST"));
    http_->Patch(p, not_allowed("POST"));
    http_->Delete(p, not_allowed("POST"));
  }
}

int HttpServer::Bind(const std::string& host, int port) {
  if (port < 0 || port > 65535) Fail("--port must be in [0, 65535], got {}", port);
  int bound = port;
  if (port == 0) {
    bound = http_->bind_to_any_port(host.c_str());
  } else if (!http_->bind_to_port(host.c_str(), port)) {
    bound = -1;
  }
  if (bound <= 0) Fail("cannot listen on {}:{} (address in use or not available)", host, port);
  // httplib 0.11 listens with a backlog of 5: a burst of clients would
  // overflow it (dropped or reset connections). Listening again on the bound
  // socket raises it.
  if (listen_socket_ >= 0 && ::listen(listen_socket_, kListenBacklog) != 0) {
    Fail("cannot listen on {}:{}: {}", host, bound, std::strerror(errno));
  }
  return bound;
}

void HttpServer::Start() {
  listener_done_ = false;
  listener_ = std::thread([this] {
    http_->listen_after_bind();
    listener_done_ = true;
  });
  // Stop() must see a running server, or it would not stop it.
  while (!http_->is_running() && !listener_done_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void HttpServer::Stop() {
  service_.Shutdown();
  http_->stop();
  if (listener_.joinable()) listener_.join();
}

}  // namespace arkv::server
