#include "hub/download.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/strings.h"
#include "core/log.h"
#include "hub/checksum.h"
#include "hub/progress.h"

namespace arkv::hub {
namespace fs = std::filesystem;
namespace {

constexpr int kMaxHeadRedirects = 10;

bool IsHex(std::string_view text, size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string NormalizeEtag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

// Parses a non-negative decimal header value; -1 when absent or malformed.
int64_t ParseSize(std::string_view text) {
  if (text.empty() || text.size() > 18) return -1;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

// "Content-Range: bytes START-END/TOTAL" or "bytes */TOTAL"; -1 for parts absent.
struct ContentRange {
  int64_t start = -1;
  int64_t total = -1;
};

ContentRange ParseContentRange(std::string_view text) {
  ContentRange range;
  if (!text.starts_with("bytes ")) return range;
  text.remove_prefix(6);
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return range;
  range.total = ParseSize(text.substr(slash + 1));
  const std::string_view span = text.substr(0, slash);
  const size_t dash = span.find('-');
  if (dash != std::string_view::npos) range.start = ParseSize(span.substr(0, dash));
  return range;
}

std::vector<std::string> AuthHeaders(const std::string& token) {
  if (token.empty()) return {};
  return {"Authorization: Bearer " + token};
}

std::string Megabytes(int64_t bytes) { return fmt::format("{:.1f} MB", bytes / 1e6); }

int64_t FileSizeOrZero(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

void RemoveQuietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

// An exclusive advisory lock on `dest.lock`, so that two processes never write
// the same part file. The lock file itself stays (removing it would race).
class DownloadLock {
 public:
  explicit DownloadLock(const std::string& dest) {
    const std::string path = dest + ".lock";
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0) Fail("cannot create lock file {}: {}", path, std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      if (err == EWOULDBLOCK) {
        Fail("another process is already downloading {} (lock {} is held); wait for it to finish",
             dest, path);
      }
      Fail("cannot lock {}: {}", path, std::strerror(err));
    }
  }
  ~DownloadLock() { ::close(fd_); }  // closing releases the lock
  DownloadLock(const DownloadLock&) = delete;
  DownloadLock& operator=(const DownloadLock&) = delete;

 private:
  int fd_ = -1;
};

void CheckDiskSpace(const std::string& dir, int64_t needed) {
  struct statvfs stats {};
  if (needed <= 0 || ::statvfs(dir.c_str(), &stats) != 0) return;
  const int64_t available = static_cast<int64_t>(stats.f_bavail) * stats.f_frsize;
  if (available < needed) {
    Fail("not enough disk space in {}: the download needs {} more, {} is free", dir,
         Megabytes(needed), Megabytes(available));
  }
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

enum class AttemptResult { kTransferred, kAlreadyComplete, kRestartFromZero };

// Thrown from the response headers (aborting the transfer before any byte is
// written) when a 206 cannot continue the part file: it starts elsewhere than
// where the part file ends, or describes a file of another size.
struct UnusableRange {
  std::string content_range;
};

int64_t ModificationTimeNs(const std::string& path) {
  std::error_code ec;
  const fs::file_time_type time = fs::last_write_time(path, ec);
  if (ec) return -1;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

// One GET of the part file's missing bytes. Throws TransferError when the
// transfer breaks off; what arrived stays in the part file.
AttemptResult DownloadAttempt(const FileDownloadRequest& request, const RemoteFileInfo& info,
                              const std::string& part_path) {
  const int64_t offset = FileSizeOrZero(part_path);
  HttpRequest http{.url = request.url, .headers = AuthHeaders(request.token)};
  if (offset > 0) http.headers.push_back(fmt::format("Range: bytes={}-", offset));

  std::unique_ptr<std::FILE, FileCloser> part;
  int64_t start = offset;  // where this transfer's bytes go in the file
  std::unique_ptr<ProgressBar> progress;
  HttpStreamHandler handler;
  handler.on_headers = [&](const HttpResponse& response) {
    if (response.status == 206) {
      // "Content-Range: bytes START-END/TOTAL"; resume only where we stopped.
      const std::string range = response.Header("content-range");
      const ContentRange got = ParseContentRange(range);
      if (got.start != offset || (info.size >= 0 && got.total >= 0 && got.total != info.size)) {
        throw UnusableRange{range};
      }
      part.reset(std::fopen(part_path.c_str(), "ab"));
    } else if (response.status == 200) {
      if (offset > 0) {
        Log(LogLevel::kInfo, "{}: server ignored the Range request; downloading from the start",
            request.label);
      }
      start = 0;
      part.reset(std::fopen(part_path.c_str(), "wb"));
    } else {
      return false;
    }
    if (!part) Fail("cannot open {} for writing: {}", part_path, std::strerror(errno));
    progress = std::make_unique<ProgressBar>(fs::path(request.dest).filename().string(), start,
                                             info.size, request.progress);
    return true;
  };
  handler.on_data = [&](const char* data, size_t size) {
    if (std::fwrite(data, 1, size, part.get()) != size) {
      Fail("cannot write {}: {}", part_path, std::strerror(errno));
    }
  };
  handler.on_progress = [&](int64_t received, int64_t) {
    if (progress) progress->Update(received);
  };

  auto close_part = [&] {
    if (part && std::fclose(part.release()) != 0) {
      Fail("cannot write {}: {}", part_path, std::strerror(errno));
    }
  };
  HttpResponse response;
  try {
    response = HttpGetStream(http, handler);
  } catch (const UnusableRange& bad) {
    if (offset == 0) {
      Fail("cannot download {}: the server answered with Content-Range '{}' for the whole file",
           request.label, bad.content_range);
    }
    Log(LogLevel::kInfo,
        "{}: the server answered the resume from byte {} with Content-Range '{}'; downloading "
        "from the start",
        request.label, offset, bad.content_range);
    return AttemptResult::kRestartFromZero;
  } catch (const TransferError&) {
    close_part();  // keep what arrived for the next attempt
    if (progress) progress->Finish();
    throw;
  }
  close_part();
  if (progress) progress->Finish();

  if (response.status == 416) {
    // Range not satisfiable: "Content-Range: bytes */TOTAL". Either the part
    // file already holds everything, or it is longer than the remote file.
    const int64_t total = ParseContentRange(response.Header("content-range")).total;
    if (total >= 0 && total == offset && (info.size < 0 || info.size == total)) {
      return AttemptResult::kAlreadyComplete;
    }
    return AttemptResult::kRestartFromZero;
  }
  if (response.status != 200 && response.status != 206) {
    FailHttpStatus(response, fmt::format("cannot download {}", request.label),
                   !request.token.empty());
  }
  return AttemptResult::kTransferred;
}

// Checks the part file against the advertised size and checksum; on a
// mismatch deletes it (and the metadata) and throws. Returns the SHA-256.
std::string VerifyPart(const FileDownloadRequest& request, const RemoteFileInfo& info,
                       const std::string& part_path) {
  const int64_t actual_size = FileSizeOrZero(part_path);
  auto discard = [&] {
    RemoveQuietly(part_path);
    RemoveQuietly(CacheEntryPath(request.dest));
  };
  if (info.size >= 0 && actual_size != info.size) {
    discard();
    Fail("size mismatch for {}: expected {} bytes, received {}; the download was deleted",
         request.label, info.size, actual_size);
  }
  const std::string sha256 = Sha256File(part_path);
  if (!info.sha256.empty() && sha256 != info.sha256) {
    discard();
    Fail("checksum mismatch for {}: expected sha256 {}, got {}; the download was deleted",
         request.label, info.sha256, sha256);
  }
  if (info.sha256.empty() && !info.git_sha1.empty()) {
    const std::string git_sha1 = GitBlobSha1File(part_path);
    if (git_sha1 != info.git_sha1) {
      discard();
      Fail("checksum mismatch for {}: expected git blob id {}, got {}; the download was deleted",
           request.label, info.git_sha1, git_sha1);
    }
  }
  if (info.sha256.empty() && info.git_sha1.empty()) {
    Log(LogLevel::kWarn, "warning: the server sent no checksum for {}; only its size was checked",
        request.label);
  }
  return sha256;
}

}  // namespace

std::string CacheEntryPath(const std::string& dest) { return dest + ".arkv.json"; }
std::string PartPath(const std::string& dest) { return dest + ".part"; }

std::optional<CacheEntry> ReadCacheEntry(const std::string& dest) {
  std::ifstream in(CacheEntryPath(dest));
  if (!in) return std::nullopt;
  // A damaged metadata file only means the file is downloaded again.
  const nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  CacheEntry entry;
  entry.url = json.value("url", "");
  entry.etag = json.value("etag", "");
  entry.sha256 = json.value("sha256", "");
  entry.commit = json.value("commit", "");
  entry.size = json.value("size", int64_t{-1});
  entry.complete = json.value("complete", false);
  entry.mtime_ns = json.value("mtime_ns", int64_t{-1});
  return entry;
}

void WriteCacheEntry(const std::string& dest, const CacheEntry& entry) {
  const nlohmann::json json = {{"url", entry.url},          {"etag", entry.etag},
                               {"sha256", entry.sha256},    {"commit", entry.commit},
                               {"size", entry.size},        {"complete", entry.complete},
                               {"mtime_ns", entry.mtime_ns}};
  // Write-then-rename so that a crash never leaves half a metadata file.
  const std::string path = CacheEntryPath(dest);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json.dump(2) << '\n';
    if (!out.flush()) Fail("cannot write cache metadata {}", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) Fail("cannot write cache metadata {}: {}", path, ec.message());
}

bool IsCompleteInCache(const std::string& dest) {
  std::optional<CacheEntry> entry = ReadCacheEntry(dest);
  if (!entry || !entry->complete) return false;
  std::error_code ec;
  const auto size = fs::file_size(dest, ec);
  if (ec || static_cast<int64_t>(size) != entry->size) return false;
  const int64_t mtime = ModificationTimeNs(dest);
  if (mtime >= 0 && mtime == entry->mtime_ns) return true;
  // Written since it was verified (or copied without its time): check the
  // content once more.
  if (entry->sha256.empty() || Sha256File(dest) != entry->sha256) return false;
  entry->mtime_ns = mtime;
  try {
    WriteCacheEntry(dest, *entry);
  } catch (const Error&) {
    // A read-only cache: the file is still good, only verified again next time.
  }
  return true;
}

[[noreturn]] void FailUnreachable(const TransferError& error, std::string_view what) {
  Fail("{}: {} (offline? use -m with a local file)", what, error.what());
}

[[noreturn]] void FailHttpStatus(const HttpResponse& response, std::string_view what,
                                 bool has_token) {
  const std::string code = response.Header("x-error-code");
  std::string detail = response.Header("x-error-message");
  if (detail.empty() && response.Header("content-type").starts_with("application/json")) {
    const auto json = nlohmann::json::parse(response.body, nullptr, false);
    if (json.is_object() && json.contains("error") && json["error"].is_string()) {
      detail = json["error"].get<std::string>();
    }
  }
  const std::string status = fmt::format("HTTP {}{}{} from {}", response.status,
                                         code.empty() ? "" : " ", code, UrlHost(response.url));
  const std::string quoted = detail.empty() ? "" : fmt::format(": \"{}\"", detail);
  switch (response.status) {
    case 401:
    case 403:
      if (has_token) {
        Fail(
            "{}: access denied ({}){}; the token in HF_TOKEN was rejected or has no access to "
            "this repository (gated repos also need their terms accepted on the website)",
            what, status, quoted);
      }
      Fail(
          "{}: access denied ({}){}; the repository is gated, private or does not exist: "
          "accept its terms on the website and set HF_TOKEN to an access token",
          what, status, quoted);
    case 404:
      if (code == "RevisionNotFound") Fail("{}: revision not found ({}){}", what, status, quoted);
      if (code == "EntryNotFound")
        Fail("{}: file not found in the repository ({}){}", what, status, quoted);
      if (code == "RepoNotFound") Fail("{}: repository not found ({}){}", what, status, quoted);
      Fail("{}: repository or file not found ({}){}", what, status, quoted);
    case 429:
      Fail("{}: rate limited ({}){}; wait and try again, or set HF_TOKEN", what, status, quoted);
    default:
      Fail("{}: unexpected response ({}){}", what, status, quoted);
  }
}

RemoteFileInfo FetchRemoteFileInfo(const std::string& url, const std::string& token,
                                   std::string_view label) {
  const std::string what = fmt::format("cannot get {}", label);
  const std::string origin_host = UrlHost(url);
  std::string current = url;
  for (int hop = 0; hop <= kMaxHeadRedirects; ++hop) {
    // The token goes to the Hub only, never to a CDN it redirects to.
    HttpRequest request;
    request.url = current;
    request.follow_redirects = false;
    if (UrlHost(current) == origin_host) request.headers = AuthHeaders(token);
    HttpResponse response;
    try {
      response = HttpHead(request);
    } catch (const TransferError& e) {
      if (e.unreachable()) FailUnreachable(e, what);
      throw;
    }
    if (response.url.empty()) response.url = current;

    RemoteFileInfo info;
    info.commit = response.Header("x-repo-commit");
    const bool is_redirect = response.status >= 300 && response.status < 400;
    const bool linked =
        !response.Header("x-linked-etag").empty() || !response.Header("x-linked-size").empty();
    if ((is_redirect && linked) || (response.status >= 200 && response.status < 300)) {
      // On an LFS file the Hub answers 302 to its CDN with X-Linked-Size and
      // X-Linked-ETag (the SHA-256); other files answer 200 with the git blob id.
      info.etag =
          NormalizeEtag(linked ? response.Header("x-linked-etag") : response.Header("etag"));
      info.size =
          ParseSize(linked ? response.Header("x-linked-size") : response.Header("content-length"));
      const std::string lower = ToLower(info.etag);
      if (IsHex(lower, 64)) {
        info.sha256 = lower;
      } else if (IsHex(lower, 40) && hop == 0 && UrlHost(current) == origin_host) {
        info.git_sha1 = lower;
      }
      return info;
    }
    if (is_redirect && !response.redirect_url.empty()) {
      current = response.redirect_url;
      continue;
    }
    FailHttpStatus(response, what, !token.empty());
  }
  Fail("{}: more than {} redirects", what, kMaxHeadRedirects);
}

void DownloadFile(const FileDownloadRequest& request) {
  const std::string& dest = request.dest;
  RemoteFileInfo info;
  try {
    info = FetchRemoteFileInfo(request.url, request.token, request.label);
  } catch (const Error& e) {
    if (!IsCompleteInCache(dest)) throw;
    Log(LogLevel::kWarn, "warning: {}; using the cached copy {}", e.what(), dest);
    return;
  }

  const std::optional<CacheEntry> cached = ReadCacheEntry(dest);
  if (cached && cached->etag == info.etag && IsCompleteInCache(dest) &&
      (info.size < 0 || cached->size == info.size)) {
    Log(LogLevel::kDebug, "{}: up to date in the cache ({})", request.label, dest);
    return;
  }

  std::error_code ec;
  const fs::path dir = fs::path(dest).parent_path();
  fs::create_directories(dir, ec);
  if (ec) Fail("cannot create cache folder {}: {}", dir.string(), ec.message());
  const DownloadLock lock(dest);

  // A part file left by a download of another version of the file is useless.
  // Without an ETag nothing proves that a part file is of the current version.
  const std::string part_path = PartPath(dest);
  if (!cached || info.etag.empty() || cached->etag != info.etag || cached->complete) {
    RemoveQuietly(part_path);
  }
  WriteCacheEntry(dest, CacheEntry{.url = request.url,
                                   .etag = info.etag,
                                   .sha256 = info.sha256,
                                   .commit = info.commit,
                                   .size = info.size,
                                   .complete = false});

  if (!fs::exists(part_path)) {
    // An empty part file, so that a zero-byte remote file needs no special case.
    std::ofstream touch(part_path, std::ios::app);
    if (!touch) Fail("cannot create {}: {}", part_path, std::strerror(errno));
  }

  bool restarted = false;
  std::chrono::milliseconds delay = request.retry_delay;
  for (int attempt = 0;; ++attempt) {
    int64_t have = FileSizeOrZero(part_path);
    if (info.size >= 0 && have > info.size) {
      RemoveQuietly(part_path);
      have = 0;
    }
    if (info.size >= 0 && have == info.size) break;  // complete, only verification left
    CheckDiskSpace(dir.string(), info.size >= 0 ? info.size - have : 0);
    if (have > 0) {
      Log(LogLevel::kInfo, "{}: resuming at {} of {}", request.label, Megabytes(have),
          info.size >= 0 ? Megabytes(info.size) : "?");
    }
    try {
      const AttemptResult result = DownloadAttempt(request, info, part_path);
      if (result == AttemptResult::kRestartFromZero) {
        if (restarted) {
          Fail(
              "cannot download {}: the server could not continue the download twice (HTTP 416 "
              "or a wrong Content-Range)",
              request.label);
        }
        restarted = true;
        RemoveQuietly(part_path);
        continue;
      }
      break;
    } catch (const TransferError& e) {
      const int64_t now_have = FileSizeOrZero(part_path);
      if (attempt < request.max_retries) {
        Log(LogLevel::kWarn, "warning: {}: {}; retrying in {} ms", request.label, e.what(),
            delay.count());
        std::this_thread::sleep_for(delay);
        delay *= 2;
        continue;
      }
      if (e.unreachable()) FailUnreachable(e, fmt::format("cannot download {}", request.label));
      Fail("download of {} interrupted after {} of {}: {}; run the same command again to resume",
           request.label, Megabytes(now_have), info.size >= 0 ? Megabytes(info.size) : "?",
           e.what());
    }
  }

  const std::string sha256 = VerifyPart(request, info, part_path);
  fs::rename(part_path, dest, ec);
  if (ec) Fail("cannot move {} to {}: {}", part_path, dest, ec.message());
  WriteCacheEntry(dest, CacheEntry{.url = request.url,
                                   .etag = info.etag,
                                   .sha256 = sha256,
                                   .commit = info.commit,
                                   .size = FileSizeOrZero(dest),
                                   .complete = true,
                                   .mtime_ns = ModificationTimeNs(dest)});
}

}  // namespace arkv::hub
