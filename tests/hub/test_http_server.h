// A minimal HTTP/1.1 server on 127.0.0.1 for the hub tests: one connection at
// a time, one request per connection, answers computed by a handler, and
// every request recorded so that tests can check what the client sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace arkv::hub::testing {

struct RecordedRequest {
  std::string method;
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names in lower case

  std::string Path() const { return target.substr(0, target.find('?')); }
  // The header's value or "" when absent; `name` in lower case.
  std::string Header(const std::string& name) const;
};

struct ServerResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Content-Length to announce; by default the body's size. -1 omits it.
  std::optional<int64_t> content_length;
  // Close the connection after this many body bytes, whatever was announced.
  std::optional<size_t> cut_after;
};

class TestHttpServer {
 public:
  using Handler = std::function<ServerResponse(const RecordedRequest&)>;

  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:PORT"

  std::vector<RecordedRequest> requests() const;
  // Requests with this method whose path starts with `path_prefix`.
  int CountRequests(std::string_view method, std::string_view path_prefix) const;

 private:
  void Serve();
  void HandleConnection(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<RecordedRequest> requests_;
};

// A TCP port on 127.0.0.1 where nothing listens: bound (not listening) for
// the object's lifetime, so connections are refused and no other socket can
// take the port meanwhile.
class UnusedPort {
 public:
  UnusedPort();
  ~UnusedPort();
  UnusedPort(const UnusedPort&) = delete;
  UnusedPort& operator=(const UnusedPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace arkv::hub::testing
