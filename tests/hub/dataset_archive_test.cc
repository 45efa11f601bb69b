// Dataset files from a fake Hugging Face Hub on 127.0.0.1 and the unpacking of
// archives: LongBench's data.zip downloaded once into the cache, unpacked,
// and read; archives with entries that would escape their folder refused.
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/longbench_data.h"
#include "hub/archive.h"
#include "hub/hub.h"
#include "test_http_server.h"

namespace arkv::hub {
namespace {

namespace fs = std::filesystem;
using ::arkv::hub::testing::RecordedRequest;
using ::arkv::hub::testing::ServerResponse;
using ::arkv::hub::testing::TestHttpServer;
using ::testing::HasSubstr;

struct Entry {
  std::string path;
  std::string content;
  bool symlink = false;
};

// A zip archive of `entries`, written with libarchive.
std::string MakeZip(const std::vector<Entry>& entries) {
  std::string bytes(1 << 20, '\0');
  size_t used = 0;
  archive* w = archive_write_new();
  archive_write_set_format_zip(w);
  archive_write_open_memory(w, bytes.data(), bytes.size(), &used);
  for (const Entry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    if (e.symlink) {
      archive_entry_set_filetype(entry, AE_IFLNK);
      archive_entry_set_symlink(entry, e.content.c_str());
      archive_entry_set_size(entry, 0);
    } else {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
    }
    archive_entry_set_perm(entry, 0644);
    archive_write_header(w, entry);
    if (!e.symlink) archive_write_data(w, e.content.data(), e.content.size());
    archive_entry_free(entry);
  }
  archive_write_close(w);
  archive_write_free(w);
  bytes.resize(used);
  return bytes;
}

std::string Sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "arkv_archive_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(ArchiveTest, ExtractsFilesAndFolders) {
  const fs::path zip = Write("a.zip", MakeZip({{"data/", ""},
                                               {"data/one.jsonl", "{\"x\": 1}\n"},
                                               {"data/sub/two.txt", std::string(100000, 'z')}}));
  EXPECT_EQ(ExtractArchive(zip.string(), (dir_ / "out").string()), 2);
  EXPECT_EQ(ReadFile(dir_ / "out/data/one.jsonl"), "{\"x\": 1}\n");
  EXPECT_EQ(ReadFile(dir_ / "out/data/sub/two.txt"), std::string(100000, 'z'));
}

TEST_F(ArchiveTest, RefusesEntriesOutsideTheFolderLinksAndDamage) {
  for (const auto& [name, entries] : std::vector<std::pair<std::string, std::vector<Entry>>>{
           {"dotdot", {{"../evil.txt", "x"}}},
           {"absolute", {{"/tmp/evil.txt", "x"}}},
           {"link", {{"data/link", "/etc/passwd", true}}}}) {
    SCOPED_TRACE(name);
    const fs::path zip = Write(name + ".zip", MakeZip(entries));
    try {
      ExtractArchive(zip.string(), (dir_ / name).string());
      FAIL() << "extracted a hostile archive";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(zip.string()));
    }
  }
  EXPECT_FALSE(fs::exists(dir_ / "evil.txt"));
  const fs::path junk = Write("junk.zip", "PK\x03\x04 this is not really a zip file at all");
  EXPECT_THROW(ExtractArchive(junk.string(), (dir_ / "junk").string()), Error);
  EXPECT_THROW(ExtractArchive((dir_ / "missing.zip").string(), (dir_ / "m").string()), Error);
}

// The Hub's answers for an LFS file of a dataset repo: a 302 to the CDN with
// its size and SHA-256, then the bytes.
class FakeDatasetHub {
 public:
  explicit FakeDatasetHub(std::string archive)
      : archive_(std::move(archive)),
        server_([this](const RecordedRequest& r) { return Serve(r); }) {}
  std::string url() const { return server_.url(); }
  int Downloads() const { return server_.CountRequests("GET", "/lfs/"); }

 private:
  ServerResponse Serve(const RecordedRequest& r) {
    if (r.Path() == "/datasets/THUDM/LongBench/resolve/main/data.zip") {
      const std::string sha = Sha256(archive_);
      return {.status = 302,
              .headers = {{"Location", "/lfs/data.zip"},
                          {"X-Linked-Size", std::to_string(archive_.size())},
                          {"X-Linked-ETag", "\"" + sha + "\""},
                          {"ETag", "\"" + sha + "\""}},
              .body = "Found"};
    }
    if (r.Path() == "/lfs/data.zip") return {.body = archive_};
    return {.status = 404, .headers = {{"X-Error-Code", "EntryNotFound"}}, .body = "not found"};
  }
  std::string archive_;
  TestHttpServer server_;
};

TEST_F(ArchiveTest, LongBenchDataIsDownloadedOnceUnpackedAndRead) {
  ::unsetenv("HF_HUB_OFFLINE");
  ::setenv("NO_PROXY", "*", 1);
  const std::string line =
      R"({"input": "Q?", "context": "C.", "answers": ["A"], "length": 2, "all_classes": null, "_id": "id0"})";
  FakeDatasetHub hub(MakeZip({{"data/narrativeqa.jsonl", line + "\n"}}));
  DownloadOptions options;
  options.endpoint = hub.url();
  options.cache_dir = (dir_ / "cache").string();
  options.progress = false;
  options.max_retries = 0;

  const std::string folder = eval::EnsureLongBenchData("THUDM/LongBench", options);
  EXPECT_TRUE(fs::exists(dir_ / "cache/datasets/THUDM__LongBench/data.zip"));
  const std::vector<eval::LongBenchSample> samples =
      eval::ReadLongBenchJsonl(eval::LongBenchFilePath(folder, "narrativeqa"), 0);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].id, "id0");
  EXPECT_EQ(samples[0].answers, std::vector<std::string>{"A"});
  EXPECT_EQ(hub.Downloads(), 1);

  // Cached: asked about, not downloaded again; offline: the cache alone.
  EXPECT_EQ(eval::EnsureLongBenchData("THUDM/LongBench", options), folder);
  EXPECT_EQ(hub.Downloads(), 1);
  options.offline = true;
  EXPECT_EQ(eval::EnsureLongBenchData("THUDM/LongBench", options), folder);
  options.cache_dir = (dir_ / "empty-cache").string();
  try {
    eval::EnsureLongBenchData("THUDM/LongBench", options);
    FAIL() << "offline without a cached copy succeeded";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("offline"));
  }
}

}  // namespace
}  // namespace arkv::hub
