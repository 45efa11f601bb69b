// ResolveModel against a fake Hub on 127.0.0.1: the Hub answers resolve
// requests like huggingface.co does (302 to a CDN with X-Linked-Size and
// X-Linked-ETag for LFS files, 200 with a git blob ETag for other files), and
// a second server plays the CDN that serves the bytes, honouring Range.
#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
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

namespace arkv::hub {
namespace {

namespace fs = std::filesystem;
using ::arkv::hub::testing::RecordedRequest;
using ::arkv::hub::testing::ServerResponse;
using ::arkv::hub::testing::TestHttpServer;
using ::testing::HasSubstr;

constexpr char kRepo[] = "owner/model-GGUF";
constexpr char kToken[] = "hf_secret";

std::string Hex(const unsigned char* digest, unsigned int size) {
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string Sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return Hex(digest, size);
}

std::string GitBlobSha1(std::string_view data) {
  const std::string object = fmt::format("blob {}", data.size()) + '\0' + std::string(data);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(object.data(), object.size(), digest, &size, EVP_sha1(), nullptr);
  return Hex(digest, size);
}

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  return data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// "bytes=START-" -> START, or -1.
int64_t RangeStart(const std::string& header) {
  if (!header.starts_with("bytes=") || !header.ends_with("-")) return -1;
  return std::stoll(header.substr(6, header.size() - 7));
}

struct HubFile {
  std::string content;
  bool lfs = true;
  std::string advertised_sha256;  // default: the content's
  int64_t advertised_size = -1;   // default: the content's
  bool advertise_size = true;     // false: no size on HEAD (non-LFS only)
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
    if (git_etag) response.headers.push_back({"ETag", "\"" + GitBlobSha1(file.content) + "\""});
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

TEST_F(ResolveModelTest, DownloadsAndVerifiesAnLfsFile) {
  const std::string content = RandomBytes(300'000, 1);
  hub_.AddFile("model-Q8_0.gguf", {.content = content});

  const std::string path = ResolveModel("owner/model-GGUF:model-Q8_0.gguf", options_);

  EXPECT_EQ(path, CachedPath("model-Q8_0.gguf"));
  EXPECT_EQ(ReadFile(path), content);
  EXPECT_FALSE(fs::exists(PartPath(path)));
  const std::optional<CacheEntry> entry = ReadCacheEntry(path);
  ASSERT_TRUE(entry.has_value());
  EXPECT_TRUE(entry->complete);
  EXPECT_EQ(entry->sha256, Sha256(content));
  EXPECT_EQ(entry->etag, Sha256(content));
  EXPECT_EQ(entry->size, 300'000);
  EXPECT_EQ(entry->commit, "0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(hub_.hub().CountRequests("HEAD", "/owner/model-GGUF/resolve/main/model-Q8_0.gguf"), 1);
  EXPECT_EQ(hub_.cdn().CountRequests("GET", "/lfs/model-Q8_0.gguf"), 1);
}

TEST_F(ResolveModelTest, DownloadsAFileStoredInGitVerifyingItsBlobId) {
  const std::string content = "small non-LFS gguf";
  hub_.AddFile("tiny.gguf", {.content = content, .lfs = false});
  const std::string path = ResolveModel("owner/model-GGUF:tiny.gguf", options_);
  EXPECT_EQ(ReadFile(path), content);
  EXPECT_EQ(ReadCacheEntry(path)->etag, GitBlobSha1(content));
}

TEST_F(ResolveModelTest, ResumesAnInterruptedDownloadWithARangeRequest) {
  const std::string content = RandomBytes(200'000, 2);
  hub_.AddFile("m.gguf", {.content = content});
  hub_.CutNextDownloadAfter(70'000);

  const std::string error = ErrorOf("owner/model-GGUF:m.gguf");
  EXPECT_THAT(error, HasSubstr("interrupted"));
  EXPECT_THAT(error, HasSubstr("run the same command again to resume"));
  const std::string path = CachedPath("m.gguf");
  EXPECT_FALSE(fs::exists(path));
  ASSERT_TRUE(fs::exists(PartPath(path)));
  EXPECT_EQ(fs::file_size(PartPath(path)), 70'000u);
  EXPECT_FALSE(IsCompleteInCache(path));

  EXPECT_EQ(ResolveModel("owner/model-GGUF:m.gguf", options_), path);
  EXPECT_EQ(ReadFile(path), content);
  const std::vector<RecordedRequest> gets = hub_.cdn().requests();
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0].Header("range"), "");
  EXPECT_EQ(gets[1].Header("range"), "bytes=70000-");
}

TEST_F(ResolveModelTest, RetriesAnInterruptedTransferWithinOneCall) {
  const std::string content = RandomBytes(100'000, 3);
  hub_.AddFile("m.gguf", {.content = content});
  hub_.CutNextDownloadAfter(10'000);
  options_.max_retries = 1;
  EXPECT_EQ(ReadFile(ResolveModel("owner/model-GGUF:m.gguf", options_)), content);
  EXPECT_EQ(hub_.cdn().CountRequests("GET", "/lfs/m.gguf"), 2);
}

TEST_F(ResolveModelTest, RestartsFromZeroWhenTheServerIgnoresRange) {
  const std::string content = RandomBytes(100'000, 4);
  hub_.AddFile("m.gguf", {.content = content});
  hub_.CutNextDownloadAfter(30'000);
  EXPECT_THAT(ErrorOf("owner/model-GGUF:m.gguf"), HasSubstr("interrupted"));

  hub_.IgnoreRange();
  const std::string path = ResolveModel("owner/model-GGUF:m.gguf", options_);
  EXPECT_EQ(ReadFile(path), content);  // not the first 30,000 bytes twice
  EXPECT_EQ(hub_.cdn().requests().back().Header("range"), "bytes=30000-");
}

TEST_F(ResolveModelTest, FinishesAPartFileThatIsAlreadyCompleteAfterHttp416) {
  // A file in git whose HEAD gives no size: the client cannot know the part
  // file is complete until the server answers 416 to the Range request.
  const std::string content = RandomBytes(50'000, 5);
  hub_.AddFile("m.gguf", {.content = content, .lfs = false, .advertise_size = false});
  hub_.CutNextDownloadAfter(20'000);
  EXPECT_THAT(ErrorOf("owner/model-GGUF:m.gguf"), HasSubstr("interrupted"));
  const std::string path = CachedPath("m.gguf");
  {
    // As if the process died between writing the last byte and renaming.
    std::ofstream part(PartPath(path), std::ios::binary | std::ios::app);
    part << content.substr(20'000);
  }
  EXPECT_EQ(ReadFile(ResolveModel("owner/model-GGUF:m.gguf", options_)), content);
  EXPECT_EQ(hub_.hub().requests().back().Header("range"), "bytes=50000-");
  EXPECT_TRUE(IsCompleteInCache(path));
}

TEST_F(ResolveModelTest, ChecksumMismatchDeletesTheDownload) {
  hub_.AddFile("m.gguf",
               {.content = RandomBytes(10'000, 6), .advertised_sha256 = Sha256("something else")});
  const std::string error = ErrorOf("owner/model-GGUF:m.gguf");
  EXPECT_THAT(error, HasSubstr("checksum mismatch for owner/model-GGUF/m.gguf"));
  EXPECT_THAT(error, HasSubstr(Sha256("something else")));
  const std::string path = CachedPath("m.gguf");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(PartPath(path)));
  EXPECT_FALSE(fs::exists(CacheEntryPath(path)));
  EXPECT_FALSE(IsCompleteInCache(path));
}

TEST_F(ResolveModelTest, SizeMismatchDeletesTheDownload) {
  hub_.AddFile("m.gguf", {.content = RandomBytes(10'000, 7), .advertised_size = 10'001});
  EXPECT_THAT(ErrorOf("owner/model-GGUF:m.gguf"),
              HasSubstr("size mismatch for owner/model-GGUF/m.gguf: expected 10001 bytes, "
                        "received 10000"));
  EXPECT_FALSE(fs::exists(CachedPath("m.gguf")));
  EXPECT_FALSE(fs::exists(PartPath(CachedPath("m.gguf"))));
}

TEST_F(ResolveModelTest, FollowsTheHubsRedirectOfARenamedRepo) {
  const std::string content = RandomBytes(3'000, 12);
  hub_.AddFile("m.gguf", {.content = content});
  const std::string path = ResolveModel("old-owner/old-name:m.gguf", options_);
  EXPECT_EQ(path, (fs::path(cache_dir_) / "old-owner__old-name" / "m.gguf").string());
  EXPECT_EQ(ReadFile(path), content);
  EXPECT_EQ(ReadCacheEntry(path)->sha256, Sha256(content));
  EXPECT_EQ(hub_.hub().CountRequests("HEAD", "/owner/model-GGUF/resolve/main/m.gguf"), 1);
}

TEST_F(ResolveModelTest, MissingFileIs404) {
  hub_.AddFile("m.gguf", {.content = "x"});
  const std::string error = ErrorOf("owner/model-GGUF:other.gguf");
  EXPECT_THAT(error, HasSubstr("file not found in the repository"));
  EXPECT_THAT(error, HasSubstr("HTTP 404 EntryNotFound"));
  EXPECT_THAT(error, HasSubstr("owner/model-GGUF/other.gguf"));
  EXPECT_FALSE(fs::exists(CachedPath("other.gguf")));
}

TEST_F(ResolveModelTest, MissingRepoIs404) {
  const std::string error = ErrorOf("owner/missing:m.gguf");
  EXPECT_THAT(error, HasSubstr("repository not found"));
  EXPECT_THAT(error, HasSubstr("HTTP 404"));
}

TEST_F(ResolveModelTest, GatedRepoAsksForHfToken) {
  const std::string content = RandomBytes(5'000, 8);
  hub_.AddFile("m.gguf", {.content = content});
  hub_.RequireToken();
  const std::string error = ErrorOf("owner/model-GGUF:m.gguf");
  EXPECT_THAT(error, HasSubstr("access denied (HTTP 401 GatedRepo"));
  EXPECT_THAT(error, HasSubstr("set HF_TOKEN"));
  EXPECT_THAT(error, HasSubstr("Access to model owner/model-GGUF is restricted."));

  options_.token = "wrong";
  EXPECT_THAT(ErrorOf("owner/model-GGUF:m.gguf"), HasSubstr("token in HF_TOKEN was rejected"));

  options_.token = kToken;
  EXPECT_EQ(ReadFile(ResolveModel("owner/model-GGUF:m.gguf", options_)), content);
  EXPECT_EQ(hub_.hub().requests().back().Header("authorization"), std::string("Bearer ") + kToken);
  // The token is for the Hub only; the CDN on another port never sees it.
  for (const RecordedRequest& request : hub_.cdn().requests()) {
    EXPECT_EQ(request.Header("authorization"), "");
  }
}

TEST_F(ResolveModelTest, TokenComesFromHfTokenByDefault) {
  hub_.AddFile("m.gguf", {.content = "abc"});
  hub_.RequireToken();
  ::setenv("HF_TOKEN", kToken, 1);
  EXPECT_EQ(ReadFile(ResolveModel("owner/model-GGUF:m.gguf", options_)), "abc");
  ::unsetenv("HF_TOKEN");
}

TEST_F(ResolveModelTest, ChoosesAFileFromTheRepoListing) {
  const std::string content = RandomBytes(1'000, 9);
  hub_.AddFile("README.md", {.content = "# model", .lfs = false});
  hub_.AddFile("model-Q8_0.gguf", {.content = "q8"});
  hub_.AddFile("model-Q4_K_M.gguf", {.content = content});
  hub_.AddFile("mmproj-model-Q4_K_M.gguf", {.content = "projector"});

  const std::string path = ResolveModel("owner/model-GGUF", options_);
  EXPECT_EQ(path, CachedPath("model-Q4_K_M.gguf"));
  EXPECT_EQ(ReadFile(path), content);
  EXPECT_EQ(hub_.hub().CountRequests("GET", "/api/models/owner/model-GGUF/tree/main"), 1);

  EXPECT_EQ(ResolveModel("owner/model-GGUF:Q8_0", options_), CachedPath("model-Q8_0.gguf"));
}

TEST_F(ResolveModelTest, FollowsListingPagesWithTheToken) {
  hub_.RequireToken();
  hub_.SetListingPageSize(2);
  hub_.AddFile("a.md", {.content = "a", .lfs = false});
  hub_.AddFile("b.md", {.content = "b", .lfs = false});
  hub_.AddFile("c-F16.gguf", {.content = "f16"});
  hub_.AddFile("d-Q4_K_M.gguf", {.content = "q4"});
  hub_.AddFile("e.md", {.content = "e", .lfs = false});
  EXPECT_THAT(ErrorOf(kRepo),
              HasSubstr("cannot list the files of owner/model-GGUF: access denied"));

  options_.token = kToken;
  EXPECT_EQ(ListRepoFiles(ParseHfSpec(kRepo), options_),
            (std::vector<std::string>{"a.md", "b.md", "c-F16.gguf", "d-Q4_K_M.gguf", "e.md"}));
  EXPECT_EQ(hub_.hub().CountRequests("GET", "/api/models/owner/model-GGUF/tree/main"), 4);
  const std::string path = ResolveModel(kRepo, options_);
  EXPECT_EQ(ReadFile(path), "q4");

  // Once downloaded, the model is used even when the listing fails.
  options_.token.clear();
  EXPECT_EQ(ResolveModel(kRepo, options_), path);
}

TEST_F(ResolveModelTest, RepoWithoutGgufListsItsFiles) {
  hub_.AddFile("README.md", {.content = "# model", .lfs = false});
  hub_.AddFile("model.safetensors", {.content = "weights"});
  EXPECT_THAT(ErrorOf("owner/model-GGUF"),
              HasSubstr("owner/model-GGUF has no .gguf model file; its files: README.md, "
                        "model.safetensors"));
}

TEST_F(ResolveModelTest, ReusesACompleteCachedFileWithoutASecondGet) {
  const std::string content = RandomBytes(20'000, 10);
  hub_.AddFile("m.gguf", {.content = content});
  const std::string first = ResolveModel("owner/model-GGUF:m.gguf", options_);
  const std::string second = ResolveModel("owner/model-GGUF:m.gguf", options_);
  EXPECT_EQ(first, second);
  EXPECT_EQ(ReadFile(second), content);
  EXPECT_EQ(hub_.CdnDownloads(), 1);
  EXPECT_EQ(hub_.hub().CountRequests("GET", "/owner/model-GGUF/resolve/"), 1);
  EXPECT_EQ(hub_.hub().CountRequests("HEAD", "/owner/model-GGUF/resolve/"), 2);
}

TEST_F(ResolveModelTest, DownloadsAgainWhenTheRemoteFileChanged) {
  hub_.AddFile("m.gguf", {.content = "version one"});
  const std::string path = ResolveModel("owner/model-GGUF:m.gguf", options_);
  hub_.AddFile("m.gguf", {.content = "version two!"});
  EXPECT_EQ(ReadFile(ResolveModel("owner/model-GGUF:m.gguf", options_)), "version two!");
  EXPECT_EQ(ReadCacheEntry(path)->sha256, Sha256("version two!"));
  EXPECT_EQ(hub_.CdnDownloads(), 2);
}

TEST_F(ResolveModelTest, OfflineModeUsesTheCacheOnly) {
  const std::string content = RandomBytes(4'000, 11);
  hub_.AddFile("model-Q4_K_M.gguf", {.content = content});

  options_.offline = true;
  EXPECT_THAT(ErrorOf("owner/model-GGUF:model-Q4_K_M.gguf"),
              HasSubstr("offline mode: owner/model-GGUF/model-Q4_K_M.gguf is not in the cache"));
  EXPECT_THAT(ErrorOf("owner/model-GGUF"), HasSubstr("owner/model-GGUF is not in the cache"));
  EXPECT_TRUE(hub_.AllRequests().empty());

  options_.offline = false;
  const std::string path = ResolveModel("owner/model-GGUF:model-Q4_K_M.gguf", options_);
  const size_t requests_online = hub_.AllRequests().size();

  options_.offline = true;
  options_.endpoint = fmt::format("http://127.0.0.1:{}", testing::UnusedPort());
  EXPECT_EQ(ResolveModel("owner/model-GGUF:model-Q4_K_M.gguf", options_), path);
  EXPECT_EQ(ResolveModel("owner/model-GGUF", options_), path);  // chosen among cached files
  EXPECT_EQ(hub_.AllRequests().size(), requests_online);
}

TEST_F(ResolveModelTest, UnreachableHostSaysSoAndSuggestsALocalFile) {
  options_.endpoint = fmt::format("http://127.0.0.1:{}", testing::UnusedPort());
  const std::string error = ErrorOf("owner/model-GGUF:m.gguf");
  EXPECT_THAT(error, HasSubstr("cannot reach 127.0.0.1:"));
  EXPECT_THAT(error, HasSubstr("(offline? use -m with a local file)"));
  EXPECT_THAT(ErrorOf("owner/model-GGUF"), HasSubstr("(offline? use -m with a local file)"));
}

TEST_F(ResolveModelTest, UnreachableHostFallsBackToACompleteCachedFile) {
  hub_.AddFile("m.gguf", {.content = "cached"});
  const std::string path = ResolveModel("owner/model-GGUF:m.gguf", options_);
  options_.endpoint = fmt::format("http://127.0.0.1:{}", testing::UnusedPort());
  EXPECT_EQ(ResolveModel("owner/model-GGUF:m.gguf", options_), path);
  EXPECT_EQ(ResolveModel("owner/model-GGUF", options_), path);
}

TEST_F(ResolveModelTest, MalformedSpecFailsBeforeAnyRequest) {
  EXPECT_THAT(ErrorOf("owner"), HasSubstr("malformed model spec 'owner'"));
  EXPECT_THAT(ErrorOf("owner/repo:../x.gguf"), HasSubstr("malformed model spec"));
  EXPECT_TRUE(hub_.AllRequests().empty());
}

}  // namespace
}  // namespace arkv::hub
