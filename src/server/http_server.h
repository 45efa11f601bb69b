// The HTTP side of `arkv serve` (cpp-httplib): routes, the API key, the
// OpenAI endpoints over a CompletionService, /health and /metrics. Each
// connection is served on a thread of its own pool; completions wait on their
// job and notice a client that went away (a failed write, or a closed socket
// while waiting), which cancels the request in the engine.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "server/completion_service.h"

namespace httplib {
class Server;
}

namespace arkv::server {

class HttpServer {
 public:
  explicit HttpServer(CompletionService& service);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens on host:port (0: a free port). Returns the port; throws
  // arkv::Error when the address cannot be bound.
  int Bind(const std::string& host, int port);
  // Accepts connections on a thread of its own until Stop().
  void Start();
  // Refuses new requests, cancels running ones, closes the socket and waits
  // for the connection threads.
  void Stop();

 private:
  void Route();

  CompletionService& service_;
  std::unique_ptr<httplib::Server> http_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  int listen_socket_ = -1;
};

}  // namespace arkv::server
