// GGUF v3 writer. Everything is validated when added or serialized, so a
// written file always reads back.
#include <cstring>
#include <fstream>
#include <limits>
#include <unordered_set>

#include "core/error.h"
#include "gguf/gguf.h"

namespace arkv::gguf {
namespace {

constexpr std::string_view kAlignmentKey = "general.alignment";

bool IsPowerOfTwo(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

class Encoder {
 public:
  template <typename T>
  void Put(T v) {
    const size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }
  void PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void PutBytes(const std::vector<uint8_t>& b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void PadTo(size_t alignment) {
    out_.resize((out_.size() + alignment - 1) / alignment * alignment);
  }
  size_t size() const { return out_.size(); }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

// An integer of the value's declared width, from either integer alternative.
template <typename T>
T IntegerAs(const Value& v, std::string_view key) {
  if (const auto* u = std::get_if<uint64_t>(&v.data)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      Fail("{}: value {} does not fit in {}", key, *u, ValueTypeName(v.type));
    }
    return static_cast<T>(*u);
  }
  if (const auto* s = std::get_if<int64_t>(&v.data)) {
    if (*s < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        (*s > 0 &&
         static_cast<uint64_t>(*s) > static_cast<uint64_t>(std::numeric_limits<T>::max()))) {
      Fail("{}: value {} does not fit in {}", key, *s, ValueTypeName(v.type));
    }
    return static_cast<T>(*s);
  }
  Fail("{}: {} value holds no integer", key, ValueTypeName(v.type));
}

void EncodeValue(Encoder& e, const Value& v, std::string_view key, int depth) {
  switch (v.type) {
    case ValueType::kUint8:
      e.Put(IntegerAs<uint8_t>(v, key));
      return;
    case ValueType::kInt8:
      e.Put(IntegerAs<int8_t>(v, key));
      return;
    case ValueType::kUint16:
      e.Put(IntegerAs<uint16_t>(v, key));
      return;
    case ValueType::kInt16:
      e.Put(IntegerAs<int16_t>(v, key));
      return;
    case ValueType::kUint32:
      e.Put(IntegerAs<uint32_t>(v, key));
      return;
    case ValueType::kInt32:
      e.Put(IntegerAs<int32_t>(v, key));
      return;
    case ValueType::kUint64:
      e.Put(IntegerAs<uint64_t>(v, key));
      return;
    case ValueType::kInt64:
      e.Put(IntegerAs<int64_t>(v, key));
      return;
    case ValueType::kFloat32:
      e.Put(static_cast<float>(v.AsFloat(key)));
      return;
    case ValueType::kFloat64:
      e.Put(v.AsFloat(key));
      return;
    case ValueType::kBool:
      e.Put<uint8_t>(v.AsBool(key) ? 1 : 0);
      return;
    case ValueType::kString:
      e.PutString(v.AsString(key));
      return;
    case ValueType::kArray: {
      if (depth >= GgufFile::kMaxArrayDepth) {
        Fail("{}: arrays nest deeper than {}", key, GgufFile::kMaxArrayDepth);
      }
      const Array& a = v.AsArray(key);
      e.Put(static_cast<uint32_t>(a.elem_type));
      e.Put<uint64_t>(a.items.size());
      for (const Value& item : a.items) {
        if (item.type != a.elem_type) {
          Fail("{}: array of {} holds a {} item", key, ValueTypeName(a.elem_type),
               ValueTypeName(item.type));
        }
        EncodeValue(e, item, key, depth + 1);
      }
      return;
    }
  }
  Fail("{}: unknown value type {}", key, static_cast<uint32_t>(v.type));
}

Value Scalar(ValueType type, std::variant<uint64_t, int64_t, double, bool, std::string, Array> d) {
  Value v;
  v.type = type;
  v.data = std::move(d);
  return v;
}

}  // namespace

void GgufWriter::AddUint32(std::string key, uint32_t v) {
  AddValue(std::move(key), Scalar(ValueType::kUint32, uint64_t{v}));
}
void GgufWriter::AddInt32(std::string key, int32_t v) {
  AddValue(std::move(key), Scalar(ValueType::kInt32, int64_t{v}));
}
void GgufWriter::AddUint64(std::string key, uint64_t v) {
  AddValue(std::move(key), Scalar(ValueType::kUint64, v));
}
void GgufWriter::AddFloat32(std::string key, float v) {
  AddValue(std::move(key), Scalar(ValueType::kFloat32, double{v}));
}
void GgufWriter::AddBool(std::string key, bool v) {
  AddValue(std::move(key), Scalar(ValueType::kBool, v));
}
void GgufWriter::AddString(std::string key, std::string v) {
  AddValue(std::move(key), Scalar(ValueType::kString, std::move(v)));
}

void GgufWriter::AddStringArray(std::string key, std::vector<std::string> v) {
  Array a{ValueType::kString, {}};
  a.items.reserve(v.size());
  for (std::string& s : v) a.items.push_back(Scalar(ValueType::kString, std::move(s)));
  AddValue(std::move(key), Scalar(ValueType::kArray, std::move(a)));
}

void GgufWriter::AddFloat32Array(std::string key, std::vector<float> v) {
  Array a{ValueType::kFloat32, {}};
  a.items.reserve(v.size());
  for (float f : v) a.items.push_back(Scalar(ValueType::kFloat32, double{f}));
  AddValue(std::move(key), Scalar(ValueType::kArray, std::move(a)));
}

void GgufWriter::AddInt32Array(std::string key, std::vector<int32_t> v) {
  Array a{ValueType::kInt32, {}};
  a.items.reserve(v.size());
  for (int32_t i : v) a.items.push_back(Scalar(ValueType::kInt32, int64_t{i}));
  AddValue(std::move(key), Scalar(ValueType::kArray, std::move(a)));
}

void GgufWriter::AddValue(std::string key, Value v) {
  kvs_.push_back(KeyValue{std::move(key), std::move(v)});
}

void GgufWriter::SetAlignment(uint32_t alignment) {
  if (!IsPowerOfTwo(alignment)) Fail("GGUF alignment {} is not a nonzero power of two", alignment);
  alignment_ = alignment;
  for (KeyValue& kv : kvs_) {
    if (kv.key == kAlignmentKey) {
      kv.value = Scalar(ValueType::kUint32, uint64_t{alignment});
      return;
    }
  }
  AddUint32(std::string(kAlignmentKey), alignment);
}

void GgufWriter::AddTensor(std::string name, GgmlType type, std::vector<int64_t> ne,
                           std::vector<uint8_t> data) {
  const TypeTraits traits = GetTypeTraits(type);
  if (!traits.known) Fail("tensor {}: unknown type id {}", name, static_cast<uint32_t>(type));
  if (ne.empty() || ne.size() > 4) {
    Fail("tensor {}: {} dimensions, expected 1 to 4", name, ne.size());
  }
  uint64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] < 1) Fail("tensor {}: size {} in dimension {} must be >= 1", name, ne[d], d);
    if (d > 0 && __builtin_mul_overflow(rows, static_cast<uint64_t>(ne[d]), &rows)) {
      Fail("tensor {}: element count overflows", name);
    }
  }
  const size_t row_bytes = RowBytes(type, ne[0]);
  uint64_t expected = 0;
  if (__builtin_mul_overflow(rows, row_bytes, &expected) || expected != data.size()) {
    Fail("tensor {}: {} bytes of data, expected {} for a {} tensor of this shape", name,
         data.size(), expected, traits.name);
  }
  tensors_.push_back(PendingTensor{std::move(name), type, std::move(ne), std::move(data)});
}

std::vector<uint8_t> GgufWriter::Serialize() const {
  // A general.alignment added directly (not through SetAlignment) decides too.
  uint64_t alignment = alignment_;
  std::unordered_set<std::string_view> keys;
  for (const KeyValue& kv : kvs_) {
    if (!keys.insert(kv.key).second) Fail("duplicate metadata key '{}'", kv.key);
    if (kv.key == kAlignmentKey) {
      if (kv.value.type != ValueType::kUint32) Fail("general.alignment must be uint32");
      alignment = kv.value.AsUint(kv.key);
      if (!IsPowerOfTwo(alignment) || alignment > std::numeric_limits<uint32_t>::max()) {
        Fail("general.alignment {} is not a nonzero 32-bit power of two", alignment);
      }
    }
  }
  std::unordered_set<std::string_view> names;
  for (const PendingTensor& t : tensors_) {
    if (!names.insert(t.name).second) Fail("duplicate tensor name '{}'", t.name);
  }

  Encoder e;
  e.Put<uint8_t>('G');
  e.Put<uint8_t>('G');
  e.Put<uint8_t>('U');
  e.Put<uint8_t>('F');
  e.Put<uint32_t>(3);
  e.Put<uint64_t>(tensors_.size());
  e.Put<uint64_t>(kvs_.size());
  for (const KeyValue& kv : kvs_) {
    e.PutString(kv.key);
    e.Put(static_cast<uint32_t>(kv.value.type));
    EncodeValue(e, kv.value, kv.key, 0);
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    e.PutString(t.name);
    e.Put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) e.Put<int64_t>(n);
    e.Put(static_cast<uint32_t>(t.type));
    e.Put<uint64_t>(offset);
    offset += (t.data.size() + alignment - 1) / alignment * alignment;
  }
  e.PadTo(alignment);
  for (const PendingTensor& t : tensors_) {
    e.PutBytes(t.data);
    e.PadTo(alignment);
  }
  return e.Take();
}

void GgufWriter::Write(const std::string& path) const {
  const std::vector<uint8_t> bytes = Serialize();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) Fail("{}: cannot open for writing", path);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) Fail("{}: write failed", path);
}

}  // namespace arkv::gguf
