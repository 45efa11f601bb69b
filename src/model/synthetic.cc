#include "model/synthetic.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/strings.h"
#include "gguf/gguf.h"
#include "tensor/kernels.h"

namespace arkv {
namespace {

// splitmix64: fast, seedable, and good enough for random weights.
uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A rows x cols matrix of uniform values with standard deviation 1/sqrt(cols)
// (so activations keep their scale through the layers), encoded as `type`.
std::vector<uint8_t> RandomMatrix(GgmlType type, int64_t cols, int64_t rows, uint64_t seed,
                                  ThreadPool& pool) {
  const size_t row_bytes = RowBytes(type, cols);
  std::vector<uint8_t> out(row_bytes * rows);
  const float amplitude = static_cast<float>(std::sqrt(3.0 / cols));
  pool.ParallelFor(rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(cols);
    for (int64_t r = begin; r < end; ++r) {
      uint64_t state = seed * 0x100000001b3ull + static_cast<uint64_t>(r);
      for (int64_t c = 0; c < cols; ++c) {
        const double u = (SplitMix(state) >> 11) * 0x1.0p-53;  // [0, 1)
        row[c] = static_cast<float>((2.0 * u - 1.0) * amplitude);
      }
      QuantizeRow(type, row.data(), out.data() + r * row_bytes, cols);
    }
  });
  return out;
}

std::vector<uint8_t> NormVector(int64_t n, uint64_t seed) {
  std::vector<float> v(n);
  uint64_t state = seed;
  for (auto& x : v) x = 1.0f + 0.1f * static_cast<float>((SplitMix(state) >> 11) * 0x1.0p-53 - 0.5);
  std::vector<uint8_t> bytes(n * sizeof(float));
  std::memcpy(bytes.data(), v.data(), bytes.size());
  return bytes;
}

// GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest
// to code points from U+0100 up, in byte order.
std::string ByteToken(int b) {
  const bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
  int cp = b;
  if (!printable) {
    int n = 0;
    for (int i = 0; i < b; ++i) {
      if (!((i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || (i >= 0xae))) ++n;
    }
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

}  // namespace

void SyntheticModelSpec::Validate() const {
  if (arch != "llama" && arch != "qwen2" && arch != "qwen3") {
    Fail("make-model: unsupported arch '{}' (llama, qwen2, qwen3)", arch);
  }
  if (n_layers < 1 || n_layers > 1024) Fail("make-model: layers must be in 1..1024");
  if (n_heads < 1 || n_kv_heads < 1 || n_heads % n_kv_heads != 0) {
    Fail("make-model: heads ({}) must be a positive multiple of kv-heads ({})", n_heads, n_kv_heads);
  }
  const int hd = head_dim > 0 ? head_dim : (n_embd % n_heads == 0 ? n_embd / n_heads : 0);
  if (hd <= 0 || hd % 2 != 0) Fail("make-model: head dim must be a positive even number");
  const int64_t block = GetTypeTraits(type).block_size;
  for (int64_t cols : {int64_t{n_embd}, int64_t{n_ff}, int64_t{n_heads} * hd}) {
    if (cols <= 0 || cols % block != 0) {
      Fail("make-model: dimension {} is not a multiple of the {} block size {}", cols,
           GetTypeTraits(type).name, block);
    }
  }
  if (n_vocab < 258) Fail("make-model: vocab must be >= 258 (256 bytes + BOS + EOS)");
  if (n_ctx < 1) Fail("make-model: context must be >= 1");
}

int64_t SyntheticModelSpec::n_params() const {
  const int64_t hd = head_dim > 0 ? head_dim : n_embd / n_heads;
  const int64_t q = n_heads * hd, kv = n_kv_heads * hd;
  const int64_t per_layer = int64_t{n_embd} * (2 * q + 2 * kv) + 3 * int64_t{n_embd} * n_ff + 2 * n_embd;
  return n_layers * per_layer + int64_t{n_vocab} * n_embd * (tied_output ? 1 : 2) + n_embd;
}

SyntheticModelSpec SyntheticPreset(const std::string& name) {
  SyntheticModelSpec s;
  if (name == "tiny") return s;
  if (name == "1b") {
    s.n_layers = 16;
    s.n_embd = 2048;
    s.n_ff = 8192;
    s.n_heads = 32;
    s.n_kv_heads = 8;
    s.n_vocab = 32000;
    s.n_ctx = 131072;
    return s;
  }
  Fail("unknown model preset '{}' (tiny, 1b)", name);
}

GgmlType ParseWeightType(const std::string& name) {
  const std::string lower = ToLower(name);
  for (uint32_t id = 0; id < 64; ++id) {
    const TypeTraits t = GetTypeTraits(id);
    if (!t.known) continue;
    if (ToLower(t.name) == lower) {
      if (!t.supported) Fail("weight type {} is not supported (f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k)", name);
      return static_cast<GgmlType>(id);
    }
  }
  Fail("unknown weight type '{}' (f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k)", name);
}

void WriteSyntheticModel(const SyntheticModelSpec& s, const std::string& path, ThreadPool& pool) {
  s.Validate();
  const int hd = s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_heads;
  const std::string a = s.arch + ".";
  gguf::GgufWriter w;
  w.AddString("general.architecture", s.arch);
  w.AddString("general.name", fmt::format("arkv-synthetic-{}-{}L-{}", s.arch, s.n_layers, s.n_embd));
  w.AddString("general.description",
              "arkv make-model: RANDOM WEIGHTS for tests and benchmarks; its text is meaningless");
  if (const auto file_type = LlamaFileType(s.type)) w.AddUint32("general.file_type", *file_type);
  w.AddUint32(a + "block_count", s.n_layers);
  w.AddUint32(a + "context_length", s.n_ctx);
  w.AddUint32(a + "embedding_length", s.n_embd);
  w.AddUint32(a + "feed_forward_length", s.n_ff);
  w.AddUint32(a + "attention.head_count", s.n_heads);
  w.AddUint32(a + "attention.head_count_kv", s.n_kv_heads);
  w.AddUint32(a + "attention.key_length", hd);
  w.AddUint32(a + "attention.value_length", hd);
  const bool qwen = s.arch != "llama";
  w.AddFloat32(a + "attention.layer_norm_rms_epsilon", qwen ? 1e-6f : 1e-5f);
  w.AddFloat32(a + "rope.freq_base", qwen ? 1000000.0f : 500000.0f);
  w.AddUint32(a + "rope.dimension_count", hd);

  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(ByteToken(b));
    types.push_back(1);  // NORMAL
  }
  tokens.push_back("<|begin_of_text|>");
  tokens.push_back("<|end_of_text|>");
  types.push_back(3);  // CONTROL
  types.push_back(3);
  for (int i = 258; i < s.n_vocab; ++i) {
    tokens.push_back(fmt::format("<|unused_{}|>", i - 258));
    types.push_back(5);  // UNUSED
  }
  w.AddString("tokenizer.ggml.model", "gpt2");
  w.AddString("tokenizer.ggml.pre", qwen ? "qwen2" : "llama-bpe");
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  w.AddInt32Array("tokenizer.ggml.token_type", types);
  w.AddStringArray("tokenizer.ggml.merges", {});
  w.AddUint32("tokenizer.ggml.bos_token_id", 256);
  w.AddUint32("tokenizer.ggml.eos_token_id", 257);
  w.AddBool("tokenizer.ggml.add_bos_token", s.arch == "llama");

  uint64_t seed = s.seed;
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows) {
    w.AddTensor(name, s.type, {cols, rows}, RandomMatrix(s.type, cols, rows, ++seed, pool));
  };
  auto norm = [&](const std::string& name, int64_t n) {
    w.AddTensor(name, GgmlType::kF32, {n}, NormVector(n, ++seed));
  };
  auto bias = [&](const std::string& name, int64_t n) {
    std::vector<uint8_t> bytes = NormVector(n, ++seed);
    float* v = reinterpret_cast<float*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) v[i] = (v[i] - 1.0f) * 2.0f;  // about +-0.1
    w.AddTensor(name, GgmlType::kF32, {n}, std::move(bytes));
  };
  matrix("token_embd.weight", s.n_embd, s.n_vocab);
  norm("output_norm.weight", s.n_embd);
  if (!s.tied_output) matrix("output.weight", s.n_embd, s.n_vocab);
  const int64_t q = int64_t{s.n_heads} * hd, kv = int64_t{s.n_kv_heads} * hd;
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight", s.n_embd);
    matrix(p + "attn_q.weight", s.n_embd, q);
    matrix(p + "attn_k.weight", s.n_embd, kv);
    matrix(p + "attn_v.weight", s.n_embd, kv);
    matrix(p + "attn_output.weight", q, s.n_embd);
    if (s.arch == "qwen3") {
      norm(p + "attn_q_norm.weight", hd);
      norm(p + "attn_k_norm.weight", hd);
    }
    if (s.arch == "qwen2") {
      bias(p + "attn_q.bias", q);
      bias(p + "attn_k.bias", kv);
      bias(p + "attn_v.bias", kv);
    }
    norm(p + "ffn_norm.weight", s.n_embd);
    matrix(p + "ffn_gate.weight", s.n_embd, s.n_ff);
    matrix(p + "ffn_up.weight", s.n_embd, s.n_ff);
    matrix(p + "ffn_down.weight", s.n_ff, s.n_embd);
  }
  w.Write(path);
}

}  // namespace arkv
