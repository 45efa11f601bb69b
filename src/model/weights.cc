#include "model/weights.h"

#include "core/error.h"
#include "gguf/gguf.h"

namespace arkv {

bool WeightBinder::Has(const std::string& name) const { return file_.FindTensor(name) != nullptr; }

WeightView WeightBinder::Matrix(const std::string& name, int64_t cols, int64_t rows) const {
  const gguf::TensorInfo& t = file_.GetTensor(name);
  if (t.ne[0] != cols || t.ne[1] != rows || t.ne[2] != 1 || t.ne[3] != 1) {
    Fail("tensor {} has shape [{}, {}, {}, {}], expected [{}, {}]", name, t.ne[0], t.ne[1], t.ne[2],
         t.ne[3], cols, rows);
  }
  CheckWeightType(t.type, cols, name.c_str());
  WeightView w;
  w.type = t.type;
  w.data = t.data;
  w.cols = cols;
  w.rows = rows;
  w.row_bytes = RowBytes(t.type, cols);
  return w;
}

std::vector<float> WeightBinder::Vector(const std::string& name, int64_t n) const {
  const gguf::TensorInfo& t = file_.GetTensor(name);
  if (t.n_elements() != n) {
    Fail("tensor {} has {} elements, expected {}", name, t.n_elements(), n);
  }
  CheckWeightType(t.type, t.ne[0], name.c_str());
  std::vector<float> v(n);
  // A vector is stored as rows of ne[0] elements; convert row by row.
  const size_t row_bytes = RowBytes(t.type, t.ne[0]);
  for (int64_t r = 0; r < t.n_rows(); ++r) {
    DequantizeRow(t.type, t.data + r * row_bytes, v.data() + r * t.ne[0], t.ne[0]);
  }
  return v;
}

ModelWeights WeightBinder::BindCommon() const {
  const ModelConfig& c = config_;
  ModelWeights w;
  const int64_t q_dim = int64_t{c.n_heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
  w.token_embd = Matrix("token_embd.weight", c.n_embd, c.n_vocab);
  w.output = Has("output.weight") ? Matrix("output.weight", c.n_embd, c.n_vocab) : w.token_embd;
  w.output_norm = Vector("output_norm.weight", c.n_embd);
  if (Has("rope_freqs.weight")) {
    w.rope_freqs = Vector("rope_freqs.weight", c.n_rot / 2);
    for (float f : w.rope_freqs) {
      if (!(f > 0.0f)) Fail("rope_freqs.weight holds a non-positive factor {}", f);
    }
  }
  w.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    L.attn_norm = Vector(p + "attn_norm.weight", c.n_embd);
    L.ffn_norm = Vector(p + "ffn_norm.weight", c.n_embd);
    L.wq = Matrix(p + "attn_q.weight", c.n_embd, q_dim);
    L.wk = Matrix(p + "attn_k.weight", c.n_embd, kv_dim);
    L.wv = Matrix(p + "attn_v.weight", c.n_embd, kv_dim);
    L.wo = Matrix(p + "attn_output.weight", q_dim, c.n_embd);
    L.ffn_gate = Matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff);
    L.ffn_up = Matrix(p + "ffn_up.weight", c.n_embd, c.n_ff);
    L.ffn_down = Matrix(p + "ffn_down.weight", c.n_ff, c.n_embd);
  }
  return w;
}

}  // namespace arkv
