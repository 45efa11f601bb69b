// A fake Hugging Face Hub on 127.0.0.1 for the hub tests: the Hub answers
// resolve requests like huggingface.co does (302 to a CDN with X-Linked-Size
// and X-Linked-ETag for LFS files, 200 with a git blob ETag for other files),
// and a second server plays the CDN that serves the bytes, honouring Range.
// Also the ResolveModelTest fixture: a temporary cache and options for it.
#pragma once

#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "hub/download.h"
#include "hub/hub.h"
#include "test_http_server.h"

namespace arkv::hub::testing {

namespace fs = std::filesystem;

inline constexpr char kRepo[] = "owner/model-GGUF";
inline constexpr char kToken[] = "hf_secret";

inline std::string Hex(const unsigned char* digest, unsigned int size) {
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

inline std::string Sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return Hex(digest, size);
}

inline std::string GitBlobSha1(std::string_view data) {
  const std::string object = fmt::format("blob {}", data.size()) + '\0' + std::string(data);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(object.data(), object.size(), digest, &size, EVP_sha1(), nullptr);
  return Hex(digest, size);
}

inline std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  return data;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// "bytes=START-" -> START, or -1.
inline int64_t RangeStart(const std::string& header) {
  if (!header.starts_with("bytes=") || !header.ends_with("-")) return -1;
  return std::stoll(header.substr(6, header.size() - 7));
}

struct HubFile {
  std::string content;
  bool lfs = true;
  std::string advertised_sha256;  // default: the content's
  int64_t advertised_size = -1;   // default: the content's
  bool advertise_size = true;     // false: no size on HEAD (non-LFS only)
  bool send_etag = true;          // false: no ETag at all (non-LFS only), as some mirrors
};

// How the CDN answers the next Range request with a 206.
enum class BadRange {
  kNone,
  kFromZero,    // the whole file, labelled "bytes 0-END/TOTAL"
  kOtherTotal,  // the right bytes, but a TOTAL that is not the file's size
};

// The fake Hub and its CDN. Handlers run on the servers' threads, so the
// configuration is guarded by a mutex.
class FakeHub {
 public:
  FakeHub()
      : cdn_([this](const RecordedRequest& r) { return ServeCdn(r); }),
        hub_([this](const RecordedRequest& r) { return ServeHub(r); }) {}

  void AddFile(const std::string& path, HubFile file) {
    std::lock_guard<std::mutex> lock(mutex_);
    files_[path] = std::move(file);
  }
  void RequireToken() {
    std::lock_guard<std::mutex> lock(mutex_);
    require_token_ = true;
  }
  // The next GET of file bytes closes the connection after `bytes` bytes.
  void CutNextDownloadAfter(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    cut_next_after_ = bytes;
  }
  void SetListingPageSize(size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    listing_page_size_ = size;
  }
  void IgnoreRange() {
    std::lock_guard<std::mutex> lock(mutex_);
    ignore_range_ = true;
  }
  void AnswerNextRangeWith(BadRange bad) {
    std::lock_guard<std::mutex> lock(mutex_);
    bad_range_ = bad;
  }

  std::string endpoint() const { return hub_.url(); }
  const TestHttpServer& hub() const { return hub_; }
  const TestHttpServer& cdn() const { return cdn_; }
  // GETs of the bytes of LFS files.
  int CdnDownloads() const { return cdn_.CountRequests("GET", "/lfs/"); }
  std::vector<RecordedRequest> AllRequests() const {
    std::vector<RecordedRequest> all = hub_.requests();
    for (const RecordedRequest& r : cdn_.requests()) all.push_back(r);
    return all;
  }

 private:
  ServerResponse ServeHub(const RecordedRequest& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string path = request.Path();
    if (require_token_ && request.Header("authorization") != std::string("Bearer ") + kToken) {
      return {.status = 401,
              .headers = {{"X-Error-Code", "GatedRepo"},
                          {"X-Error-Message", "Access to model owner/model-GGUF is restricted."}}};
    }
    // A renamed repo: the Hub redirects the old name with a relative Location.
    if (path.starts_with("/old-owner/old-name/")) {
      return {
          .status = 307,
          .headers = {{"Location", std::string("/") + kRepo + "/" +
                                       path.substr(std::string("/old-owner/old-name/").size())}}};
    }
    const std::string repo_prefix = std::string("/") + kRepo + "/";
    if (path == std::string("/api/models/") + kRepo + "/tree/main") {
      // Pages of `listing_page_size_` entries linked like the Hub's: Link: <URL>; rel="next".
      const size_t cursor_at = request.target.find("&cursor=");
      const size_t first =
          cursor_at == std::string::npos ? 0 : std::stoul(request.target.substr(cursor_at + 8));
      nlohmann::json listing = nlohmann::json::array();
      if (first == 0) listing.push_back({{"type", "directory"}, {"path", "docs"}});
      size_t index = 0;
      for (const auto& [name, file] : files_) {
        if (index >= first && index < first + listing_page_size_) {
          listing.push_back({{"type", "file"}, {"path", name}, {"size", file.content.size()}});
        }
        ++index;
      }
      ServerResponse response{.headers = {{"Content-Type", "application/json"}},
                              .body = listing.dump()};
      if (first + listing_page_size_ < files_.size()) {
        response.headers.push_back(
            {"Link", fmt::format("<{}{}?recursive=true&cursor={}>; rel=\"next\"", hub_.url(), path,
                                 first + listing_page_size_)});
      }
      return response;
    }
    if (!path.starts_with(repo_prefix)) {
      return {.status = 404,
              .headers = {{"X-Error-Code", "RepoNotFound"}},
              .body = "Repository not found"};
    }
    const std::string resolve_prefix = repo_prefix + "resolve/main/";
    const auto it = path.starts_with(resolve_prefix)
                        ? files_.find(path.substr(resolve_prefix.size()))
                        : files_.end();
    if (it == files_.end()) {
      return {
          .status = 404,
          .headers = {{"X-Error-Code", "EntryNotFound"}, {"X-Error-Message", "Entry not found"}},
          .body = "Entry not found"};
    }
    const HubFile& file = it->second;
    if (!file.lfs) return ServeBytes(request, file, /*git_etag=*/true);
    const std::string sha =
        file.advertised_sha256.empty() ? Sha256(file.content) : file.advertised_sha256;
    const int64_t size = file.advertised_size >= 0 ? file.advertised_size
                                                   : static_cast<int64_t>(file.content.size());
    return {.status = 302,
            .headers = {{"Location", cdn_.url() + "/lfs/" + it->first},
                        {"X-Linked-Size", std::to_string(size)},
                        {"X-Linked-ETag", "\"" + sha + "\""},
                        {"ETag", "\"" + sha + "\""},
                        {"X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567"}},
            .body = "Found. Redirecting"};
  }

  ServerResponse ServeCdn(const RecordedRequest& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = files_.find(request.Path().substr(std::string("/lfs/").size()));
    if (!request.Path().starts_with("/lfs/") || it == files_.end()) return {.status = 404};
    return ServeBytes(request, it->second, /*git_etag=*/false);
  }

  // The file's bytes, honouring "Range: bytes=N-" unless told to ignore it.
  ServerResponse ServeBytes(const RecordedRequest& request, const HubFile& file, bool git_etag) {
    ServerResponse response;
    if (git_etag && file.send_etag) {
      response.headers.push_back({"ETag", "\"" + GitBlobSha1(file.content) + "\""});
    }
    response.body = file.content;
    const int64_t start = RangeStart(request.Header("range"));
    const auto total = static_cast<int64_t>(file.content.size());
    if (start >= 0 && !ignore_range_) {
      if (start >= total) {
        return {.status = 416, .headers = {{"Content-Range", fmt::format("bytes */{}", total)}}};
      }
      response.status = 206;
      response.headers.push_back(
          {"Content-Range", fmt::format("bytes {}-{}/{}", start, total - 1, total)});
      response.body = file.content.substr(static_cast<size_t>(start));
      if (bad_range_ == BadRange::kFromZero) {
        response.headers.back().second = fmt::format("bytes 0-{}/{}", total - 1, total);
        response.body = file.content;
      } else if (bad_range_ == BadRange::kOtherTotal) {
        response.headers.back().second = fmt::format("bytes {}-{}/{}", start, total - 1, total + 7);
      }
      bad_range_ = BadRange::kNone;
    }
    if (request.method == "HEAD" && !file.advertise_size) response.content_length = -1;
    if (request.method == "GET" && cut_next_after_) {
      response.cut_after = cut_next_after_;
      cut_next_after_.reset();
    }
    return response;
  }

  mutable std::mutex mutex_;
  std::map<std::string, HubFile> files_;
  bool require_token_ = false;
  bool ignore_range_ = false;
  BadRange bad_range_ = BadRange::kNone;
  size_t listing_page_size_ = 1000;
  std::optional<size_t> cut_next_after_;
  TestHttpServer cdn_;
  TestHttpServer hub_;
};

class ResolveModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("HF_TOKEN");
    ::unsetenv("HF_HUB_OFFLINE");
    ::setenv("NO_PROXY", "*", 1);  // never send 127.0.0.1 through a proxy
    std::string pattern = (fs::temp_directory_path() / "arkv_hub_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    cache_dir_ = pattern;
    options_.endpoint = hub_.endpoint();
    options_.cache_dir = cache_dir_;
    options_.progress = false;
    options_.max_retries = 0;
    options_.retry_delay = std::chrono::milliseconds(1);
  }
  void TearDown() override { fs::remove_all(cache_dir_); }

  std::string CachedPath(const std::string& file) const {
    return (fs::path(cache_dir_) / "owner__model-GGUF" / file).string();
  }
  std::string ErrorOf(const std::string& spec) {
    try {
      ResolveModel(spec, options_);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  FakeHub hub_;
  std::string cache_dir_;
  DownloadOptions options_;
};

}  // namespace arkv::hub::testing
