// ResolveModel against the fake Hub of fake_hub.h: downloads, resumes,
// checksums, tokens, listings, the cache and offline use.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "fake_hub.h"
#include "hub/download.h"
#include "hub/hub.h"

namespace arkv::hub::testing {
namespace {

using ::testing::HasSubstr;

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
  const UnusedPort closed;
  options_.endpoint = fmt::format("http://127.0.0.1:{}", closed.port());
  EXPECT_EQ(ResolveModel("owner/model-GGUF:model-Q4_K_M.gguf", options_), path);
  EXPECT_EQ(ResolveModel("owner/model-GGUF", options_), path);  // chosen among cached files
  EXPECT_EQ(hub_.AllRequests().size(), requests_online);
}

TEST_F(ResolveModelTest, UnreachableHostSaysSoAndSuggestsALocalFile) {
  const UnusedPort closed;
  options_.endpoint = fmt::format("http://127.0.0.1:{}", closed.port());
  const std::string error = ErrorOf("owner/model-GGUF:m.gguf");
  EXPECT_THAT(error, HasSubstr("cannot reach 127.0.0.1:"));
  EXPECT_THAT(error, HasSubstr("(offline? use -m with a local file)"));
  EXPECT_THAT(ErrorOf("owner/model-GGUF"), HasSubstr("(offline? use -m with a local file)"));
}

TEST_F(ResolveModelTest, UnreachableHostFallsBackToACompleteCachedFile) {
  hub_.AddFile("m.gguf", {.content = "cached"});
  const std::string path = ResolveModel("owner/model-GGUF:m.gguf", options_);
  const UnusedPort closed;
  options_.endpoint = fmt::format("http://127.0.0.1:{}", closed.port());
  EXPECT_EQ(ResolveModel("owner/model-GGUF:m.gguf", options_), path);
  EXPECT_EQ(ResolveModel("owner/model-GGUF", options_), path);
}

TEST_F(ResolveModelTest, MalformedSpecFailsBeforeAnyRequest) {
  EXPECT_THAT(ErrorOf("owner"), HasSubstr("malformed model spec 'owner'"));
  EXPECT_THAT(ErrorOf("owner/repo:../x.gguf"), HasSubstr("malformed model spec"));
  EXPECT_TRUE(hub_.AllRequests().empty());
}

}  // namespace
}  // namespace arkv::hub::testing
