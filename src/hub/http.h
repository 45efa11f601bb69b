// A small blocking HTTP client on top of libcurl, just what the Hub download
// needs: HEAD, GET into memory, and streaming GET with progress.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace arkv::hub {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value" lines
  bool follow_redirects = true;
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  // abort when no byte arrives for this long
};

struct HttpResponse {
  long status = 0;
  std::string url;           // effective URL, after redirects that were followed
  std::string redirect_url;  // absolute target of a redirect that was not followed
  std::map<std::string, std::string> headers;  // names in lower case, of the last response
  std::string body;

  // The header's value, or "" when absent. `name` is matched case-insensitively.
  std::string Header(std::string_view name) const;
};

// Thrown when no complete HTTP response arrived. `unreachable` is set when the
// host could not be contacted at all (DNS, connection refused, TLS handshake,
// connect timeout), as opposed to a transfer cut off midway.
class TransferError : public Error {
 public:
  TransferError(const std::string& what, bool unreachable)
      : Error(what), unreachable_(unreachable) {}
  bool unreachable() const { return unreachable_; }

 private:
  bool unreachable_;
};

// Callbacks of a streaming GET. Any of them may throw; the transfer is then
// aborted and the exception propagates out of HttpGetStream.
struct HttpStreamHandler {
  // Called once, with the final response's status and headers, before any
  // body byte. Return true to receive the body through `on_data`, false to
  // have it collected (truncated to 64 KiB) into the returned response.
  std::function<bool(const HttpResponse&)> on_headers;
  std::function<void(const char* data, size_t size)> on_data;
  // Bytes received so far in this transfer and the transfer's total (0 if unknown).
  std::function<void(int64_t received, int64_t total)> on_progress;
};

HttpResponse HttpHead(const HttpRequest& request);

// GET with the body in memory; fails with arkv::Error when the body exceeds `max_body` bytes.
HttpResponse HttpGet(const HttpRequest& request, size_t max_body = 64 << 20);

HttpResponse HttpGetStream(const HttpRequest& request, HttpStreamHandler& handler);

// Percent-encodes everything but RFC 3986 unreserved characters (and '/'
// when `keep_slash`, for paths).
std::string UrlEncode(std::string_view text, bool keep_slash);

// "host:port" or "host" of an http(s) URL, for messages.
std::string UrlHost(std::string_view url);

}  // namespace arkv::hub
