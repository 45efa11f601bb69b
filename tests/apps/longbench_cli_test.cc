// `arkv eval --tasks longbench` end to end on stories260K and a small LongBench
// folder written here (a few samples of six kinds of dataset): the table, the
// JSON with every answer, the plot, resuming from the JSON, and bad input.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/run_command.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Result {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

Result RunArkv(const std::string& args, const fs::path& dir) {
  const std::string err_file = (dir / "stderr.txt").string();
  const std::string cmd = std::string(ARKV_BINARY) + " " + args + " 2>" + err_file;
  const arkv::testing::CommandResult c = arkv::testing::RunCommand(cmd);
  Result r{c.exit_code, c.out};
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

std::string Shared(const std::string& rel) { return std::string(ARKV_SHARED_DIR) + "/" + rel; }

json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, false);
}

void WriteJsonl(const fs::path& path, const std::vector<json>& records) {
  std::ofstream out(path);
  for (const json& r : records) out << r.dump() << "\n";
}

json Record(const std::string& id, const std::string& context, const std::string& input,
            const std::vector<std::string>& answers, const json& classes = nullptr) {
  return {{"_id", id},          {"context", context},     {"input", input},
          {"answers", answers}, {"all_classes", classes}, {"length", 300},
          {"language", "en"},   {"dataset", "x"}};
}

class LongBenchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Shared("models/stories260K.gguf");
    if (!std::ifstream(model_)) GTEST_SKIP() << "shared data absent: " << model_;
    dir_ = fs::temp_directory_path() / ("arkv_longbench_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    std::string story;
    for (int i = 0; i < 40; ++i) story += "Lily had a red ball. She played with her dog Max. ";
    const fs::path d = dir_ / "data";
    WriteJsonl(d / "narrativeqa.jsonl", {Record("n0", story, "Who is Max?", {"her dog"}),
                                         Record("n1", story, "What color?", {"red"}),
                                         Record("n2", story, "Who?", {"Lily"})});
    WriteJsonl(d / "trec.jsonl",
               {Record("t0", "Question: Who is Lily?\nType: Individual\n",
                       "Question: Where?\nType:", {"City"}, json::array({"City", "Individual"})),
                Record("t1", "Question: Who?\nType: Individual\n", "Question: What?\nType:",
                       {"Individual"}, json::array({"City", "Individual"}))});
    WriteJsonl(d / "passage_count.jsonl",
               {Record("c0", story, "", {"2"}), Record("c1", story, "", {"1"})});
    WriteJsonl(d / "multifieldqa_zh.jsonl",
               {Record("z0", "小明喜欢吃苹果。", "小明喜欢什么？", {"吃苹果"}),
                Record("z1", "小红去北京。", "小红去哪里？", {"北京"})});
    WriteJsonl(d / "lcc.jsonl", {Record("l0", "def f(x):\n    return x\n", "", {"print(f(1))"}),
                                 Record("l1", "x = 1\n", "", {"y = 2"})});
    std::string dialogue;
    for (int i = 0; i < 30; ++i) dialogue += "Lily liked to play in the park with her dog Max.\n";
    WriteJsonl(d / "samsum.jsonl",
               {Record("s0", "Dialogue: " + dialogue + "\nSummary: Lily plays with Max.\n",
                       "Dialogue: Lily: Where is Max?\nTom: In the park.\nSummary: ",
                       {"Tom says Max is in the park."}),
                Record("s1", "Dialogue: " + dialogue, "Summary: ", {"Max."})});
    WriteJsonl(d / "gov_report.jsonl", {Record("g0", story, "", {"Lily plays with Max."}),
                                        Record("g1", story, "", {"A girl and a dog."})});
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Args(const std::string& extra, int max_prompt = 200) const {
    return "eval -m " + model_ + " --tasks longbench --longbench " + (dir_ / "data").string() +
           " --datasets narrativeqa,trec,passage_count,multifieldqa_zh,lcc,gov_report,samsum"
           " --policies full,arkv --kv-budget 32 -t 2 --no-hash --max-prompt " +
           std::to_string(max_prompt) + " " + extra;
  }
  std::string model_;
  fs::path dir_;
};

TEST_F(LongBenchCli, TableJsonPlotAndResume) {
  const fs::path json_path = dir_ / "lb.json";
  const std::string out = "--json " + json_path.string() + " --plot " + (dir_ / "lb.svg").string();
  const Result first = RunArkv(Args("--samples 1 " + out), dir_);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  for (const char* row :
       {"narrativeqa (n=1)", "trec (n=1)", "passage_count (n=1)", "multifieldqa_zh (n=1)",
        "lcc (n=1)", "gov_report (n=1)", "single-doc QA", "few-shot", "synthetic", "code",
        "summarization", "average", "KV KiB held", "x less KV than full", "arkv@32", "friso"}) {
    EXPECT_NE(first.out.find(row), std::string::npos) << row << "\n" << first.out;
  }
  EXPECT_NE(first.err.find("ETA"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("no chat template"), std::string::npos) << first.err;

  const json doc = ReadJson(json_path);
  ASSERT_TRUE(doc.is_object());
  ASSERT_EQ(doc["samples"].size(), 14u);  // 7 datasets x 1 sample x 2 configs
  std::map<std::string, double> first_seconds;
  for (const json& s : doc["samples"]) {
    EXPECT_EQ(s["index"], 0);
    EXPECT_TRUE(s["prediction"].is_string());
    const double score = s["score"].get<double>();
    EXPECT_TRUE(score >= 0.0 && score <= 1.0) << s.dump();
    EXPECT_LE(s["prompt_tokens"].get<int>(), 200 + 1);
    if (s["dataset"] == "samsum") {
      // samsum stops after its first newline token (which the answer keeps).
      const std::string p = s["prediction"].get<std::string>();
      EXPECT_LT(s["generated_tokens"].get<int>(), 128) << p;
      EXPECT_EQ(p.find('\n'), p.size() - 1) << p;
    }
    first_seconds[s["config"].get<std::string>() + "/" + s["dataset"].get<std::string>()] =
        s["seconds"].get<double>();
  }
  // Each dataset's score is the mean sample score x 100.
  for (const json& r : doc["results"]) {
    for (const auto& [name, cell] : r["datasets"].items()) {
      double expected = 0.0;
      for (const json& s : doc["samples"]) {
        if (s["config"] == r["label"] && s["dataset"] == name)
          expected = 100 * s["score"].get<double>();
      }
      EXPECT_NEAR(cell["score"].get<double>(), std::round(expected * 100) / 100, 1e-9) << name;
      EXPECT_GT(cell["kv_bytes_mean"].get<double>(), 0.0);
    }
  }
  std::ifstream svg(dir_ / "lb.svg");
  std::string svg_text((std::istreambuf_iterator<char>(svg)), {});
  EXPECT_NE(svg_text.find("<svg"), std::string::npos);
  EXPECT_NE(svg_text.find("LongBench"), std::string::npos);

  // Resume with a second sample per dataset: only the new samples are answered.
  const Result second = RunArkv(Args("--samples 2 " + out), dir_);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("resuming from"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("14 answers done"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("14/14"), std::string::npos) << second.err;  // 12 new answers
  EXPECT_NE(second.out.find("narrativeqa (n=2)"), std::string::npos) << second.out;
  const json resumed = ReadJson(json_path);
  ASSERT_EQ(resumed["samples"].size(), 28u);
  for (const json& s : resumed["samples"]) {
    if (s["index"] != 0) continue;
    const std::string key = s["config"].get<std::string>() + "/" + s["dataset"].get<std::string>();
    // Unchanged timing: the first run's answer was kept, not recomputed.
    EXPECT_EQ(s["seconds"].get<double>(), first_seconds.at(key)) << key;
  }

  // Everything done: nothing is answered again and the file keeps its 28 answers.
  const Result third = RunArkv(Args("--samples 2 " + out), dir_);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(third.err.find("ETA"), std::string::npos) << third.err;  // no progress: no work
  EXPECT_EQ(ReadJson(json_path)["samples"].size(), 28u);

  // A different prompt budget cannot continue that run.
  const Result other = RunArkv(Args("--samples 2 " + out, 150), dir_);
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("max_prompt"), std::string::npos) << other.err;
}

TEST_F(LongBenchCli, BadInputIsAClearError) {
  Result r = RunArkv(Args("--datasets nosuch"), dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown LongBench dataset 'nosuch'"), std::string::npos) << r.err;
  r = RunArkv(Args("--datasets hotpotqa"), dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("hotpotqa.jsonl"), std::string::npos) << r.err;
  r = RunArkv(Args("--chat-template vicuna"), dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown chat template 'vicuna'"), std::string::npos) << r.err;
  r = RunArkv("eval -m " + model_ + " --tasks longbench,ppl", dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("runs alone"), std::string::npos) << r.err;
  std::ofstream(dir_ / "data" / "trec.jsonl") << "{\"input\": 3}\n";
  r = RunArkv(Args("--datasets trec"), dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("trec.jsonl:1"), std::string::npos) << r.err;
}

}  // namespace
