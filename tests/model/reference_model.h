// A plain double-precision forward pass written from the architecture
// descriptions (llama: NORM RoPE; qwen2: q/k/v biases, NEOX RoPE; qwen3:
// per-head q/k RMSNorm, NEOX RoPE), independent of arkv's kernels. Weights are
// dequantized exactly, so it is the float64 truth for any weight type.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/kernels.h"

namespace arkv::testing {

using Mat = std::vector<double>;  // row-major [rows][cols]

class Reference {
 public:
  explicit Reference(const gguf::GgufFile& f) : f_(f) {
    arch_ = f.RequireString("general.architecture");
    const std::string a = arch_ + ".";
    n_layers_ = f.RequireInt(a + "block_count");
    n_embd_ = f.RequireInt(a + "embedding_length");
    n_heads_ = f.RequireInt(a + "attention.head_count");
    n_kv_ = f.RequireInt(a + "attention.head_count_kv");
    hd_ = f.GetInt(a + "attention.key_length", n_embd_ / n_heads_);
    eps_ = f.GetFloat(a + "attention.layer_norm_rms_epsilon", 1e-5);
    base_ = f.GetFloat(a + "rope.freq_base", 10000.0);
    neox_ = arch_ != "llama";
    // Llama 3.1 scaling: frequency i divided by rope_freqs[i].
    if (Has("rope_freqs.weight")) rope_div_ = Load("rope_freqs.weight");
    rope_div_.resize(hd_ / 2, 1.0);
    if (f.GetInt(a + "rope.dimension_count", hd_) != hd_ ||
        f.GetString(a + "rope.scaling.type", "none") != "none") {
      throw std::runtime_error("reference: partial or scaled RoPE is not modelled");
    }
  }

  Mat Load(const std::string& name, int64_t* rows = nullptr, int64_t* cols = nullptr) const {
    const gguf::TensorInfo& t = f_.GetTensor(name);
    std::vector<float> row(t.ne[0]);
    Mat m;
    const size_t rb = RowBytes(t.type, t.ne[0]);
    for (int64_t r = 0; r < t.n_rows(); ++r) {
      DequantizeRow(t.type, t.data + r * rb, row.data(), t.ne[0]);
      m.insert(m.end(), row.begin(), row.end());
    }
    if (rows) *rows = t.n_rows();
    if (cols) *cols = t.ne[0];
    return m;
  }
  bool Has(const std::string& name) const { return f_.FindTensor(name) != nullptr; }

  static std::vector<double> MatVec(const Mat& w, int64_t rows, int64_t cols,
                                    const std::vector<double>& x) {
    std::vector<double> y(rows, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) y[r] += w[r * cols + c] * x[c];
    }
    return y;
  }
  std::vector<double> Norm(const std::vector<double>& x, const Mat& w, size_t off, size_t n) const {
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += x[off + i] * x[off + i];
    const double s = 1.0 / std::sqrt(ss / n + eps_);
    std::vector<double> y(n);
    for (size_t i = 0; i < n; ++i) y[i] = x[off + i] * s * w[i];
    return y;
  }
  void Rope(double* v, int pos) const {
    const int half = hd_ / 2;
    for (int i = 0; i < half; ++i) {
      const double theta = pos * std::pow(base_, -2.0 * i / hd_) / rope_div_[i];
      const int a = neox_ ? i : 2 * i;
      const int b = neox_ ? i + half : 2 * i + 1;
      const double x0 = v[a], x1 = v[b];
      v[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
      v[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
    }
  }

  // Logits [n][n_vocab] for tokens at positions 0..n-1.
  std::vector<double> Forward(const std::vector<int32_t>& tokens) const {
    const int n = static_cast<int>(tokens.size());
    int64_t vocab = 0, cols = 0;
    const Mat emb = Load("token_embd.weight", &vocab, &cols);
    std::vector<std::vector<double>> x(n);
    for (int t = 0; t < n; ++t)
      x[t].assign(emb.begin() + tokens[t] * cols, emb.begin() + (tokens[t] + 1) * cols);
    const int q_dim = n_heads_ * hd_, kv_dim = n_kv_ * hd_;
    for (int l = 0; l < n_layers_; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      const Mat an = Load(p + "attn_norm.weight"), fn = Load(p + "ffn_norm.weight");
      const Mat wq = Load(p + "attn_q.weight"), wk = Load(p + "attn_k.weight"),
                wv = Load(p + "attn_v.weight"), wo = Load(p + "attn_output.weight");
      int64_t n_ff = 0;
      const Mat wg = Load(p + "ffn_gate.weight", &n_ff), wu = Load(p + "ffn_up.weight"),
                wd = Load(p + "ffn_down.weight");
      std::vector<std::vector<double>> q(n), k(n), v(n);
      for (int t = 0; t < n; ++t) {
        const std::vector<double> h = Norm(x[t], an, 0, n_embd_);
        q[t] = MatVec(wq, q_dim, n_embd_, h);
        k[t] = MatVec(wk, kv_dim, n_embd_, h);
        v[t] = MatVec(wv, kv_dim, n_embd_, h);
        if (Has(p + "attn_q.bias")) {
          const Mat bq = Load(p + "attn_q.bias"), bk = Load(p + "attn_k.bias"),
                    bv = Load(p + "attn_v.bias");
          for (int i = 0; i < q_dim; ++i) q[t][i] += bq[i];
          for (int i = 0; i < kv_dim; ++i) k[t][i] += bk[i], v[t][i] += bv[i];
        }
        if (Has(p + "attn_q_norm.weight")) {
          const Mat qn = Load(p + "attn_q_norm.weight"), kn = Load(p + "attn_k_norm.weight");
          for (int h = 0; h < n_heads_; ++h) {
            const auto y = Norm(q[t], qn, h * hd_, hd_);
            std::copy(y.begin(), y.end(), q[t].begin() + h * hd_);
          }
          for (int h = 0; h < n_kv_; ++h) {
            const auto y = Norm(k[t], kn, h * hd_, hd_);
            std::copy(y.begin(), y.end(), k[t].begin() + h * hd_);
          }
        }
        for (int h = 0; h < n_heads_; ++h) Rope(&q[t][h * hd_], t);
        for (int h = 0; h < n_kv_; ++h) Rope(&k[t][h * hd_], t);
      }
      for (int t = 0; t < n; ++t) {
        std::vector<double> attn(q_dim, 0.0);
        for (int h = 0; h < n_heads_; ++h) {
          const int g = h / (n_heads_ / n_kv_);
          std::vector<double> s(t + 1);
          double mx = -1e300;
          for (int j = 0; j <= t; ++j) {
            double dot = 0;
            for (int i = 0; i < hd_; ++i) dot += q[t][h * hd_ + i] * k[j][g * hd_ + i];
            s[j] = dot / std::sqrt(static_cast<double>(hd_));
            mx = std::max(mx, s[j]);
          }
          double z = 0;
          for (double& e : s) z += (e = std::exp(e - mx));
          for (int j = 0; j <= t; ++j) {
            for (int i = 0; i < hd_; ++i) attn[h * hd_ + i] += s[j] / z * v[j][g * hd_ + i];
          }
        }
        const std::vector<double> o = MatVec(wo, n_embd_, q_dim, attn);
        for (int i = 0; i < n_embd_; ++i) x[t][i] += o[i];
        const std::vector<double> h = Norm(x[t], fn, 0, n_embd_);
        std::vector<double> gate = MatVec(wg, n_ff, n_embd_, h);
        const std::vector<double> up = MatVec(wu, n_ff, n_embd_, h);
        for (int64_t i = 0; i < n_ff; ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
        const std::vector<double> down = MatVec(wd, n_embd_, n_ff, gate);
        for (int i = 0; i < n_embd_; ++i) x[t][i] += down[i];
      }
    }
    const Mat on = Load("output_norm.weight");
    const Mat out = Load(Has("output.weight") ? "output.weight" : "token_embd.weight");
    std::vector<double> logits;
    for (int t = 0; t < n; ++t) {
      const std::vector<double> y = MatVec(out, vocab, n_embd_, Norm(x[t], on, 0, n_embd_));
      logits.insert(logits.end(), y.begin(), y.end());
    }
    return logits;
  }

 private:
  const gguf::GgufFile& f_;
  std::string arch_;
  int n_layers_, n_embd_, n_heads_, n_kv_, hd_;
  double eps_, base_;
  bool neox_;
  std::vector<double> rope_div_;
};

}  // namespace arkv::testing
