// Golden tests: llama.cpp's tokenizer vectors and the real models' ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace arkv {
namespace {

namespace fs = std::filesystem;

const fs::path kShared = ARKV_SHARED_DIR;
const fs::path kExtracted = ARKV_TOKENIZER_VOCAB_DIR;

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitInp(const std::string& content) {
  static const std::string kSep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t next = content.find(kSep, pos);
    if (next == std::string::npos) break;
    out.push_back(content.substr(pos, next - pos));
    pos = next + kSep.size();
  }
  return out;
}

std::vector<std::vector<int32_t>> ParseOut(const std::string& content) {
  std::vector<std::vector<int32_t>> out;
  std::istringstream lines(content);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ids(line);
    std::vector<int32_t> v;
    int64_t id;
    while (ids >> id) v.push_back(static_cast<int32_t>(id));
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<int32_t> ReadIds(const fs::path& path) {
  std::vector<int32_t> ids;
  std::ifstream in(path);
  int64_t id;
  while (in >> id) ids.push_back(static_cast<int32_t>(id));
  return ids;
}

// Loaded once per file: the large vocabularies take a while (more so under
// sanitizers) and several tests share them.
const Tokenizer* Load(const fs::path& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[path.string()];
  if (!slot) {
    const auto file = gguf::GgufFile::Open(path.string());
    slot = Tokenizer::FromGguf(*file);
  }
  return slot.get();
}

std::string Show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

struct VectorCase {
  const char* name;
  fs::path gguf;
  fs::path inp;
  fs::path out;
};

void PrintTo(const VectorCase& c, std::ostream* os) { *os << c.name; }

class VocabVectors : public ::testing::TestWithParam<VectorCase> {};

TEST_P(VocabVectors, MatchLlamaCpp) {
  const VectorCase& c = GetParam();
  for (const fs::path& p : {c.gguf, c.inp, c.out}) {
    if (!fs::exists(p)) GTEST_SKIP() << "missing " << p;
  }
  const auto tokenizer = Load(c.gguf);
  const std::vector<std::string> inputs = SplitInp(*ReadFile(c.inp));
  const std::vector<std::vector<int32_t>> expected = ParseOut(*ReadFile(c.out));
  ASSERT_EQ(inputs.size(), expected.size()) << c.inp;
  ASSERT_GT(inputs.size(), 0u);
  size_t passed = 0, round_trips = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t> ids = tokenizer->Encode(inputs[i], false, false);
    if (ids == expected[i]) {
      ++passed;
    } else {
      ADD_FAILURE() << c.name << " vector " << i << " '" << inputs[i] << "'\n  got     "
                    << Show(ids) << "\n  expected" << Show(expected[i]);
    }
    // Every vector here is representable (byte fallback / byte-level BPE).
    const std::string decoded = tokenizer->Decode(ids);
    if (decoded == inputs[i]) {
      ++round_trips;
    } else {
      ADD_FAILURE() << c.name << " vector " << i << " does not round-trip: '" << decoded << "' != '"
                    << inputs[i] << "'";
    }
  }
  std::printf("[ vectors  ] %s: %zu/%zu ids match, %zu/%zu round-trip\n", c.name, passed,
              inputs.size(), round_trips, inputs.size());
}

std::vector<VectorCase> AllVectorCases() {
  const fs::path vocab = kShared / "models/vocab";
  const fs::path golden = kShared / "golden/vocab";
  const fs::path synth = kShared / "golden/synth";
  auto same_dir = [&](const char* name, const fs::path& dir, const std::string& stem) {
    return VectorCase{name, dir / (stem + ".gguf"), dir / (stem + ".gguf.inp"),
                      dir / (stem + ".gguf.out")};
  };
  return {
      same_dir("llama_spm", vocab, "ggml-vocab-llama-spm"),
      same_dir("phi_3", vocab, "ggml-vocab-phi-3"),
      same_dir("gpt_2", vocab, "ggml-vocab-gpt-2"),
      same_dir("deepseek_coder", vocab, "ggml-vocab-deepseek-coder"),
      {"llama_bpe", kExtracted / "ggml-vocab-llama-bpe.gguf",
       golden / "ggml-vocab-llama-bpe.gguf.inp", golden / "ggml-vocab-llama-bpe.gguf.out"},
      {"qwen2", kExtracted / "ggml-vocab-qwen2.gguf", golden / "ggml-vocab-qwen2.gguf.inp",
       golden / "ggml-vocab-qwen2.gguf.out"},
      // No deepseek-r1-qwen GGUF ships; its vectors equal qwen2's (README 6).
      {"deepseek_r1_qwen_on_qwen2", kExtracted / "ggml-vocab-qwen2.gguf",
       vocab / "ggml-vocab-deepseek-r1-qwen.gguf.inp",
       vocab / "ggml-vocab-deepseek-r1-qwen.gguf.out"},
      same_dir("synth_llama3", synth, "synth-llama3.q8_0"),
      same_dir("synth_qwen3", synth, "synth-qwen3.q8_0"),
  };
}

INSTANTIATE_TEST_SUITE_P(Golden, VocabVectors, ::testing::ValuesIn(AllVectorCases()),
                         [](const auto& info) { return std::string(info.param.name); });

// Chat markup with parse_special on the real Llama-3 and Qwen2 vocabularies
// (ids as llama.cpp and the Hugging Face tokenizers give them).
TEST(RealVocab, ParseSpecialChatMarkup) {
  const fs::path llama3 = kExtracted / "ggml-vocab-llama-bpe.gguf";
  const fs::path qwen2 = kExtracted / "ggml-vocab-qwen2.gguf";
  if (!fs::exists(llama3) || !fs::exists(qwen2)) GTEST_SKIP() << "missing " << kExtracted;
  {
    const auto t = Load(llama3);
    const std::string text = "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>";
    EXPECT_EQ(t->Encode(text, true, true),
              (std::vector<int32_t>{128000, 128006, 882, 128007, 271, 6151, 128009}));
    EXPECT_EQ(t->Encode(text, false, false).size(), 23u);  // markup spelled out
    EXPECT_TRUE(t->IsEndOfGeneration(128009));
    EXPECT_TRUE(t->IsEndOfGeneration(128001));
    EXPECT_FALSE(t->IsEndOfGeneration(128000));
    EXPECT_EQ(t->Decode(t->Encode(text, true, true), /*render_special=*/true),
              "<|begin_of_text|>" + text);
  }
  {
    const auto t = Load(qwen2);
    const std::string text = "<|im_start|>user\nhi<|im_end|>";
    EXPECT_EQ(t->Encode(text, true, true), (std::vector<int32_t>{151644, 872, 198, 6023, 151645}));
    EXPECT_FALSE(t->add_bos());
    EXPECT_TRUE(t->IsEndOfGeneration(151645));
    EXPECT_TRUE(t->IsEndOfGeneration(151643));
    EXPECT_EQ(t->TokenToPiece(151700), "");  // [PAD] tokens are UNUSED
  }
}

// Random byte strings: encoding never fails, and decoding gives the input
// back (with invalid bytes read as U+FFFD).
TEST(RealVocab, RandomBytesRoundTrip) {
  const std::vector<fs::path> files = {kShared / "models/vocab/ggml-vocab-llama-spm.gguf",
                                       kShared / "models/vocab/ggml-vocab-gpt-2.gguf",
                                       kShared / "golden/synth/synth-qwen3.q8_0.gguf"};
  std::mt19937 rng(1234);
  const std::string alphabet = "ab \n\t'1.";
  if (!fs::exists(kShared)) GTEST_SKIP() << "shared data absent: " << kShared;
  for (const fs::path& path : files) {
    // With ../shared present, a vocabulary missing from it is a failure,
    // never a silently smaller test.
    ASSERT_TRUE(fs::exists(path)) << "missing vocabulary " << path;
    const auto t = Load(path);
    for (int iter = 0; iter < 200; ++iter) {
      std::string s;
      const int len = static_cast<int>(rng() % 24);
      for (int i = 0; i < len; ++i) {
        // Mix ASCII that merges with arbitrary bytes (incl. invalid UTF-8).
        s += rng() % 2 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng() % 256);
      }
      if (s.find("\xE2\x96\x81") != std::string::npos) continue;  // U+2581 decodes to a space
      // Byte-level BPE reads invalid bytes as U+FFFD. SPM splits by lead
      // byte as llama.cpp does, so an invalid sequence can swallow part of
      // an escaped space: only valid UTF-8 round-trips there.
      const std::string valid = unicode::Sanitize(s);
      const std::string& input = t->type() == VocabType::kSpm ? valid : s;
      ASSERT_EQ(t->Decode(t->Encode(input, false, false)), valid) << path << " iteration " << iter;
      EXPECT_NO_THROW(t->Encode(s, true, true));
    }
  }
}

struct RealModel {
  const char* name;
  fs::path gguf;
  fs::path golden;
};

void PrintTo(const RealModel& m, std::ostream* os) { *os << m.name; }

class RealModelIds : public ::testing::TestWithParam<RealModel> {
 protected:
  void SetUp() override {
    const RealModel& m = GetParam();
    if (!fs::exists(m.gguf)) GTEST_SKIP() << "missing " << m.gguf;
    if (!fs::exists(m.golden)) GTEST_SKIP() << "missing " << m.golden;
    tokenizer_ = Load(m.gguf);
  }
  const Tokenizer* tokenizer_ = nullptr;
};

TEST_P(RealModelIds, TextPrefix) {
  const RealModel& m = GetParam();
  const auto text = ReadFile(m.golden / "text_prefix_1024B.txt");
  ASSERT_TRUE(text.has_value());
  const std::vector<int32_t> expected = ReadIds(m.golden / "ids.txt");
  ASSERT_EQ(expected.size(), 128u);
  std::vector<int32_t> ids = tokenizer_->Encode(*text, false, false);
  ASSERT_GE(ids.size(), 127u);
  ids.resize(127);
  ids.insert(ids.begin(), tokenizer_->bos_id());
  size_t same = 0;
  for (size_t i = 0; i < ids.size(); ++i) same += ids[i] == expected[i];
  std::printf("[ real ids ] %s: %zu/%zu ids match\n", m.name, same, expected.size());
  EXPECT_EQ(ids, expected);
}

TEST_P(RealModelIds, GreedyPrompt) {
  const RealModel& m = GetParam();
  const std::vector<int32_t> expected = ReadIds(m.golden / "greedy.prompt_ids.txt");
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(tokenizer_->Encode("Once upon a time", true, false), expected);
}

TEST_P(RealModelIds, GreedyTextDetokenizes) {
  // greedy.text.txt is llama.cpp's detokenization of prompt + generation.
  const RealModel& m = GetParam();
  std::vector<int32_t> ids = ReadIds(m.golden / "greedy.prompt_ids.txt");
  const std::vector<int32_t> gen = ReadIds(m.golden / "greedy.gen_ids.txt");
  ids.insert(ids.end(), gen.begin(), gen.end());
  const auto text = ReadFile(m.golden / "greedy.text.txt");
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(tokenizer_->Decode(ids), *text);
  StreamDecoder stream(*tokenizer_);
  std::string streamed;
  for (int32_t id : ids) streamed += stream.Push(id);
  streamed += stream.Flush();
  EXPECT_EQ(streamed, *text);
}

INSTANTIATE_TEST_SUITE_P(
    Golden, RealModelIds,
    ::testing::Values(RealModel{"stories260K", kShared / "models/stories260K.gguf",
                                kShared / "golden/real/stories260K"},
                      RealModel{"TinyStories_656K_f16",
                                kShared / "models/TinyStories-656K/TinyStories-656K.f16.gguf",
                                kShared / "golden/real/TinyStories-656K.f16"},
                      RealModel{"TinyStories_656K_q8_0",
                                kShared / "models/TinyStories-656K/tinystories-656k-q8_0.gguf",
                                kShared / "golden/real/tinystories-656k-q8_0"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace arkv
