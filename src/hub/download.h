// One verified, resumable file download into the local cache.
//
// The final file `dest` only ever appears complete and verified: bytes go to
// `dest.part` (resumed with an HTTP Range request after an interruption), are
// checked against the size and SHA-256 the server advertised, and only then
// renamed. `dest.arkv.json` records what was downloaded (ETag, SHA-256, size)
// so that a later call can reuse the file without downloading it again.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hub/http.h"

namespace arkv::hub {

// What the server says about a file before it is downloaded.
struct RemoteFileInfo {
  std::string etag;      // normalized: no quotes, no W/ prefix
  std::string sha256;    // lower-case hex when the server advertised it (LFS files)
  std::string git_sha1;  // git blob id of files stored in git rather than LFS
  int64_t size = -1;     // -1 when unknown
  std::string commit;    // X-Repo-Commit, when sent
};

// The metadata file kept next to a cached file.
struct CacheEntry {
  std::string url;
  std::string etag;
  std::string sha256;
  std::string commit;
  int64_t size = -1;
  bool complete = false;
  // Modification time (ns since the epoch) when the content was last verified;
  // -1 when unknown (then the content is verified again).
  int64_t mtime_ns = -1;
};

struct FileDownloadRequest {
  std::string url;        // e.g. {endpoint}/{repo}/resolve/{revision}/{file}
  std::string dest;       // final local path; its folder is created
  std::string label;      // what messages call the file, e.g. "owner/repo/file.gguf"
  std::string token;      // sent as "Authorization: Bearer" to the URL's host only
  bool progress = false;  // draw a progress bar on stderr
  int max_retries = 3;    // extra attempts after an interrupted transfer
  std::chrono::milliseconds retry_delay{1000};  // doubled after each retry
};

std::string CacheEntryPath(const std::string& dest);
std::string PartPath(const std::string& dest);
std::optional<CacheEntry> ReadCacheEntry(const std::string& dest);
void WriteCacheEntry(const std::string& dest, const CacheEntry& entry);

// True if `dest` exists, its metadata says complete and the sizes agree, and
// either its modification time is the one recorded when it was verified, or
// its SHA-256 still matches (then the new time is recorded). Size alone never
// proves the content.
bool IsCompleteInCache(const std::string& dest);

// Asks the server (HEAD, following redirects only until the Hub's X-Linked-*
// headers appear) for the file's size and checksum.
RemoteFileInfo FetchRemoteFileInfo(const std::string& url, const std::string& token,
                                   std::string_view label);

// Downloads `request.url` to `request.dest` unless a complete copy with the
// same ETag is cached there. When the server cannot be asked (network down,
// HTTP error) a complete cached copy is used with a warning. Throws arkv::Error
// on failure; a file that failed verification is deleted.
void DownloadFile(const FileDownloadRequest& request);

// Throws arkv::Error explaining a failed HTTP response: gated repos (401/403)
// ask for HF_TOKEN, 404 says what was not found, the Hub's X-Error-Message is quoted.
[[noreturn]] void FailHttpStatus(const HttpResponse& response, std::string_view what,
                                 bool has_token);

// Adds the "(offline? ...)" hint to an unreachable-host error.
[[noreturn]] void FailUnreachable(const TransferError& error, std::string_view what);

}  // namespace arkv::hub
