// Real llama.cpp files: the synthetic llama3 model in Q8_0 holds weights whose
// Q8_0 values are exact, and its Q4_0 / Q4_K_M variants were made from the
// same F32 weights by llama-quantize (../shared/golden/README.md, section 5).
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "reference.h"
#include "tensor/kernels.h"

namespace arkv {
namespace {

std::string SynthPath(const std::string& file) {
  return std::string(ARKV_SHARED_DIR) + "/golden/synth/" + file;
}

class GoldenSynth : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(SynthPath("synth-llama3.q8_0.gguf"))) {
      GTEST_SKIP() << "shared golden data not found at " << SynthPath("");
    }
    exact_ = gguf::GgufFile::Open(SynthPath("synth-llama3.q8_0.gguf"));
  }

  // The exact F32 weights of tensor `name`, all rows.
  std::vector<float> Exact(const std::string& name) const {
    const gguf::TensorInfo* t = exact_->FindTensor(name);
    EXPECT_NE(t, nullptr) << name;
    if (t == nullptr) return {};
    EXPECT_EQ(t->type, GgmlType::kQ8_0) << name;
    std::vector<float> out(t->n_elements());
    const size_t row_bytes = RowBytes(t->type, t->ne[0]);
    for (int64_t r = 0; r < t->n_rows(); ++r) {
      DequantizeRow(t->type, t->data + r * row_bytes, out.data() + r * t->ne[0], t->ne[0]);
    }
    return out;
  }

  std::unique_ptr<gguf::GgufFile> exact_;
};

struct ErrorStats {
  double rel_rms = 0;
  int64_t n_tensors = 0;
};

// Relative RMS error of every `type` tensor of `file` against the exact
// weights; also checks our DequantizeRow against the independent reference.
ErrorStats FileError(const gguf::GgufFile& file, GgmlType type,
                     const std::function<std::vector<float>(const std::string&)>& exact) {
  double err = 0, ref = 0;
  ErrorStats stats;
  for (const gguf::TensorInfo& t : file.tensors()) {
    if (t.type != type) continue;
    ++stats.n_tensors;
    const std::vector<float> want = exact(t.name);
    const size_t row_bytes = RowBytes(t.type, t.ne[0]);
    std::vector<float> row(t.ne[0]);
    for (int64_t r = 0; r < t.n_rows(); ++r) {
      const uint8_t* enc = t.data + r * row_bytes;
      DequantizeRow(t.type, enc, row.data(), t.ne[0]);
      const std::vector<float> ref_row = testref::Dequantize(t.type, enc, t.ne[0]);
      EXPECT_EQ(std::memcmp(row.data(), ref_row.data(), row.size() * 4), 0) << t.name;
      for (int64_t c = 0; c < t.ne[0]; ++c) {
        const double e = row[c] - want[r * t.ne[0] + c];
        err += e * e;
        ref += static_cast<double>(want[r * t.ne[0] + c]) * want[r * t.ne[0] + c];
      }
    }
  }
  stats.rel_rms = std::sqrt(err / ref);
  return stats;
}

TEST_F(GoldenSynth, Q4_0FileWithinQuantizationErrorOfExactWeights) {
  const auto q4 = gguf::GgufFile::Open(SynthPath("synth-llama3.q4_0.gguf"));
  auto exact = [&](const std::string& n) { return Exact(n); };
  const ErrorStats q4_0 = FileError(*q4, GgmlType::kQ4_0, exact);
  const ErrorStats q6_k = FileError(*q4, GgmlType::kQ6_K, exact);
  EXPECT_EQ(q4_0.n_tensors, 29);
  EXPECT_EQ(q6_k.n_tensors, 1);
  // Measured: 0.1057 and 0.0205.
  EXPECT_LT(q4_0.rel_rms, 0.114);
  EXPECT_LT(q6_k.rel_rms, 0.022);
  EXPECT_GT(q4_0.rel_rms, 0.01) << "suspiciously exact: is this the Q8_0 data?";
}

TEST_F(GoldenSynth, Q4_KFileWithinQuantizationErrorOfExactWeights) {
  const auto q4k = gguf::GgufFile::Open(SynthPath("synth-llama3.q4_k_m.gguf"));
  auto exact = [&](const std::string& n) { return Exact(n); };
  const ErrorStats q4_k = FileError(*q4k, GgmlType::kQ4_K, exact);
  const ErrorStats q6_k = FileError(*q4k, GgmlType::kQ6_K, exact);
  EXPECT_EQ(q4_k.n_tensors, 25);
  EXPECT_EQ(q6_k.n_tensors, 5);
  // Measured: 0.0797 and 0.0205.
  EXPECT_LT(q4_k.rel_rms, 0.086);
  EXPECT_LT(q6_k.rel_rms, 0.022);
  EXPECT_GT(q4_k.rel_rms, 0.01);
}

TEST_F(GoldenSynth, OurQ4_0QuantizerReproducesLlamaQuantizeBytes) {
  // ggml's reference Q4_0 quantizer is deterministic per block; ours follows
  // it, so quantizing the exact F32 weights must give llama-quantize's bytes.
  const auto q4 = gguf::GgufFile::Open(SynthPath("synth-llama3.q4_0.gguf"));
  int64_t n_blocks = 0;
  for (const gguf::TensorInfo& t : q4->tensors()) {
    if (t.type != GgmlType::kQ4_0) continue;
    const std::vector<float> x = Exact(t.name);
    std::vector<uint8_t> ours(t.nbytes);
    const size_t row_bytes = RowBytes(t.type, t.ne[0]);
    for (int64_t r = 0; r < t.n_rows(); ++r) {
      QuantizeRow(t.type, x.data() + r * t.ne[0], ours.data() + r * row_bytes, t.ne[0]);
    }
    for (size_t b = 0; b < t.nbytes / 18; ++b, ++n_blocks) {
      ASSERT_EQ(std::memcmp(ours.data() + 18 * b, t.data + 18 * b, 18), 0)
          << t.name << " block " << b;
    }
  }
  EXPECT_GT(n_blocks, 30000);
}

TEST_F(GoldenSynth, OurQ8_0QuantizerReproducesLlamaQuantizeBytes) {
  // The Q8_0 file was made by llama-quantize from the F32 weights, which are
  // its own decoded values: requantizing them must give the same bytes.
  int64_t n_tensors = 0;
  for (const gguf::TensorInfo& t : exact_->tensors()) {
    if (t.type != GgmlType::kQ8_0) continue;
    ++n_tensors;
    const std::vector<float> x = Exact(t.name);
    std::vector<uint8_t> ours(t.nbytes);
    const size_t row_bytes = RowBytes(t.type, t.ne[0]);
    for (int64_t r = 0; r < t.n_rows(); ++r) {
      QuantizeRow(t.type, x.data() + r * t.ne[0], ours.data() + r * row_bytes, t.ne[0]);
    }
    ASSERT_EQ(std::memcmp(ours.data(), t.data, t.nbytes), 0) << t.name;
  }
  EXPECT_EQ(n_tensors, 30);
}

TEST_F(GoldenSynth, OurKQuantizersAreAsAccurateAsLlamaQuantize) {
  // Same exact weights, our Q4_K / Q6_K against llama-quantize's.
  const auto q4k = gguf::GgufFile::Open(SynthPath("synth-llama3.q4_k_m.gguf"));
  for (GgmlType type : {GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    double err_ours = 0, err_theirs = 0;
    for (const gguf::TensorInfo& t : q4k->tensors()) {
      if (t.type != type) continue;
      const std::vector<float> x = Exact(t.name);
      std::vector<uint8_t> enc(RowBytes(type, t.ne[0]));
      std::vector<float> back(t.ne[0]), theirs(t.ne[0]);
      for (int64_t r = 0; r < t.n_rows(); ++r) {
        const float* xr = x.data() + r * t.ne[0];
        QuantizeRow(type, xr, enc.data(), t.ne[0]);
        DequantizeRow(type, enc.data(), back.data(), t.ne[0]);
        DequantizeRow(type, t.data + r * enc.size(), theirs.data(), t.ne[0]);
        for (int64_t c = 0; c < t.ne[0]; ++c) {
          err_ours += (back[c] - xr[c]) * (back[c] - xr[c]);
          err_theirs += (theirs[c] - xr[c]) * (theirs[c] - xr[c]);
        }
      }
    }
    // Measured: 0.999 (q4_K) and 0.976 (q6_K).
    const double ratio = std::sqrt(err_ours / err_theirs);
    std::printf("%s rms error, ours / llama-quantize: %.3f\n",
                std::string(GetTypeTraits(type).name).c_str(), ratio);
    EXPECT_LT(ratio, 1.05) << GetTypeTraits(type).name;
  }
}

TEST_F(GoldenSynth, MatMulOnRealTensorsMatchesDoubleReference) {
  const auto q4k = gguf::GgufFile::Open(SynthPath("synth-llama3.q4_k_m.gguf"));
  ThreadPool pool(2);
  for (const char* name : {"blk.0.attn_q.weight", "blk.2.ffn_down.weight", "output.weight"}) {
    const gguf::TensorInfo& t = q4k->GetTensor(name);
    const int64_t cols = t.ne[0], rows = t.n_rows(), n_tokens = 5;
    const size_t row_bytes = RowBytes(t.type, cols);
    std::vector<float> x(cols * n_tokens), y(rows * n_tokens);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37 * static_cast<double>(i));
    MatMul(WeightView{t.type, t.data, cols, rows, row_bytes}, x.data(), cols, n_tokens, y.data(),
           rows, pool, MatMulPrecision::kFloat);
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<float> w = testref::Dequantize(t.type, t.data + r * row_bytes, cols);
      for (int64_t k = 0; k < n_tokens; ++k) {
        double ref = 0, mag = 0;
        for (int64_t c = 0; c < cols; ++c) {
          ref += static_cast<double>(w[c]) * x[k * cols + c];
          mag += std::fabs(static_cast<double>(w[c]) * x[k * cols + c]);
        }
        ASSERT_LE(std::fabs(y[k * rows + r] - ref), 1e-5 * mag) << name << " row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace arkv
