// The evaluation harness on the real stories260K model: decode-mode scoring
// against the batched rule, KL of identical caches, policies whose budget
// exceeds the context, the retrieval generator's placement, and the JSON
// report. Skips when ../shared is absent.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"
#include "core/error.h"
#include "eval/bench_runner.h"
#include "eval/decode_scoring.h"
#include "eval/eval_report.h"
#include "eval/eval_runner.h"
#include "eval/perplexity.h"
#include "eval/retrieval.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace arkv::eval {
namespace {

std::string Shared(const std::string& rel) { return std::string(ARKV_SHARED_DIR) + "/" + rel; }
const char* kModel = "models/stories260K.gguf";
const char* kText = "text/tinystories_val.txt";

class EvalModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::ifstream(Shared(kModel)) || !std::ifstream(Shared(kText))) return;
    model_ = Model::Load(Shared(kModel)).release();
    tokenizer_ = Tokenizer::FromGguf(model_->file()).release();
    std::ifstream in(Shared(kText), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.resize(60000);  // plenty for the few windows used here
    tokens_ = new std::vector<int32_t>(tokenizer_->Encode(text, true, false));
  }
  static void TearDownTestSuite() {
    delete tokens_;
    delete tokenizer_;
    delete model_;
  }
  void SetUp() override {
    if (model_ == nullptr) GTEST_SKIP() << "shared data absent: " << Shared(kModel);
  }
  std::unique_ptr<Session> MakeSession(const kv::CacheConfig& config, int prefill_chunk = 512) {
    return std::make_unique<Session>(
        *model_, kv::CreateSequenceCache(model_->cache_shape(), config), pool_, prefill_chunk);
  }
  int32_t Bos() const { return tokenizer_->add_bos() ? tokenizer_->bos_id() : -1; }

  static Model* model_;
  static Tokenizer* tokenizer_;
  static std::vector<int32_t>* tokens_;
  ThreadPool pool_{2};
};
Model* EvalModelTest::model_ = nullptr;
Tokenizer* EvalModelTest::tokenizer_ = nullptr;
std::vector<int32_t>* EvalModelTest::tokens_ = nullptr;

kv::CacheConfig Policy(kv::PolicyKind kind, kv::Budget budget) {
  kv::CacheConfig c;
  c.policy = kind;
  c.budget = budget;
  return c;
}

TEST_F(EvalModelTest, FullCacheDecodeModeEqualsBatchedPerplexity) {
  const int n_ctx = 128, windows = 3;
  auto batched = MakeSession(kv::CacheConfig{});
  const PerplexityResult chunked = ChunkedPerplexity(*batched, *tokens_, n_ctx, windows, Bos());
  auto decoded = MakeSession(kv::CacheConfig{});
  Session* sessions[] = {decoded.get()};
  DecodeScoringOptions o{n_ctx, 0, windows, Bos()};
  const std::vector<PolicyScore> scores = ScoreDecodeMode(sessions, -1, *tokens_, o);
  ASSERT_EQ(scores.size(), 1u);
  // The default prefix scores exactly llama-perplexity's tokens.
  EXPECT_EQ(scores[0].n_scored, chunked.n_scored);
  EXPECT_NEAR(scores[0].ppl, chunked.ppl, 1e-4 * chunked.ppl);
  EXPECT_GT(scores[0].ppl, 1.0);
}

TEST_F(EvalModelTest, KlOfFullAgainstItselfIsZero) {
  auto reference = MakeSession(kv::CacheConfig{});
  auto twin = MakeSession(kv::CacheConfig{});
  auto chunked = MakeSession(kv::CacheConfig{}, 7);  // same cache, other prefill batching
  Session* sessions[] = {reference.get(), twin.get(), chunked.get()};
  DecodeScoringOptions o{96, 40, 2, Bos()};
  const std::vector<PolicyScore> s = ScoreDecodeMode(sessions, 0, *tokens_, o);
  EXPECT_EQ(s[0].n_scored, 2 * (96 - 40));
  for (int i : {0, 1}) {
    EXPECT_EQ(s[i].kl.max, 0.0) << i;
    EXPECT_EQ(s[i].kl.mean, 0.0) << i;
    EXPECT_EQ(s[i].top1_agreement, 1.0) << i;
    EXPECT_EQ(s[i].ppl, s[0].ppl) << i;
  }
  // Another batching only changes float rounding.
  EXPECT_LT(s[2].kl.max, 1e-6);
  EXPECT_EQ(s[2].top1_agreement, 1.0);
}

TEST_F(EvalModelTest, SmallBudgetGivesPositiveKl) {
  // The converse check: a cache that drops most of the context must differ.
  auto reference = MakeSession(kv::CacheConfig{});
  auto window = MakeSession(Policy(kv::PolicyKind::kWindow, kv::Budget::Tokens(40)));
  Session* sessions[] = {reference.get(), window.get()};
  DecodeScoringOptions o{256, 0, 1, Bos()};
  const std::vector<PolicyScore> s = ScoreDecodeMode(sessions, 0, *tokens_, o);
  EXPECT_GT(s[1].kl.mean, 0.0);
  EXPECT_GT(s[1].kl.max, s[1].kl.mean);
  EXPECT_LT(s[1].mean_final_bytes, s[0].mean_final_bytes);
}

// KL(P_full || P_policy) and both argmaxes computed here, step by step, on
// separate sessions run by hand through the same windows: the scorer's mean and
// max KL and its top-1 agreement must equal them. The case is chosen so that
// the direction of the KL and the argmax comparison both matter.
TEST_F(EvalModelTest, KlAndTopOneMatchAHandComputation) {
  const int n_ctx = 64, prefix = 40, windows = 2;
  kv::CacheConfig small = Policy(kv::PolicyKind::kWindow, kv::Budget::Tokens(8));
  small.window = 4;  // budget 8: 4 sinks and the 4 most recent tokens
  auto reference = MakeSession(kv::CacheConfig{});
  auto policy = MakeSession(small);
  Session* sessions[] = {reference.get(), policy.get()};
  const std::vector<PolicyScore> s =
      ScoreDecodeMode(sessions, 0, *tokens_, DecodeScoringOptions{n_ctx, prefix, windows, Bos()});

  auto full_by_hand = MakeSession(kv::CacheConfig{});
  auto policy_by_hand = MakeSession(small);
  const size_t n_vocab = model_->config().n_vocab;
  auto log_softmax = [&](std::span<const float> logits) {
    const std::span<const float> row = logits.last(n_vocab);
    double mx = row[0], z = 0;
    for (float v : row) mx = std::max(mx, static_cast<double>(v));
    for (float v : row) z += std::exp(v - mx);
    std::vector<double> out(n_vocab);
    for (size_t i = 0; i < n_vocab; ++i) out[i] = row[i] - mx - std::log(z);
    return out;
  };
  auto kl = [&](const std::vector<double>& log_p, const std::vector<double>& log_q) {
    double sum = 0;
    for (size_t i = 0; i < n_vocab; ++i) sum += std::exp(log_p[i]) * (log_p[i] - log_q[i]);
    return sum;
  };
  auto argmax = [](const std::vector<double>& v) {
    return std::max_element(v.begin(), v.end()) - v.begin();
  };
  double kl_sum = 0, kl_max = 0, reverse_sum = 0;
  int n = 0, same = 0;
  for (int w = 0; w < windows; ++w) {
    std::vector<int32_t> win(tokens_->begin() + w * n_ctx, tokens_->begin() + (w + 1) * n_ctx);
    if (Bos() >= 0) win[0] = Bos();
    full_by_hand->Reset();
    policy_by_hand->Reset();
    const std::span<const int32_t> head = std::span<const int32_t>(win).first(prefix);
    std::vector<double> p = log_softmax(full_by_hand->Prefill(head));
    std::vector<double> q = log_softmax(policy_by_hand->Prefill(head));
    for (int t = prefix;; ++t) {
      const double d = kl(p, q);
      kl_sum += d;
      kl_max = std::max(kl_max, d);
      reverse_sum += kl(q, p);
      same += argmax(p) == argmax(q);
      ++n;
      if (t == n_ctx - 1) break;
      p = log_softmax(full_by_hand->Decode(win[t]));
      q = log_softmax(policy_by_hand->Decode(win[t]));
    }
  }
  ASSERT_EQ(n, windows * (n_ctx - prefix));
  ASSERT_EQ(s[1].n_scored, n);
  ASSERT_EQ(s[1].kl.n, n);
  // The case discriminates: the argmaxes differ somewhere, and the reverse KL
  // is far from the forward one.
  ASSERT_LT(same, n);
  ASSERT_GT(std::fabs(reverse_sum - kl_sum), 0.05 * kl_sum);
  EXPECT_NEAR(s[1].kl.mean, kl_sum / n, 1e-9 * kl_sum / n);
  EXPECT_NEAR(s[1].kl.max, kl_max, 1e-9 * kl_max);
  EXPECT_EQ(s[1].top1_agreement, static_cast<double>(same) / n);
  std::printf("[ eval ] window 8 tokens: KL mean %.4g (reverse %.4g), max %.4g, top-1 %d/%d\n",
              kl_sum / n, reverse_sum / n, kl_max, same, n);
}

// `quant` is left out: by definition (ARKV.md, the paper's Quant) it keeps
// every past token outside the window Quantized whatever the budget, so it
// differs from the full cache even with room to spare; see the next test.
TEST_F(EvalModelTest, BudgetAboveContextGivesZeroKlAndIdenticalGenerations) {
  const int n_ctx = 96;
  const kv::PolicyKind kinds[] = {kv::PolicyKind::kWindow, kv::PolicyKind::kSnapKV,
                                  kv::PolicyKind::kEvict, kv::PolicyKind::kArkv};
  auto reference = MakeSession(kv::CacheConfig{});
  std::vector<std::unique_ptr<Session>> owned;
  std::vector<Session*> sessions = {reference.get()};
  for (kv::PolicyKind k : kinds) {
    owned.push_back(MakeSession(Policy(k, kv::Budget::Tokens(4 * n_ctx)), 32));
    sessions.push_back(owned.back().get());
  }
  DecodeScoringOptions o{n_ctx, 0, 2, Bos()};
  const std::vector<PolicyScore> s = ScoreDecodeMode(sessions, 0, *tokens_, o);
  for (size_t i = 1; i < s.size(); ++i) {
    const std::string name(kv::PolicyName(kinds[i - 1]));
    EXPECT_LT(s[i].kl.max, 1e-6) << name;
    EXPECT_EQ(s[i].top1_agreement, 1.0) << name;
    EXPECT_EQ(s[i].mean_quantized_tokens, 0.0) << name;
    EXPECT_NEAR(s[i].ppl, s[0].ppl, 1e-5 * s[0].ppl) << name;
  }
  const std::vector<int32_t> prompt(tokens_->begin(), tokens_->begin() + 60);
  const std::vector<int32_t> expected = GreedyGenerate(*reference, prompt, 30, nullptr);
  ASSERT_EQ(expected.size(), 30u);
  for (size_t i = 1; i < sessions.size(); ++i) {
    EXPECT_EQ(GreedyGenerate(*sessions[i], prompt, 30, nullptr), expected)
        << kv::PolicyName(kinds[i - 1]);
  }
}

// The paper's Quant quantizes only when a layer exceeds C (ARKV.md baselines):
// with a budget above the context it is the full cache.
TEST_F(EvalModelTest, QuantWithBudgetAboveContextChangesNothing) {
  const int n_ctx = 96;
  auto reference = MakeSession(kv::CacheConfig{});
  auto quant = MakeSession(Policy(kv::PolicyKind::kQuant, kv::Budget::Tokens(4 * n_ctx)));
  Session* sessions[] = {reference.get(), quant.get()};
  const std::vector<PolicyScore> s =
      ScoreDecodeMode(sessions, 0, *tokens_, DecodeScoringOptions{n_ctx, 0, 1, Bos()});
  const kv::CacheShape shape = model_->cache_shape();
  const double per_window = static_cast<double>(shape.n_layers) * shape.n_kv_heads * (n_ctx - 1);
  EXPECT_EQ(s[1].evictions, 0);
  EXPECT_EQ(s[1].mean_original_tokens, per_window);
  EXPECT_EQ(s[1].mean_quantized_tokens, 0.0);
  EXPECT_EQ(s[1].kl.mean, 0.0);
}

TEST_F(EvalModelTest, RetrievalGeneratorPlacesTheNeedleAtTheRequestedDepth) {
  const std::vector<std::string> haystack = {"Tom had a red ball.", "The sun was hot today.",
                                             "Lily and her mom went to the big park to play."};
  for (RetrievalKind kind :
       {RetrievalKind::kPasskey, RetrievalKind::kNeedle, RetrievalKind::kMultiKey}) {
    for (double depth : {0.0, 0.1, 0.33, 0.5, 0.9, 1.0}) {
      RetrievalSpec spec{kind, 400, depth, 7, 3};
      const RetrievalSample s = GenerateRetrieval(*tokenizer_, spec, haystack, Bos());
      const std::string where = fmt::format("{} depth {}", RetrievalKindName(kind), depth);
      EXPECT_LE(static_cast<int>(s.prompt.size()), 400) << where;
      EXPECT_GT(static_cast<int>(s.prompt.size()), 400 - s.max_sentence_tokens) << where;
      EXPECT_EQ(s.prompt.front(), Bos()) << where;
      // The needle's own tokenization sits at [needle_begin, needle_end).
      const std::string needle_text = tokenizer_->add_space_prefix() ? s.needle : " " + s.needle;
      const std::vector<int32_t> needle = tokenizer_->Encode(needle_text, false, false);
      ASSERT_EQ(s.needle_end - s.needle_begin, static_cast<int>(needle.size())) << where;
      EXPECT_TRUE(std::equal(needle.begin(), needle.end(), s.prompt.begin() + s.needle_begin))
          << where;
      EXPECT_NE(s.needle.find(s.answer), std::string::npos) << where;
      // Nearest sentence boundary: within half the longest sentence.
      EXPECT_LE(std::abs(s.needle_offset - depth * s.haystack_tokens),
                s.max_sentence_tokens / 2.0 + 1e-9)
          << where;
      if (depth == 0.0) EXPECT_EQ(s.needle_offset, 0) << where;
      if (depth == 1.0) EXPECT_EQ(s.needle_offset, s.haystack_tokens) << where;
      EXPECT_GE(s.needle_begin, s.haystack_begin);
      EXPECT_LE(s.needle_end, s.haystack_end);
      // The question, at the very end, asks for the queried key.
      const std::string tail = tokenizer_->Decode(
          std::vector<int32_t>(s.prompt.begin() + s.haystack_end, s.prompt.end()));
      if (kind == RetrievalKind::kPasskey) {
        EXPECT_NE(tail.find("What is the pass key?"), std::string::npos) << tail;
      } else {
        EXPECT_NE(tail.find("magic number for " + s.key + "?"), std::string::npos) << tail;
      }
      const std::string all = tokenizer_->Decode(s.prompt);
      size_t needles = 0;
      for (size_t at = all.find("special magic number for"); at != std::string::npos;
           at = all.find("special magic number for", at + 1)) {
        ++needles;
      }
      // Needles plus the question's two mentions.
      if (kind == RetrievalKind::kNeedle) EXPECT_EQ(needles, 1u + 2u) << all;
      if (kind == RetrievalKind::kMultiKey) EXPECT_EQ(needles, 3u + 2u) << all;
    }
  }
  // Seeded: the same seed gives the same prompt, another seed another answer.
  RetrievalSpec a{RetrievalKind::kPasskey, 300, 0.5, 1, 4};
  RetrievalSpec b = a;
  b.seed = 2;
  const RetrievalSample sa = GenerateRetrieval(*tokenizer_, a, {}, Bos());
  EXPECT_EQ(GenerateRetrieval(*tokenizer_, a, {}, Bos()).prompt, sa.prompt);
  EXPECT_NE(GenerateRetrieval(*tokenizer_, b, {}, Bos()).answer, sa.answer);
  EXPECT_THROW(GenerateRetrieval(*tokenizer_, {RetrievalKind::kNeedle, 20, 0.5, 1, 4}, {}, Bos()),
               Error);
  EXPECT_THROW(GenerateRetrieval(*tokenizer_, {RetrievalKind::kNeedle, 300, 1.5, 1, 4}, {}, Bos()),
               Error);
}

// Retrieval cells count what they hold: one cell per task and depth in that
// order, `samples` outputs each, and `correct` equal to the outputs that match
// the answer of the prompt regenerated here with the runner's seeds.
TEST_F(EvalModelTest, RetrievalCellsCountTheirOutputs) {
  EvalOptions o;
  o.tasks = {"retrieval"};
  o.policies = {"window"};
  o.budgets = {"40"};
  o.base.window = 16;
  o.retrieval_tasks = {"passkey", "needle"};
  o.depths = {0.0, 0.5};
  o.retrieval_samples = 2;
  o.retrieval_ctx = 220;
  o.seed = 3;
  o.prefill_chunk = 64;
  const EvalReport r = RunEval(*model_, *tokenizer_, *tokens_, {}, o, pool_);
  ASSERT_FALSE(r.results.empty());
  for (const PolicyResult& res : r.results) {
    ASSERT_EQ(res.retrieval.size(), 4u) << res.config.label;
    int n = 0, correct = 0;
    for (size_t c = 0; c < res.retrieval.size(); ++c) {
      const RetrievalCell& cell = res.retrieval[c];
      EXPECT_EQ(cell.task, o.retrieval_tasks[c / 2]);
      EXPECT_EQ(cell.depth, o.depths[c % 2]);
      ASSERT_EQ(cell.n, 2);
      ASSERT_EQ(cell.outputs.size(), 2u);
      int matches = 0;
      for (int k = 0; k < 2; ++k) {
        RetrievalSpec spec;
        spec.kind = ParseRetrievalKind(cell.task);
        spec.context_tokens = o.retrieval_ctx;
        spec.depth = cell.depth;
        spec.seed = o.seed * 1000003ull + static_cast<uint64_t>(k);
        spec.n_keys = o.n_keys;
        const RetrievalSample sample = GenerateRetrieval(*tokenizer_, spec, {}, Bos());
        matches += ExactMatch(cell.outputs[k], sample.answer);
        // The output is the greedy continuation of that very prompt.
        auto session = MakeSession(res.config.cache, o.prefill_chunk);
        const std::vector<int32_t> ids = GreedyGenerate(
            *session, sample.prompt,
            static_cast<int>(tokenizer_->Encode(" " + sample.answer, false, false).size()) + 4,
            tokenizer_);
        EXPECT_EQ(tokenizer_->Decode(ids), cell.outputs[k]) << res.config.label << " cell " << c;
      }
      EXPECT_EQ(cell.correct, matches) << res.config.label << " cell " << c;
      n += cell.n;
      correct += cell.correct;
    }
    EXPECT_EQ(res.RetrievalAccuracy(), static_cast<double>(correct) / n);
  }
}

TEST_F(EvalModelTest, JsonReportHoldsEveryConfigurationField) {
  EvalOptions o;
  o.tasks = {"ppl", "kld", "retrieval", "agree"};
  o.policies = {"window", "arkv"};
  o.budgets = {"40", "24KiB"};
  o.base.gamma = 100.0;
  o.base.window = 16;
  o.n_ctx = 96;
  o.windows = 1;
  o.seed = 42;
  o.retrieval_tasks = {"passkey"};
  o.retrieval_ctx = 200;
  o.depths = {0.5};
  o.retrieval_samples = 1;
  o.agree_prompts = 1;
  o.agree_tokens = 8;
  o.prefill_chunk = 64;
  const EvalReport r = RunEval(*model_, *tokenizer_, *tokens_, {}, o, pool_);
  ASSERT_EQ(r.results.size(), 5u);  // full (reference) + 2 policies x 2 budgets
  EXPECT_EQ(r.reference, 0);
  const RunInfo info{"m.gguf", "abc123", "t.txt", "arkv eval ...", "arkv 0.1.0"};
  const nlohmann::json j = nlohmann::json::parse(EvalReportJson(r, *model_, info));
  EXPECT_EQ(j.at("model").at("sha256"), "abc123");
  EXPECT_EQ(j.at("model").at("path"), "m.gguf");
  EXPECT_EQ(j.at("model").at("n_layers"), model_->config().n_layers);
  const nlohmann::json& c = j.at("config");
  EXPECT_EQ(c.at("seed"), 42);
  EXPECT_EQ(c.at("n_ctx"), 96);
  EXPECT_EQ(c.at("prefix"), 49);
  EXPECT_EQ(c.at("windows"), 1);
  EXPECT_EQ(c.at("ppl_rule"), "decode");
  EXPECT_EQ(c.at("prefill_chunk"), 64);
  EXPECT_EQ(c.at("text"), "t.txt");
  EXPECT_EQ(c.at("tasks").size(), 4u);
  EXPECT_EQ(c.at("budgets"), nlohmann::json({"40", "24KiB"}));
  EXPECT_EQ(c.at("retrieval_depths"), nlohmann::json({0.5}));
  ASSERT_EQ(c.at("configs").size(), 5u);
  const char* fields[] = {"policy", "budget", "window",        "sinks",       "tau1",     "tau2",
                          "tau3",   "gamma",  "keep_fraction", "pool_kernel", "original", "quant"};
  for (const nlohmann::json& cfg : c.at("configs")) {
    for (const char* f : fields) EXPECT_TRUE(cfg.at("cache").contains(f)) << f;
    EXPECT_EQ(cfg.at("cache").at("gamma"), 100.0);
    EXPECT_EQ(cfg.at("cache").at("window"), 16);
  }
  EXPECT_EQ(c.at("configs")[3].at("label"), "arkv@40");
  EXPECT_EQ(c.at("configs")[3].at("cache").at("budget").at("unit"), "tokens");
  EXPECT_EQ(c.at("configs")[4].at("cache").at("budget").at("value"), 24 * 1024);
  EXPECT_EQ(c.at("configs")[4].at("cache").at("budget").at("unit"), "bytes");
  const nlohmann::json& res = j.at("results");
  ASSERT_EQ(res.size(), 5u);
  for (const nlohmann::json& e : res) {
    EXPECT_GT(e.at("decode").at("ppl").get<double>(), 1.0);
    EXPECT_EQ(e.at("decode").at("n_scored"), 96 - 49);
    EXPECT_GT(e.at("decode").at("kv_bytes_mean").get<double>(), 0.0);
    EXPECT_EQ(e.at("retrieval").at("cells").size(), 1u);
    EXPECT_EQ(e.at("agree").at("prefixes").size(), 1u);
  }
  EXPECT_EQ(res[0].at("decode").at("kl").at("max"), 0.0);
  EXPECT_EQ(res[0].at("agree").at("exact_rate"), 1.0);
  // 24 KiB must be respected at the end of every window.
  EXPECT_LE(res[4].at("decode").at("kv_bytes_max").get<int64_t>(), 24 * 1024);
}

TEST_F(EvalModelTest, BenchMeasuresEveryContextAndConfiguration) {
  BenchOptions o;
  o.contexts = {24, 80};
  o.policies = {"full", "arkv"};
  o.budgets = {"40"};
  o.decode_tokens = 3;
  o.repetitions = 2;
  const BenchReport r = RunBench(*model_, o, pool_);
  ASSERT_EQ(r.points.size(), 4u);
  const kv::CacheShape shape = model_->cache_shape();
  // f16 K and V per token, layer and KV head.
  const int64_t token_bytes = int64_t{2} * shape.head_dim * 2 * shape.n_layers * shape.n_kv_heads;
  for (const BenchPoint& p : r.points) {
    EXPECT_EQ(p.prefill_tps.size(), 2u);
    EXPECT_EQ(p.decode_tps.size(), 2u);
    EXPECT_GT(p.decode.median, 0.0);
    EXPECT_LE(p.decode.min, p.decode.median);
    EXPECT_GE(p.decode.max, p.decode.median);
    EXPECT_GT(p.peak_rss_bytes, 0);
    EXPECT_GE(p.kv_peak_bytes, p.kv_bytes);
  }
  EXPECT_EQ(r.points[0].label, "full");
  EXPECT_EQ(r.points[0].kv_bytes, (24 + 3) * token_bytes);
  EXPECT_EQ(r.points[2].kv_bytes, (80 + 3) * token_bytes);
  EXPECT_EQ(r.points[3].label, "arkv@40");
  EXPECT_LE(r.points[3].kv_bytes, 40 * token_bytes);
  const nlohmann::json j =
      nlohmann::json::parse(BenchReportJson(r, *model_, "m.gguf", "abc", "arkv bench"));
  EXPECT_EQ(j.at("config").at("contexts"), nlohmann::json({24, 80}));
  EXPECT_EQ(j.at("config").at("repetitions"), 2);
  EXPECT_EQ(j.at("model").at("sha256"), "abc");
  ASSERT_EQ(j.at("points").size(), 4u);
  EXPECT_EQ(j.at("points")[3].at("cache").at("budget").at("value"), 40);
  EXPECT_EQ(j.at("points")[3].at("decode_tokens_per_s").at("samples").size(), 2u);
  o.repetitions = 0;
  EXPECT_THROW(RunBench(*model_, o, pool_), Error);
}

TEST_F(EvalModelTest, OptionsRejectBadInput) {
  EvalOptions o;
  o.tasks = {"ppl", "bogus"};
  EXPECT_THROW(o.Validate(), Error);
  o.tasks = {"ppl"};
  o.prefix = 600;
  EXPECT_THROW(o.Validate(), Error);
  o.prefix = 0;
  o.policies = {"arkv"};
  o.budgets = {"12 parsecs"};
  EXPECT_THROW(ExpandConfigs(o), Error);
  o.budgets = {};
  EXPECT_THROW(ExpandConfigs(o), Error);
  o.policies = {"nope"};
  o.budgets = {"64"};
  EXPECT_THROW(ExpandConfigs(o), Error);
  EXPECT_THROW(ParsePplRule("batched"), Error);
  // A text shorter than one window.
  auto s = MakeSession(kv::CacheConfig{});
  Session* sessions[] = {s.get()};
  const std::vector<int32_t> few(tokens_->begin(), tokens_->begin() + 50);
  EXPECT_THROW(ScoreDecodeMode(sessions, -1, few, {96, 0, 1, Bos()}), Error);
}

}  // namespace
}  // namespace arkv::eval
