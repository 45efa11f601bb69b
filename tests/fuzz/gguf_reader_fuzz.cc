// libFuzzer target for the GGUF reader. Any input either parses or throws
// arkv::Error; a parsed file must satisfy the reader's guarantees (checked
// here, trapping on a violation) and must survive a write/read round trip.
#include <cstddef>
#include <cstdint>
#include <variant>

#include "core/error.h"
#include "gguf/gguf.h"

namespace {

using arkv::gguf::Array;
using arkv::gguf::GgufFile;
using arkv::gguf::GgufWriter;
using arkv::gguf::Value;
using arkv::gguf::ValueType;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Reads every byte of the value so ASan sees any bad string.
uint64_t Touch(const Value& v) {
  uint64_t h = static_cast<uint32_t>(v.type);
  if (const auto* u = std::get_if<uint64_t>(&v.data)) return h + *u;
  if (const auto* s = std::get_if<int64_t>(&v.data)) return h + static_cast<uint64_t>(*s);
  if (const auto* d = std::get_if<double>(&v.data)) return h + static_cast<uint64_t>(*d > 0);
  if (const auto* b = std::get_if<bool>(&v.data)) return h + *b;
  if (const auto* str = std::get_if<std::string>(&v.data)) {
    for (char c : *str) h = h * 31 + static_cast<uint8_t>(c);
    return h;
  }
  const Array& a = std::get<Array>(v.data);
  for (const Value& item : a.items) {
    Check(item.type == a.elem_type);
    h += Touch(item);
  }
  return h;
}

std::vector<uint8_t> Reserialize(const GgufFile& f) {
  GgufWriter w;
  for (const auto& kv : f.metadata()) w.AddValue(kv.key, kv.value);
  for (const auto& t : f.tensors()) {
    w.AddTensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims),
                std::vector<uint8_t>(t.data, t.data + t.nbytes));
  }
  return w.Serialize();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> f;
  try {
    f = GgufFile::FromMemory(data, size);
  } catch (const arkv::Error&) {
    return 0;
  }

  volatile uint64_t sink = 0;
  for (const auto& kv : f->metadata()) {
    sink = sink + Touch(kv.value) + kv.key.size();
    Check(f->Find(kv.key) == &kv.value);
  }
  Check(f->alignment() != 0 && (f->alignment() & (f->alignment() - 1)) == 0);
  for (const auto& t : f->tensors()) {
    Check(f->FindTensor(t.name) == &t);
    Check(t.n_dims >= 1 && t.n_dims <= 4 && t.n_elements() >= 1);
    Check(t.offset % f->alignment() == 0);
    Check(t.nbytes == arkv::RowBytes(t.type, t.ne[0]) * static_cast<size_t>(t.n_rows()));
    Check(t.data >= data + f->data_offset() && t.data + t.nbytes <= data + size);
    sink = sink + t.data[0] + t.data[t.nbytes - 1];
  }
  // Getters on keys the model code reads; a wrong type is an Error, not UB.
  try {
    sink = sink + static_cast<uint64_t>(f->GetInt("llama.block_count", 0));
    sink = sink + f->GetString("general.architecture", "").size();
  } catch (const arkv::Error&) {
  }

  // Whatever the reader accepts, the writer reproduces; after that first
  // normalisation (v2 -> v3, trailing bytes, tensor layout) a second round
  // trip is byte-identical. Errors here are bugs, so they are not caught.
  const std::vector<uint8_t> once = Reserialize(*f);
  const auto again = GgufFile::FromMemory(once.data(), once.size());
  Check(again->metadata().size() == f->metadata().size());
  Check(again->tensors().size() == f->tensors().size());
  Check(Reserialize(*again) == once);
  return 0;
}
