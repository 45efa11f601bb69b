// The edges of resuming and of trusting the cache: a remote file that changed
// under a part file, a server without any validator, a 206 answering another
// range than the one asked for, a part file longer than the remote file, and a
// cached file changed in place.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_hub.h"
#include "hub/download.h"
#include "hub/hub.h"

namespace arkv::hub::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(ResolveModelTest, APartFileOfAnOlderVersionIsNotResumed) {
  const std::string v1 = RandomBytes(60'000, 21), v2 = RandomBytes(60'000, 22);
  hub_.AddFile("m.gguf", {.content = v1});
  hub_.CutNextDownloadAfter(25'000);
  EXPECT_THAT(ErrorOf("owner/model-GGUF:m.gguf"), HasSubstr("interrupted"));
  hub_.AddFile("m.gguf", {.content = v2});  // same size, new ETag

  EXPECT_TRUE(ReadFile(ResolveModel("owner/model-GGUF:m.gguf", options_)) == v2) << "wrong content";
  EXPECT_EQ(hub_.cdn().requests().back().Header("range"), "");
}

// With no ETag and no checksum nothing proves that a part file belongs to the
// file the server has now, so it is never continued.
TEST_F(ResolveModelTest, WithoutAnEtagAPartFileIsNotResumed) {
  const std::string v1 = RandomBytes(60'000, 23), v2 = RandomBytes(60'000, 24);
  hub_.AddFile("m.gguf", {.content = v1, .lfs = false, .send_etag = false});
  hub_.CutNextDownloadAfter(25'000);
  EXPECT_THAT(ErrorOf("owner/model-GGUF:m.gguf"), HasSubstr("interrupted"));
  hub_.AddFile("m.gguf", {.content = v2, .lfs = false, .send_etag = false});

  EXPECT_TRUE(ReadFile(ResolveModel("owner/model-GGUF:m.gguf", options_)) == v2) << "wrong content";
  EXPECT_EQ(hub_.hub().requests().back().Header("range"), "");
}

// A 206 whose Content-Range does not start where the part file ends, or
// gives another total than the file's size, cannot continue the part file:
// it is discarded and the file downloaded from the start, never spliced.
TEST_F(ResolveModelTest, A206WithAnotherRangeRestartsFromZero) {
  for (BadRange bad : {BadRange::kFromZero, BadRange::kOtherTotal}) {
    const std::string name = bad == BadRange::kFromZero ? "a.gguf" : "b.gguf";
    const std::string content = RandomBytes(80'000, 25);
    hub_.AddFile(name, {.content = content});
    hub_.CutNextDownloadAfter(30'000);
    EXPECT_THAT(ErrorOf("owner/model-GGUF:" + name), HasSubstr("interrupted"));
    hub_.AnswerNextRangeWith(bad);

    EXPECT_TRUE(ReadFile(ResolveModel("owner/model-GGUF:" + name, options_)) == content)
        << name << ": wrong content";
    const std::vector<RecordedRequest> gets = hub_.cdn().requests();
    ASSERT_GE(gets.size(), 2u);
    EXPECT_EQ(gets[gets.size() - 2].Header("range"), "bytes=30000-") << name;
    EXPECT_EQ(gets.back().Header("range"), "") << name;
  }
}

// A part file longer than the advertised size is discarded before any Range
// request (which could only fail); with no advertised size, the server's 416
// says the same and the download restarts once.
TEST_F(ResolveModelTest, APartFileLongerThanTheRemoteIsDiscarded) {
  const std::string content = RandomBytes(40'000, 26);
  hub_.AddFile("m.gguf", {.content = content});
  hub_.CutNextDownloadAfter(10'000);
  EXPECT_THAT(ErrorOf("owner/model-GGUF:m.gguf"), HasSubstr("interrupted"));
  const std::string path = CachedPath("m.gguf");
  std::ofstream(PartPath(path), std::ios::binary | std::ios::app) << RandomBytes(45'000, 27);

  EXPECT_TRUE(ReadFile(ResolveModel("owner/model-GGUF:m.gguf", options_)) == content)
      << "wrong content";
  EXPECT_EQ(hub_.cdn().CountRequests("GET", "/lfs/m.gguf"), 2);
  EXPECT_EQ(hub_.cdn().requests().back().Header("range"), "");

  const std::string small = RandomBytes(20'000, 28);
  hub_.AddFile("s.gguf", {.content = small, .lfs = false, .advertise_size = false});
  hub_.CutNextDownloadAfter(5'000);
  EXPECT_THAT(ErrorOf("owner/model-GGUF:s.gguf"), HasSubstr("interrupted"));
  std::ofstream(PartPath(CachedPath("s.gguf")), std::ios::binary | std::ios::app)
      << RandomBytes(30'000, 29);
  EXPECT_TRUE(ReadFile(ResolveModel("owner/model-GGUF:s.gguf", options_)) == small)
      << "wrong content";
  EXPECT_EQ(hub_.hub().requests().back().Header("range"), "");
}

// A cached file rewritten in place with the same size is not trusted on its
// size: online it is downloaded again, offline it is not in the cache.
TEST_F(ResolveModelTest, ACachedFileChangedInPlaceIsNotTrusted) {
  const std::string content = RandomBytes(30'000, 30);
  hub_.AddFile("m.gguf", {.content = content});
  const std::string path = ResolveModel("owner/model-GGUF:m.gguf", options_);
  EXPECT_TRUE(IsCompleteInCache(path));
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << RandomBytes(30'000, 31);
  }
  EXPECT_FALSE(IsCompleteInCache(path));
  options_.offline = true;
  EXPECT_THAT(ErrorOf("owner/model-GGUF:m.gguf"), HasSubstr("is not in the cache"));
  options_.offline = false;
  EXPECT_TRUE(ReadFile(ResolveModel("owner/model-GGUF:m.gguf", options_)) == content)
      << "wrong content";
  EXPECT_EQ(hub_.CdnDownloads(), 2);

  // Touched but unchanged (a copy that did not keep the time): verified again
  // by its checksum and still used, without a download.
  const auto later = fs::last_write_time(path) + std::chrono::seconds(5);
  fs::last_write_time(path, later);
  EXPECT_TRUE(IsCompleteInCache(path));
  EXPECT_EQ(ResolveModel("owner/model-GGUF:m.gguf", options_), path);
  EXPECT_EQ(hub_.CdnDownloads(), 2);
}

}  // namespace
}  // namespace arkv::hub::testing
