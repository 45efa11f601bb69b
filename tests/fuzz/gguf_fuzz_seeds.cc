// Writes a seed corpus for gguf_reader_fuzz: small GGUFs covering every value
// type, nested arrays and several tensor types, plus, for each model given,
// a copy with the model's metadata and tensor names but one-block tensors (the
// real files are mostly tensor data, which the fuzzer would waste time on).
//
// Usage: gguf_fuzz_seeds OUT_DIR [MODEL.gguf...]
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "gguf/gguf.h"

namespace {

using arkv::GgmlType;
using arkv::gguf::Array;
using arkv::gguf::GgufFile;
using arkv::gguf::GgufWriter;
using arkv::gguf::Value;
using arkv::gguf::ValueType;

Value Make(ValueType t, std::variant<uint64_t, int64_t, double, bool, std::string, Array> d) {
  Value v;
  v.type = t;
  v.data = std::move(d);
  return v;
}

void WriteScalars(const std::string& path) {
  GgufWriter w;
  w.AddValue("u8", Make(ValueType::kUint8, uint64_t{200}));
  w.AddValue("i8", Make(ValueType::kInt8, int64_t{-3}));
  w.AddValue("u16", Make(ValueType::kUint16, uint64_t{60000}));
  w.AddValue("i16", Make(ValueType::kInt16, int64_t{-30000}));
  w.AddUint32("llama.block_count", 2);
  w.AddInt32("i32", -7);
  w.AddUint64("u64", 1ull << 40);
  w.AddValue("i64", Make(ValueType::kInt64, int64_t{-(1ll << 40)}));
  w.AddFloat32("f32", 1e-5f);
  w.AddValue("f64", Make(ValueType::kFloat64, 3.25));
  w.AddBool("bool", true);
  w.AddString("general.architecture", "llama");
  w.Write(path);
}

void WriteArrays(const std::string& path) {
  GgufWriter w;
  w.AddStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b", "ab"});
  w.AddFloat32Array("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -3});
  w.AddInt32Array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1});
  w.AddInt32Array("empty", {});
  Array inner{ValueType::kUint16, {Make(ValueType::kUint16, uint64_t{1})}};
  Array outer{ValueType::kArray, {Make(ValueType::kArray, inner), Make(ValueType::kArray, inner)}};
  w.AddValue("nested", Make(ValueType::kArray, outer));
  w.Write(path);
}

void WriteTensors(const std::string& path) {
  GgufWriter w;
  w.SetAlignment(64);
  w.AddString("general.architecture", "llama");
  for (GgmlType type :
       {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kBF16}) {
    const arkv::TypeTraits tr = arkv::GetTypeTraits(type);
    const std::vector<int64_t> ne = {tr.block_size * 2, 2};
    std::vector<uint8_t> data(arkv::RowBytes(type, ne[0]) * 2);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
    w.AddTensor("t." + std::string(tr.name), type, ne, std::move(data));
  }
  w.Write(path);
}

// The model's metadata verbatim; each tensor keeps its name, type and number
// of dimensions but holds one block.
void WriteShrunkModel(const std::string& model, const std::string& path) {
  const auto f = GgufFile::Open(model);
  GgufWriter w;
  for (const auto& kv : f->metadata()) w.AddValue(kv.key, kv.value);
  for (const auto& t : f->tensors()) {
    const arkv::TypeTraits tr = arkv::GetTypeTraits(t.type);
    std::vector<int64_t> ne(static_cast<size_t>(t.n_dims), 1);
    ne[0] = tr.block_size;
    w.AddTensor(t.name, t.type, ne, std::vector<uint8_t>(t.data, t.data + tr.type_size));
  }
  w.Write(path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [MODEL.gguf...]\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path out = argv[1];
    std::filesystem::create_directories(out);
    WriteScalars(out / "seed_scalars.gguf");
    WriteArrays(out / "seed_arrays.gguf");
    WriteTensors(out / "seed_tensors.gguf");
    for (int i = 2; i < argc; ++i) {
      const std::string stem = std::filesystem::path(argv[i]).stem().string();
      WriteShrunkModel(argv[i], out / ("seed_shrunk_" + stem + ".gguf"));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gguf_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
