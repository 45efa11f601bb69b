// Spec parsing, file choice, default options and the progress bar's text:
// everything of the hub that needs no server.
#include <cstdlib>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "hub/hf_spec.h"
#include "hub/hub.h"
#include "hub/progress.h"

namespace arkv::hub {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ParseHfSpecTest, RepoOnly) {
  const HfSpec spec = ParseHfSpec("bartowski/Llama-3.2-1B-Instruct-GGUF");
  EXPECT_EQ(spec.repo, "bartowski/Llama-3.2-1B-Instruct-GGUF");
  EXPECT_EQ(spec.file, "");
  EXPECT_EQ(spec.quant, "");
  EXPECT_EQ(spec.revision, "main");
}

TEST(ParseHfSpecTest, RepoAndFile) {
  const HfSpec spec = ParseHfSpec("Qwen/Qwen3-0.6B-GGUF:Qwen3-0.6B-Q8_0.gguf");
  EXPECT_EQ(spec.repo, "Qwen/Qwen3-0.6B-GGUF");
  EXPECT_EQ(spec.file, "Qwen3-0.6B-Q8_0.gguf");
  EXPECT_EQ(spec.quant, "");
}

TEST(ParseHfSpecTest, FileInSubfolderAndUpperCaseExtension) {
  const HfSpec spec = ParseHfSpec("unsloth/model_x:Q4_K_M/model.GGUF");
  EXPECT_EQ(spec.repo, "unsloth/model_x");
  EXPECT_EQ(spec.file, "Q4_K_M/model.GGUF");
}

TEST(ParseHfSpecTest, QuantTag) {
  const HfSpec spec = ParseHfSpec("bartowski/Llama-3.2-1B-Instruct-GGUF:q4_k_m");
  EXPECT_EQ(spec.file, "");
  EXPECT_EQ(spec.quant, "q4_k_m");
}

struct MalformedSpec {
  const char* spec;
  const char* message_part;
};

class MalformedSpecTest : public ::testing::TestWithParam<MalformedSpec> {};

TEST_P(MalformedSpecTest, FailsNamingTheProblem) {
  const MalformedSpec& param = GetParam();
  const std::string error = ErrorOf([&] { ParseHfSpec(param.spec); });
  EXPECT_THAT(error, HasSubstr("malformed model spec")) << param.spec;
  EXPECT_THAT(error, HasSubstr(param.message_part)) << param.spec;
}

INSTANTIATE_TEST_SUITE_P(
    Specs, MalformedSpecTest,
    ::testing::Values(
        MalformedSpec{"", "empty"}, MalformedSpec{"justaname", "has no owner"},
        MalformedSpec{"owner/", "repo name is empty"}, MalformedSpec{"/repo", "owner is empty"},
        MalformedSpec{"a/b/c.gguf", "more than one '/'"},
        MalformedSpec{"owner/repo:", "nothing after ':'"},
        MalformedSpec{"owner/repo:../../etc/x.gguf", "relative path"},
        MalformedSpec{"owner/repo:/abs/x.gguf", "relative path"},
        MalformedSpec{"owner/repo:dir//x.gguf", "relative path"},
        MalformedSpec{"owner/repo:weights.bin/x", "neither a .gguf file"},
        MalformedSpec{"https://huggingface.co/owner/repo", "not a URL"},
        MalformedSpec{"own er/repo", "whitespace"}, MalformedSpec{"owner/re$po", "contains '$'"},
        MalformedSpec{"owner/-repo", "may not start or end"}, MalformedSpec{"owner/re..po", "'..'"},
        MalformedSpec{"owner/repo:Q4_K_M:x.gguf", "more than one ':'"}));

TEST(IsSafeRelativePathTest, RejectsEscapes) {
  EXPECT_TRUE(IsSafeRelativePath("a.gguf"));
  EXPECT_TRUE(IsSafeRelativePath("dir/a.gguf"));
  EXPECT_FALSE(IsSafeRelativePath(""));
  EXPECT_FALSE(IsSafeRelativePath("/a.gguf"));
  EXPECT_FALSE(IsSafeRelativePath("../a.gguf"));
  EXPECT_FALSE(IsSafeRelativePath("dir/./a.gguf"));
  EXPECT_FALSE(IsSafeRelativePath("dir/"));
  EXPECT_FALSE(IsSafeRelativePath("dir\\a.gguf"));
}

TEST(ChooseGgufFileTest, PrefersQ4KMThenQ8ThenFirst) {
  EXPECT_EQ(ChooseGgufFile({"README.md", "m-Q8_0.gguf", "m-Q4_K_M.gguf", "m-F16.gguf"}, "", "o/r"),
            "m-Q4_K_M.gguf");
  EXPECT_EQ(ChooseGgufFile({"m-F16.gguf", "m-Q8_0.gguf", "m-Q4_0.gguf"}, "", "o/r"), "m-Q8_0.gguf");
  EXPECT_EQ(ChooseGgufFile({"m-F16.gguf", "config.json", "m-BF16.gguf"}, "", "o/r"), "m-BF16.gguf");
}

TEST(ChooseGgufFileTest, QuantTagMatchesWholeTagCaseInsensitively) {
  const std::vector<std::string> files = {"m-Q4_K_M.gguf", "m.q4_k.gguf", "m-Q4_K_S.gguf"};
  EXPECT_EQ(ChooseGgufFile(files, "Q4_K", "o/r"), "m.q4_k.gguf");
  EXPECT_EQ(ChooseGgufFile(files, "q4_k_s", "o/r"), "m-Q4_K_S.gguf");
  const std::string error = ErrorOf([&] { ChooseGgufFile(files, "Q2_K", "o/r"); });
  EXPECT_THAT(error, HasSubstr("no .gguf file with quantization Q2_K"));
  EXPECT_THAT(error, HasSubstr("m-Q4_K_M.gguf"));
}

TEST(ChooseGgufFileTest, SkipsMultimodalProjectors) {
  EXPECT_EQ(ChooseGgufFile({"mmproj-m-Q4_K_M.gguf", "m-F16.gguf"}, "", "o/r"), "m-F16.gguf");
}

TEST(ChooseGgufFileTest, NoGgufListsTheRepoFiles) {
  const std::string error = ErrorOf([] {
    ChooseGgufFile({"README.md", "model.safetensors"}, "", "o/r");
  });
  EXPECT_THAT(error, HasSubstr("o/r has no .gguf model file"));
  EXPECT_THAT(error, HasSubstr("README.md, model.safetensors"));
}

TEST(ChooseGgufFileTest, RefusesSplitModels) {
  const std::string error = ErrorOf([] {
    ChooseGgufFile({"m-Q4_K_M-00002-of-00002.gguf", "m-Q4_K_M-00001-of-00002.gguf"}, "", "o/r");
  });
  EXPECT_THAT(error, HasSubstr("m-Q4_K_M-00001-of-00002.gguf is split into 2 files"));
}

class EnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kNames) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name, value->c_str(), 1);
      } else {
        ::unsetenv(name);
      }
    }
  }

  static constexpr const char* kNames[] = {"HF_ENDPOINT",    "HF_TOKEN", "ARKV_CACHE_DIR",
                                           "XDG_CACHE_HOME", "HOME",     "HF_HUB_OFFLINE"};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

TEST_F(EnvironmentTest, DefaultsWithoutEnvironment) {
  ::setenv("HOME", "/home/someone", 1);
  const DownloadOptions options = DownloadOptions::FromEnvironment();
  EXPECT_EQ(options.endpoint, "https://huggingface.co");
  EXPECT_EQ(options.cache_dir, "/home/someone/.cache/arkv");
  EXPECT_EQ(options.token, "");
  EXPECT_FALSE(options.offline);
}

TEST_F(EnvironmentTest, EnvironmentOverridesDefaults) {
  ::setenv("HOME", "/home/someone", 1);
  ::setenv("HF_ENDPOINT", "https://hf-mirror.example/", 1);
  ::setenv("HF_TOKEN", "hf_abc", 1);
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  DownloadOptions options = DownloadOptions::FromEnvironment();
  EXPECT_EQ(options.endpoint, "https://hf-mirror.example");
  EXPECT_EQ(options.cache_dir, "/xdg/arkv");
  EXPECT_EQ(options.token, "hf_abc");
  EXPECT_TRUE(options.offline);

  ::setenv("ARKV_CACHE_DIR", "/models", 1);
  EXPECT_EQ(DownloadOptions::FromEnvironment().cache_dir, "/models");

  // Explicit values win over the environment.
  DownloadOptions explicit_options;
  explicit_options.cache_dir = "/mine";
  explicit_options.endpoint = "http://127.0.0.1:1";
  options = ResolveDefaults(explicit_options);
  EXPECT_EQ(options.cache_dir, "/mine");
  EXPECT_EQ(options.endpoint, "http://127.0.0.1:1");
}

TEST(RepoCacheDirTest, OwnerAndNameJoinedByTwoUnderscores) {
  EXPECT_EQ(RepoCacheDir("/c", "my_org/my-model"), "/c/my_org__my-model");
}

TEST(ProgressBarTest, FormatShowsPercentBytesSpeedAndEta) {
  const std::string line = ProgressBar::Format("model.gguf", 50'000'000, 100'000'000, 10e6, 100);
  EXPECT_THAT(line, HasSubstr("model.gguf ["));
  EXPECT_THAT(line, HasSubstr(" 50% 50.0/100.0 MB 10.0 MB/s ETA 0:05"));
  EXPECT_LE(line.size(), 100u);
  const std::string unknown_total = ProgressBar::Format("model.gguf", 1'500'000, 0, 0, 100);
  EXPECT_EQ(unknown_total, "model.gguf 1.5 MB 0.0 MB/s");
}

TEST(ProgressBarTest, DrawsOnlyWhenEnabled) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    ProgressBar disabled("a.gguf", 0, 100, false, out);
    disabled.Update(50);
    disabled.Finish();
  }
  EXPECT_EQ(std::ftell(out), 0);
  {
    ProgressBar enabled("a.gguf", 0, 100, true, out);
    enabled.Update(100);
    enabled.Finish();
  }
  std::string text(static_cast<size_t>(std::ftell(out)), '\0');
  std::rewind(out);
  ASSERT_EQ(std::fread(text.data(), 1, text.size(), out), text.size());
  std::fclose(out);
  EXPECT_THAT(text, HasSubstr("100%"));
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace arkv::hub
