#include "hub/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <memory>
#include <mutex>

#include "core/strings.h"

namespace arkv::hub {
namespace {

constexpr size_t kMaxErrorBody = 64 << 10;

void EnsureCurlInitialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) Fail("libcurl initialization failed");
  });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

bool IsUnreachable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return true;
    default:
      return false;
  }
}

// State shared with the libcurl callbacks of one transfer.
struct Transfer {
  enum class Mode { kHead, kMemory, kStream };

  CURL* curl = nullptr;
  Mode mode = Mode::kMemory;
  HttpResponse response;
  HttpStreamHandler* handler = nullptr;
  size_t max_body = 0;
  bool body_too_large = false;
  bool headers_delivered = false;
  bool deliver_body = false;  // stream mode: body goes to handler->on_data
  std::exception_ptr error;   // exception thrown by a handler callback

  void DeliverHeaders() {
    if (headers_delivered) return;
    headers_delivered = true;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    if (mode == Mode::kStream && handler->on_headers) {
      deliver_body = handler->on_headers(response);
    }
  }
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response in a redirect chain: keep only the last one's headers.
    transfer->response.headers.clear();
    return line.size();
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    transfer->response.headers[ToLower(Trim(line.substr(0, colon)))] =
        std::string(Trim(line.substr(colon + 1)));
  }
  return line.size();
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  try {
    transfer->DeliverHeaders();
    if (transfer->mode == Transfer::Mode::kStream && transfer->deliver_body) {
      transfer->handler->on_data(data, n);
      return n;
    }
    const size_t limit =
        transfer->mode == Transfer::Mode::kMemory ? transfer->max_body : kMaxErrorBody;
    if (transfer->response.body.size() + n > limit) {
      if (transfer->mode == Transfer::Mode::kMemory) {
        transfer->body_too_large = true;
        return 0;  // abort
      }
      transfer->response.body.append(data, limit - transfer->response.body.size());
      return n;
    }
    transfer->response.body.append(data, n);
    return n;
  } catch (...) {
    transfer->error = std::current_exception();
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
}

int OnProgress(void* user, curl_off_t dl_total, curl_off_t dl_now, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (!transfer->deliver_body || !transfer->handler->on_progress) return 0;
  try {
    transfer->handler->on_progress(dl_now, dl_total);
    return 0;
  } catch (...) {
    transfer->error = std::current_exception();
    return 1;  // abort
  }
}

HttpResponse Perform(const HttpRequest& request, Transfer& transfer) {
  EnsureCurlInitialized();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) Fail("libcurl: cannot create a transfer handle");
  transfer.curl = curl.get();
  CURL* h = curl.get();

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const std::string& header : request.headers) {
    curl_slist* appended = curl_slist_append(headers.get(), header.c_str());
    if (!appended) Fail("libcurl: out of memory building request headers");
    headers.release();
    headers.reset(appended);
  }

  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "arkv/0.1");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  // libcurl drops custom Authorization headers when a redirect leaves the
  // original host, so the token never reaches the CDN.
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_s);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  if (transfer.mode == Transfer::Mode::kHead) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (transfer.mode == Transfer::Mode::kMemory) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  if (transfer.mode == Transfer::Mode::kStream) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
  }

  const CURLcode code = curl_easy_perform(h);
  if (transfer.error) std::rethrow_exception(transfer.error);
  if (transfer.body_too_large) {
    Fail("response from {} is larger than {} bytes", request.url, transfer.max_body);
  }
  if (code != CURLE_OK) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    if (IsUnreachable(code)) {
      throw TransferError(fmt::format("cannot reach {}: {}", UrlHost(request.url), detail), true);
    }
    throw TransferError(fmt::format("transfer from {} failed: {}", UrlHost(request.url), detail),
                        false);
  }
  // A response without a body never reached OnBody.
  transfer.DeliverHeaders();
  if (transfer.error) std::rethrow_exception(transfer.error);

  char* effective_url = nullptr;
  curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &effective_url);
  if (effective_url) transfer.response.url = effective_url;
  char* redirect_url = nullptr;
  curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redirect_url);
  if (redirect_url) transfer.response.redirect_url = redirect_url;
  return std::move(transfer.response);
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  const auto it = headers.find(ToLower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string UrlEncode(std::string_view text, bool keep_slash) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string UrlHost(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  const size_t at = url.rfind('@');  // drop user info
  if (at != std::string_view::npos) url.remove_prefix(at + 1);
  return std::string(url);
}

HttpResponse HttpHead(const HttpRequest& request) {
  Transfer transfer;
  transfer.mode = Transfer::Mode::kHead;
  return Perform(request, transfer);
}

HttpResponse HttpGet(const HttpRequest& request, size_t max_body) {
  Transfer transfer;
  transfer.mode = Transfer::Mode::kMemory;
  transfer.max_body = max_body;
  return Perform(request, transfer);
}

HttpResponse HttpGetStream(const HttpRequest& request, HttpStreamHandler& handler) {
  Transfer transfer;
  transfer.mode = Transfer::Mode::kStream;
  transfer.handler = &handler;
  return Perform(request, transfer);
}

}  // namespace arkv::hub
