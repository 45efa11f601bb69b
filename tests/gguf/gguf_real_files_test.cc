// The real models in ../shared parse with the facts stated in
// shared/golden/README.md (written from llama.cpp's view of the same files).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "gguf/gguf.h"

namespace arkv::gguf {
namespace {

std::string SharedPath(const std::string& rel) { return std::string(ARKV_SHARED_DIR) + "/" + rel; }

#define SKIP_IF_ABSENT(path) \
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared file absent: " << (path)

TEST(GgufRealFiles, Stories260K) {
  const std::string path = SharedPath("models/stories260K.gguf");
  SKIP_IF_ABSENT(path);
  const auto f = GgufFile::Open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->file_size(), 1185376u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->RequireString("general.architecture"), "llama");
  EXPECT_EQ(f->RequireInt("llama.block_count"), 5);
  EXPECT_EQ(f->RequireInt("llama.embedding_length"), 64);
  EXPECT_EQ(f->RequireInt("llama.attention.head_count"), 8);
  EXPECT_EQ(f->RequireInt("llama.attention.head_count_kv"), 4);

  const Value* tokens = f->Find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  const Array& arr = tokens->AsArray("tokenizer.ggml.tokens");
  EXPECT_EQ(arr.elem_type, ValueType::kString);
  ASSERT_EQ(arr.items.size(), 512u);
  EXPECT_EQ(arr.items[0].type, ValueType::kString);

  // 5 layers x 9 tensors + token_embd, output_norm, output.
  EXPECT_EQ(f->tensors().size(), 48u);
  for (const TensorInfo& t : f->tensors()) {
    EXPECT_EQ(t.type, GgmlType::kF32) << t.name;
    EXPECT_EQ(t.nbytes, static_cast<size_t>(t.n_elements()) * 4) << t.name;
    EXPECT_GE(t.data, f->tensors().front().data);
    EXPECT_LE(t.data + t.nbytes, f->tensors().front().data + f->file_size());
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
  }
  const TensorInfo& embd = f->GetTensor("token_embd.weight");
  EXPECT_EQ(embd.n_dims, 2);
  EXPECT_EQ(embd.ne[0], 64);
  EXPECT_EQ(embd.ne[1], 512);
  const TensorInfo& wk = f->GetTensor("blk.4.attn_k.weight");
  EXPECT_EQ(wk.ne[0], 64);
  EXPECT_EQ(wk.ne[1], 4 * 8);  // KV heads x head dim
  EXPECT_EQ(f->FindTensor("blk.5.attn_k.weight"), nullptr);
  EXPECT_THROW(f->GetTensor("blk.5.attn_k.weight"), Error);
}

TEST(GgufRealFiles, TinyStories656KF16) {
  const std::string path = SharedPath("models/TinyStories-656K/TinyStories-656K.f16.gguf");
  SKIP_IF_ABSENT(path);
  const auto f = GgufFile::Open(path);
  EXPECT_EQ(f->RequireString("general.architecture"), "llama");
  EXPECT_EQ(f->RequireInt("llama.block_count"), 2);
  EXPECT_EQ(f->RequireInt("llama.embedding_length"), 128);
  EXPECT_EQ(f->Find("tokenizer.ggml.tokens")->AsArray("tokens").items.size(), 2048u);
  // Tied embeddings: no separate output matrix.
  EXPECT_EQ(f->FindTensor("output.weight"), nullptr);
  int n_f16 = 0;
  for (const TensorInfo& t : f->tensors()) {
    if (t.name.find("norm") != std::string::npos) {
      EXPECT_EQ(t.type, GgmlType::kF32) << t.name;
      EXPECT_EQ(t.n_dims, 1) << t.name;
    } else {
      EXPECT_EQ(t.type, GgmlType::kF16) << t.name;
      EXPECT_EQ(t.nbytes, static_cast<size_t>(t.n_elements()) * 2) << t.name;
      ++n_f16;
    }
  }
  EXPECT_EQ(n_f16, 1 + 2 * 7);  // token_embd + per layer q, k, v, o, gate, up, down
  EXPECT_EQ(f->GetTensor("token_embd.weight").ne[1], 2048);
}

TEST(GgufRealFiles, TinyStories656KQ8) {
  const std::string path = SharedPath("models/TinyStories-656K/tinystories-656k-q8_0.gguf");
  SKIP_IF_ABSENT(path);
  const auto f = GgufFile::Open(path);
  EXPECT_EQ(f->RequireInt("llama.block_count"), 2);
  const TensorInfo& wq = f->GetTensor("blk.0.attn_q.weight");
  EXPECT_EQ(wq.type, GgmlType::kQ8_0);
  EXPECT_EQ(wq.ne[0], 128);
  EXPECT_EQ(wq.ne[1], 128);
  // Q8_0: 32 elements per 34-byte block (fp16 scale + 32 int8).
  EXPECT_EQ(wq.nbytes, 128u * 128u / 32u * 34u);
}

TEST(GgufRealFiles, OpenErrors) {
  EXPECT_THROW(GgufFile::Open("/nonexistent/model.gguf"), Error);
  EXPECT_THROW(GgufFile::Open("/"), Error);  // a directory
  try {
    GgufFile::Open("/nonexistent/model.gguf");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
  }
}

}  // namespace
}  // namespace arkv::gguf
