// End-to-end tests of the arkv program: every subcommand on a small model, and
// bad input giving a clear error and exit code 1 (never a crash).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/run_command.h"
#include "common/compare.h"

namespace {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs arkv; output holds stdout and, unless stdout_only, stderr too.
Result RunArkv(const std::string& args, bool stdout_only = false) {
  const std::string cmd =
      std::string(ARKV_BINARY) + " " + args + (stdout_only ? " 2>/dev/null" : " 2>&1");
  const arkv::testing::CommandResult c = arkv::testing::RunCommand(cmd);
  return Result{c.exit_code, c.out};
}

std::string Shared(const std::string& rel) { return std::string(ARKV_SHARED_DIR) + "/" + rel; }

std::vector<float> ReadF32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("arkv_cli_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    model_ = (dir_ / "tiny.gguf").string();
    const Result r = RunArkv("make-model --preset tiny --layers 2 --type q8_0 -o " + model_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::filesystem::path dir_;
  static std::string model_;
};
std::filesystem::path Cli::dir_;
std::string Cli::model_;

TEST_F(Cli, GenerateStreamsTextAndPrintsSummary) {
  const Result r = RunArkv("generate -m " + model_ + " -p 'Hello' -n 8 --temp 0 -t 2 --ignore-eos");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("generated 8 tokens"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tok/s"), std::string::npos);
  EXPECT_NE(r.output.find("KV "), std::string::npos);
  EXPECT_NE(r.output.find("random weights"), std::string::npos) << r.output;
}

TEST_F(Cli, GreedyGenerationIsDeterministicAcrossThreadCounts) {
  const std::string base =
      "generate -m " + model_ +
      " --prompt-ids 256,72,101 -n 12 --temp 0 --ignore-eos --no-display-prompt";
  // stdout only: the generated text (stderr carries notes and the summary).
  const Result a = RunArkv(base + " -t 1", /*stdout_only=*/true);
  const Result b = RunArkv(base + " -t 2", /*stdout_only=*/true);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  ASSERT_GT(a.output.size(), 1u) << "no generated text to compare";
  EXPECT_EQ(a.output, b.output);
}

TEST_F(Cli, LogitsWritesNTokensTimesVocabFloats) {
  const std::string ids = (dir_ / "ids.txt").string();
  const std::string out = (dir_ / "logits.f32").string();
  std::ofstream(ids) << "256 1 2 3 4\n";
  const Result r = RunArkv("logits -m " + model_ + " --ids " + ids + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::filesystem::file_size(out), 5u * 512u * sizeof(float));
}

// The written rows are the logits: llama.cpp's on the same file and ids
// within the golden test's tolerance, and the float64 reference's with exact
// arithmetic (tests/model/golden_test.cc).
TEST_F(Cli, LogitsMatchTheGoldenFiles) {
  const std::string model = Shared("models/stories260K.gguf");
  const std::string golden = Shared("golden/real/stories260K/");
  if (!std::filesystem::exists(model) || !std::filesystem::exists(golden + "ids.txt")) {
    GTEST_SKIP() << "shared data absent: " << model;
  }
  struct Run {
    std::string flags, golden_file;
    double tol;
  };
  for (const Run& run : {Run{"", "logits.f32", 5e-2},
                         Run{"--matmul float --kv-original f32", "logits.ref64.f32", 1e-3}}) {
    const std::string out = (dir_ / "golden_logits.f32").string();
    const Result r = RunArkv("logits -m " + model + " --ids " + golden + "ids.txt --out " + out +
                             " -t 2 " + run.flags);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::vector<float> ours = ReadF32(out), want = ReadF32(golden + run.golden_file);
    ASSERT_EQ(ours.size(), want.size()) << run.golden_file;
    arkv::testing::MaxAbsDiff diff;
    diff.AddAll(ours.data(), want.data(), want.size());
    EXPECT_TRUE(diff.Within(run.tol)) << run.golden_file << " " << run.flags;
  }
}

// `arkv eval` end to end: the full cache's decode-mode perplexity equals `arkv
// perplexity` on the same windows, its KL against itself is 0, and the window
// policy holds exactly its budget of tokens at the end of each window.
TEST_F(Cli, EvalScoresPoliciesOnTheSameWindows) {
  const std::string text = (dir_ / "text.txt").string();
  {
    std::ofstream f(text);
    for (int i = 0; i < 100; ++i)
      f << "Once upon a time there was a little cat number " << i << ". ";
  }
  const std::string json = (dir_ / "eval.json").string();
  // --matmul float in both commands: eval scores token by token, perplexity in
  // one batch, and the two attention kernels round differently in the last
  // bits; with int8 activations (--matmul ggml) such a bit can move an
  // activation across a quantization step, which moved this random model's
  // perplexity by 7.5e-4 of itself. In float the two agree to about 1e-6.
  const Result r = RunArkv("eval -m " + model_ + " -f " + text +
                           " -c 64 --windows 2 --policies full,window --kv-budget 40 -t 2 "
                           "--matmul float --no-hash --json " +
                           json);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("window@40"), std::string::npos) << r.output;
  const nlohmann::json results = ReadJson(json).at("results");
  ASSERT_EQ(results.size(), 2u);
  const nlohmann::json& full = results[0].at("decode");
  const nlohmann::json& window = results[1].at("decode");
  EXPECT_EQ(results[1].at("label"), "window@40");
  // Two windows of 64 tokens, prefix 33: 31 scored tokens each.
  EXPECT_EQ(full.at("n_scored"), 62);
  EXPECT_EQ(window.at("n_scored"), 62);
  EXPECT_EQ(full.at("kl").at("max"), 0.0);
  EXPECT_EQ(full.at("top1_agreement"), 1.0);
  EXPECT_GT(window.at("kl").at("mean").get<double>(), 0.0);
  // Each window ends holding 63 tokens in the full cache, 40 in the window's.
  const int64_t full_bytes = full.at("kv_bytes_max").get<int64_t>();
  EXPECT_EQ(full_bytes % 63, 0);
  EXPECT_EQ(window.at("kv_bytes_max").get<int64_t>(), full_bytes / 63 * 40);

  const Result ppl =
      RunArkv("perplexity -m " + model_ + " -f " + text + " -c 64 --chunks 2 -t 2 --matmul float");
  ASSERT_EQ(ppl.exit_code, 0) << ppl.output;
  const size_t at = ppl.output.find("Final estimate: PPL = ");
  ASSERT_NE(at, std::string::npos) << ppl.output;
  const double batched = std::stod(ppl.output.substr(at + 22));
  EXPECT_NEAR(full.at("ppl").get<double>(), batched, 1e-5 * batched);
}

// `arkv bench`: one point per context and configuration, and the KV bytes each
// holds after decoding follow from the model's shape (f16 K and V, positions).
TEST_F(Cli, BenchReportsEveryPointWithItsKvBytes) {
  const std::string json = (dir_ / "bench.json").string();
  const Result r =
      RunArkv("bench -m " + model_ +
              " --ctx 32,64 -n 4 -r 1 --policies full,window --kv-budget 40 -t 2 --json " + json);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json doc = ReadJson(json);
  const nlohmann::json& m = doc.at("model");
  // Per layer and KV head: f16 K and V, and the token's 4-byte position.
  const int64_t token_bytes = m.at("n_layers").get<int64_t>() * m.at("n_kv_heads").get<int64_t>() *
                              (m.at("head_dim").get<int64_t>() * 2 * 2 + 4);
  const nlohmann::json& points = doc.at("points");
  ASSERT_EQ(points.size(), 4u);
  for (const nlohmann::json& p : points) {
    const int64_t ctx = p.at("context"), held = ctx + 4;
    const bool full = p.at("label") == "full";
    EXPECT_TRUE(full || p.at("label") == "window@40") << p.at("label");
    EXPECT_EQ(p.at("kv_bytes").get<int64_t>(),
              (full ? held : std::min<int64_t>(held, 40)) * token_bytes)
        << p.at("label") << " at " << ctx;
    const double decode = p.at("decode_tokens_per_s").at("median");
    EXPECT_TRUE(std::isfinite(decode) && decode > 0) << decode;
  }
  EXPECT_EQ(points[0].at("context"), 32);
  EXPECT_EQ(points[3].at("context"), 64);
}

TEST_F(Cli, InspectPrintsMetadataTensorsAndModel) {
  const Result r = RunArkv("inspect " + model_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("general.architecture"), std::string::npos);
  EXPECT_NE(r.output.find("blk.0.attn_q.weight"), std::string::npos);
  EXPECT_NE(r.output.find("model: llama, 2 layers"), std::string::npos) << r.output;
}

TEST_F(Cli, TokenizeRealModel) {
  if (!std::filesystem::exists(Shared("models/stories260K.gguf")))
    GTEST_SKIP() << "shared data absent";
  // greedy.prompt_ids.txt of the golden data: llama.cpp's ids for this text.
  const Result r =
      RunArkv("tokenize -m " + Shared("models/stories260K.gguf") + " -p 'Once upon a time'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "1 403 407 261 378\n");
}

TEST_F(Cli, BadInputGivesClearErrorAndExitCodeOne) {
  struct Case {
    std::string args, message;
  };
  const std::string hostile = (dir_ / "hostile.gguf").string();
  std::ofstream(hostile, std::ios::binary) << "GGUF\x03\0\0\0garbage";
  const std::vector<Case> cases = {
      {"generate -m /nonexistent/model.gguf -p hi", "/nonexistent/model.gguf"},
      {"generate -m " + hostile + " -p hi", "hostile.gguf"},
      {"generate -m " + model_ + " -p hi --kv-policy nope", "nope"},
      {"generate -m " + model_ + " -p hi --kv-policy arkv --kv-budget 8", "window"},
      {"generate -m " + model_ + " -p hi --kv-budget 12XB --kv-policy evict", "12XB"},
      {"generate -m " + model_ + " --prompt-ids 1,99999", "99999"},
      {"generate -m " + model_ + " --prompt-ids 1,x", "'x'"},
      {"generate -m " + model_ + " -p hi --top-p 0", "top-p"},
      {"generate -p hi", "no model"},
      {"make-model -o " + (dir_ / "x.gguf").string() + " --type q4_1", "q4_1"},
      {"make-model -o " + (dir_ / "x.gguf").string() + " --embd 80 --type q8_0", "block size"},
      {"perplexity -m " + model_ + " -f /nonexistent.txt", "/nonexistent.txt"},
  };
  for (const Case& c : cases) {
    const Result r = RunArkv(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find("error"), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
}

// The first line of `text` that starts with `prefix` (empty when none).
std::string LineStartingWith(const std::string& text, const std::string& prefix) {
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    if (text.compare(begin, prefix.size(), prefix) == 0) return text.substr(begin, end - begin);
    begin = end + 1;
  }
  return "";
}

// --matmul reaches the model in every command that loads one: eval's
// perplexity on the Q8_0 model differs between llama.cpp's arithmetic (Q8_0
// activations) and exact f32 products.
TEST_F(Cli, EvalHonoursMatmul) {
  const std::string text = (dir_ / "eval.txt").string();
  {
    std::ofstream out(text);
    for (int i = 0; i < 40; ++i)
      out << "Once upon a time a cat sat on the mat number " << i << ". ";
  }
  const std::string args = "eval -m " + model_ + " -f " + text +
                           " --policies full --tasks ppl -c 64 --windows 1 --no-hash -t 2";
  const Result ggml = RunArkv(args + " --matmul ggml", /*stdout_only=*/true);
  const Result exact = RunArkv(args + " --matmul float", /*stdout_only=*/true);
  ASSERT_EQ(ggml.exit_code, 0) << ggml.output;
  ASSERT_EQ(exact.exit_code, 0) << exact.output;
  const std::string ggml_row = LineStartingWith(ggml.output, "full ");
  const std::string exact_row = LineStartingWith(exact.output, "full ");
  ASSERT_FALSE(ggml_row.empty()) << ggml.output;
  ASSERT_FALSE(exact_row.empty()) << exact.output;
  EXPECT_NE(ggml_row, exact_row);
  const Result bad = RunArkv("bench -m " + model_ + " --ctx 16 -n 1 -r 1 --matmul fast");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("--matmul"), std::string::npos) << bad.output;
}

// Every bad flag value: the project's own one-line error, status 1.
TEST_F(Cli, BadFlagValuesGiveOneLineErrorAndExitCodeOne) {
  struct Case {
    std::string args, message;
  };
  const std::string gen = "generate -m " + model_ + " -p hi ";
  const std::vector<Case> cases = {
      {gen + "-n -3", "--n-predict: must be >= 0, got -3"},
      {gen + "-n many", "--n-predict: 'many' is not a number"},
      {gen + "--top-p 7", "top-p"},
      {gen + "--min-p 2", "min-p"},
      {gen + "--kv-window 0", "--kv-window"},
      {gen + "--kv-window abc", "--kv-window"},
      {gen + "--arkv-gamma -1", "--arkv-gamma"},
      {gen + "--arkv-keep 2", "--arkv-keep"},
      {gen + "--arkv-tau 1,2", "--arkv-tau"},
      {gen + "--kv-quant fp4", "--kv-quant"},
      {gen + "--kv-policy arkv", "--kv-budget"},
      {gen + "--prefill-chunk 0", "--prefill-chunk"},
      {gen + "-t -1", "--threads"},
      {gen + "--no-such-flag", "--no-such-flag"},
      {"eval -m " + model_ + " -f x.txt -c 2", "--ctx-size"},
      {"perplexity -m " + model_ + " -f x.txt -c 1e9", "--ctx-size"},
  };
  for (const Case& c : cases) {
    const Result r = RunArkv(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("arkv: error: ", 0), 0u) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << c.args << "\n" << r.output;
  }
}

// make-model writes llama.cpp's general.file_type (MOSTLY_Q8_0 = 7), not the
// ggml type id (8, which llama.cpp reads as MOSTLY_Q5_0).
TEST_F(Cli, MakeModelWritesLlamaCppFileType) {
  const Result r = RunArkv("inspect " + model_, /*stdout_only=*/true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string row = LineStartingWith(r.output, "  general.file_type ");
  ASSERT_FALSE(row.empty()) << r.output;
  EXPECT_EQ(row.substr(row.find_last_of(' ') + 1), "7") << row;
}

}  // namespace
