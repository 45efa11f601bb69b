// Perplexity with llama-perplexity's rule against the golden values
// (../shared/golden/real/*/ppl_c*.json), to 0.1%.
#include "eval/perplexity.h"

#include <cmath>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace arkv {
namespace {

std::string Shared(const std::string& rel) { return std::string(ARKV_SHARED_DIR) + "/" + rel; }

TEST(TokenNll, MatchesHandComputedLogSoftmax) {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(TokenNll(logits, 0), lse - 1.0, 1e-12);
  EXPECT_NEAR(TokenNll(logits, 2), lse - 3.0, 1e-12);
  EXPECT_THROW(TokenNll(logits, 3), Error);
}

struct PplCase {
  std::string name, model, text, golden;
  int n_ctx;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const PplCase& c, std::ostream* os) { *os << c.name; }

class PerplexityGolden : public ::testing::TestWithParam<PplCase> {};

TEST_P(PerplexityGolden, MatchesLlamaPerplexity) {
  const PplCase& c = GetParam();
  for (const std::string& f : {c.model, c.text, c.golden}) {
    if (!std::ifstream(Shared(f))) GTEST_SKIP() << "shared data absent: " << Shared(f);
  }
  std::ifstream js(Shared(c.golden));
  const nlohmann::json golden = nlohmann::json::parse(js);
  const double expected = golden.at("final_ppl").get<double>();
  const int chunks = 40;  // every golden run used --chunks 40

  auto model = Model::Load(Shared(c.model));
  auto tokenizer = Tokenizer::FromGguf(model->file());
  std::ifstream in(Shared(c.text), std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<int32_t> tokens = tokenizer->Encode(text, true, false);
  ThreadPool pool(2);
  Session session(*model, kv::CreateSequenceCache(model->cache_shape(), kv::CacheConfig{}), pool,
                  c.n_ctx);
  const PerplexityResult r = ChunkedPerplexity(session, tokens, c.n_ctx, chunks,
                                               tokenizer->add_bos() ? tokenizer->bos_id() : -1);
  EXPECT_EQ(r.n_chunks, chunks);
  EXPECT_EQ(r.n_scored, int64_t{chunks} * (c.n_ctx - 1 - c.n_ctx / 2));
  EXPECT_NEAR(r.ppl, expected, 1e-3 * expected) << c.name;
  std::printf("[ ppl ] %s -c %d: arkv %.4f, llama.cpp %.4f (%.3f%%)\n", c.name.c_str(), c.n_ctx,
              r.ppl, expected, 100.0 * (r.ppl / expected - 1.0));
}

INSTANTIATE_TEST_SUITE_P(
    Golden, PerplexityGolden,
    ::testing::Values(
        PplCase{"stories260K_c512", "models/stories260K.gguf", "text/tinystories_val.txt",
                "golden/real/stories260K/ppl_c512.json", 512},
        PplCase{"stories260K_c128", "models/stories260K.gguf", "text/tinystories_val.txt",
                "golden/real/stories260K/ppl_c128.json", 128},
        PplCase{"TinyStories656K_f16_c512", "models/TinyStories-656K/TinyStories-656K.f16.gguf",
                "golden/text/tinystories_val_filtered_for_656K.txt",
                "golden/real/TinyStories-656K.f16/ppl_c512.json", 512},
        PplCase{"TinyStories656K_q8_0_c512", "models/TinyStories-656K/tinystories-656k-q8_0.gguf",
                "golden/text/tinystories_val_filtered_for_656K.txt",
                "golden/real/tinystories-656k-q8_0/ppl_c512.json", 512}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace arkv
