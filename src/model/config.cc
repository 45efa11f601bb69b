#include "model/config.h"

#include <string>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/architectures.h"

namespace arkv {
namespace {

int PositiveInt(const gguf::GgufFile& f, const std::string& key, int64_t def, int64_t max) {
  const int64_t v = def < 0 ? f.RequireInt(key) : f.GetInt(key, def);
  if (v <= 0 || v > max) Fail("metadata {} = {} is out of range (1..{})", key, v, max);
  return static_cast<int>(v);
}

}  // namespace

ModelConfig ReadModelConfig(const gguf::GgufFile& f) {
  ModelConfig c;
  c.arch = f.RequireString("general.architecture");
  const Architecture* traits = FindArchitecture(c.arch);
  if (traits == nullptr) {
    Fail("unsupported model architecture '{}' (supported: {})", c.arch, ArchitectureNames());
  }
  c.name = f.GetString("general.name", "");
  const std::string p = c.arch + ".";
  c.n_layers = PositiveInt(f, p + "block_count", -1, 4096);
  c.n_embd = PositiveInt(f, p + "embedding_length", -1, 1 << 20);
  c.n_ff = PositiveInt(f, p + "feed_forward_length", -1, 1 << 22);
  c.n_heads = PositiveInt(f, p + "attention.head_count", -1, 4096);
  c.n_kv_heads = PositiveInt(f, p + "attention.head_count_kv", c.n_heads, 4096);
  if (c.n_heads % c.n_kv_heads != 0) {
    Fail("attention.head_count {} is not a multiple of attention.head_count_kv {}", c.n_heads,
         c.n_kv_heads);
  }
  const int default_head_dim = c.n_embd % c.n_heads == 0 ? c.n_embd / c.n_heads : 0;
  c.head_dim = PositiveInt(f, p + "attention.key_length",
                           default_head_dim > 0 ? default_head_dim : -1, 1 << 14);
  const int value_dim = PositiveInt(f, p + "attention.value_length", c.head_dim, 1 << 14);
  if (value_dim != c.head_dim) {
    Fail("attention.value_length {} != key_length {} is not supported", value_dim, c.head_dim);
  }
  c.n_ctx_train = PositiveInt(f, p + "context_length", 2048, int64_t{1} << 30);
  c.rms_eps = static_cast<float>(f.GetFloat(p + "attention.layer_norm_rms_epsilon", 1e-5));
  if (!(c.rms_eps > 0.0f) || c.rms_eps > 1.0f) {
    Fail("attention.layer_norm_rms_epsilon {} is out of range", c.rms_eps);
  }
  c.rope_freq_base = static_cast<float>(f.GetFloat(p + "rope.freq_base", 10000.0));
  if (!(c.rope_freq_base > 1.0f)) Fail("rope.freq_base {} must be > 1", c.rope_freq_base);
  c.n_rot = PositiveInt(f, p + "rope.dimension_count", c.head_dim, c.head_dim);
  if (c.n_rot % 2 != 0) Fail("rope.dimension_count {} must be even", c.n_rot);
  const std::string scaling = f.GetString(p + "rope.scaling.type", "none");
  if (scaling == "linear") {
    const double factor = f.GetFloat(p + "rope.scaling.factor", 1.0);
    if (!(factor > 0.0)) Fail("rope.scaling.factor {} must be > 0", factor);
    c.rope_freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none") {
    Fail("unsupported rope.scaling.type '{}' (supported: none, linear)", scaling);
  }
  c.rope_style = traits->rope_style;
  c.qk_norm = traits->qk_norm;
  c.qkv_bias = traits->qkv_bias;
  // Vocabulary size: the tokenizer's token list when present, else the
  // embedding matrix (checked against each other when weights are bound).
  if (const gguf::Value* tokens = f.Find("tokenizer.ggml.tokens")) {
    c.n_vocab = static_cast<int>(tokens->AsArray("tokenizer.ggml.tokens").items.size());
  } else {
    c.n_vocab = static_cast<int>(f.GetTensor("token_embd.weight").ne[1]);
  }
  if (c.n_vocab <= 0) Fail("model has an empty vocabulary");
  return c;
}

}  // namespace arkv
