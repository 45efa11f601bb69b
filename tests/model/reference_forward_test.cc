// arkv's forward pass against a plain double-precision implementation written
// from the architecture descriptions (reference_model.h), on small synthetic models of every
// supported architecture (llama: NORM RoPE; qwen2: q/k/v biases, NEOX RoPE;
// qwen3: per-head q/k RMSNorm, NEOX RoPE). Weights are F32 so both sides see
// the same values; with an f32 KV cache only float rounding separates them.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"
#include "common/compare.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "reference_model.h"
#include "runtime/session.h"

namespace arkv {
namespace {

using testing::Reference;

class ReferenceForward : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceForward, LogitsMatchDoublePrecision) {
  SyntheticModelSpec spec;
  spec.arch = GetParam();
  spec.n_layers = 2;
  spec.n_embd = 64;
  spec.n_ff = 96;
  spec.n_heads = 4;
  spec.n_kv_heads = 2;
  spec.head_dim = spec.arch == "qwen3" ? 32 : 0;  // qwen3: explicit head dim != embd / heads
  spec.n_vocab = 300;
  spec.tied_output = spec.arch == "qwen3";
  spec.seed = 11;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("arkv_ref_" + spec.arch + std::to_string(::getpid()) + ".gguf")).string();
  ThreadPool pool(2);
  WriteSyntheticModel(spec, path, pool);
  auto model = Model::Load(path);
  const std::vector<int32_t> tokens = {256, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 33, 10, 299, 0};
  kv::CacheConfig cfg;
  cfg.original = kv::OriginalType::kF32;
  Session s(*model, kv::CreateSequenceCache(model->cache_shape(), cfg), pool, 5);
  // Two batches (the second against a non-empty cache), then one token at a
  // time: every path of the session.
  std::vector<float> ours;
  for (auto [begin, end] : {std::pair{0, 7}, std::pair{7, 12}}) {
    const std::span<const float> l =
        s.EvaluateAll(std::span<const int32_t>(tokens).subspan(begin, end - begin));
    ours.insert(ours.end(), l.begin(), l.end());
  }
  for (size_t i = 12; i < tokens.size(); ++i) {
    const std::span<const float> l = s.Decode(tokens[i]);
    ours.insert(ours.end(), l.begin(), l.end());
  }
  const std::vector<double> ref = Reference(model->file()).Forward(tokens);
  ASSERT_EQ(ours.size(), ref.size());
  testing::MaxAbsDiff diff, magnitude;
  diff.AddAll(ours.data(), ref.data(), ref.size());
  for (double r : ref) magnitude.Add(r, 0.0);
  EXPECT_GT(magnitude.value(), 0.1);  // the comparison is not vacuous
  EXPECT_TRUE(diff.Within(1e-4 * std::max(1.0, magnitude.value()))) << spec.arch;
  std::printf("[ ref64 ] %s: max |diff| %.3g (max |logit| %.3g)\n", spec.arch.c_str(), diff.value(),
              magnitude.value());
  model.reset();
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Archs, ReferenceForward, ::testing::Values("llama", "qwen2", "qwen3"));

}  // namespace
}  // namespace arkv
