// GGUF files (v2 and v3): a read-only memory-mapped reader that validates
// everything it exposes, and a writer for tests and `arkv make-model`.
//
// Reader guarantees: after GgufFile::Open succeeds, every string, array and
// tensor exposed lies inside the mapping, every tensor's byte size matches its
// type and shape, and no size from the file was trusted before allocation.
// Any violation is an arkv::Error naming the field and the offset.
//
// Validation rules beyond the format itself: every dimension is >= 1 (ggml
// tolerates empty tensors; nothing here can use one and a zero would divide
// later code by zero), ne[0] is a multiple of the type's block size, the
// element count and byte size fit in int64, tensor offsets are multiples of
// the alignment, metadata keys and tensor names are unique, bools are 0 or 1
// and arrays nest at most GgufFile::kMaxArrayDepth deep. Tensors of
// known-but-unsupported types are accepted (their size is computable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "gguf/ggml_types.h"

namespace arkv::gguf {

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
std::string_view ValueTypeName(ValueType t);

struct Value;
// Arrays keep their element type; nested arrays are allowed.
struct Array {
  ValueType elem_type = ValueType::kUint8;
  std::vector<Value> items;
};

struct Value {
  ValueType type = ValueType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

  // Typed accessors; each throws arkv::Error("key: expected X, got Y") on a
  // mismatch. AsInt accepts any integer type (range-checked), AsFloat any
  // integer or float type.
  int64_t AsInt(std::string_view key) const;
  uint64_t AsUint(std::string_view key) const;
  double AsFloat(std::string_view key) const;
  bool AsBool(std::string_view key) const;
  const std::string& AsString(std::string_view key) const;
  const Array& AsArray(std::string_view key) const;
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;           // relative to the data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
 public:
  // Maps and validates the file. Throws arkv::Error on any problem.
  static std::unique_ptr<GgufFile> Open(const std::string& path);
  // Parses an in-memory image (used by the fuzzer and tests); the bytes must
  // outlive the object. Tensor data is aligned in memory only if `data` is.
  static std::unique_ptr<GgufFile> FromMemory(const uint8_t* data, size_t size);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  // Arrays nested deeper than this are rejected (a hostile file could
  // otherwise recurse until the stack overflows).
  static constexpr int kMaxArrayDepth = 16;

  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  const std::string& path() const { return path_; }
  size_t file_size() const { return size_; }
  // File offset of the data section (tensor offsets are relative to it).
  size_t data_offset() const { return data_offset_; }

  const std::vector<KeyValue>& metadata() const { return kvs_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // nullptr when absent.
  const Value* Find(std::string_view key) const;
  const TensorInfo* FindTensor(std::string_view name) const;
  // Throws "missing tensor NAME" when absent.
  const TensorInfo& GetTensor(std::string_view name) const;

  // Convenience getters with a default for an absent key; a present key of
  // the wrong type is an error.
  int64_t GetInt(std::string_view key, int64_t def) const;
  double GetFloat(std::string_view key, double def) const;
  bool GetBool(std::string_view key, bool def) const;
  std::string GetString(std::string_view key, std::string_view def) const;
  // Throws "missing metadata key KEY" when absent.
  int64_t RequireInt(std::string_view key) const;
  std::string RequireString(std::string_view key) const;

 private:
  GgufFile() = default;
  void Parse();

  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when we own an mmap
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<KeyValue> kvs_;
  std::vector<TensorInfo> tensors_;
  // Views into kvs_[i].key and tensors_[i].name (both vectors are fixed after
  // parsing, so the views stay valid).
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Builds a GGUF v3 file in memory and writes it. Values are added in order.
class GgufWriter {
 public:
  void AddUint32(std::string key, uint32_t v);
  void AddInt32(std::string key, int32_t v);
  void AddUint64(std::string key, uint64_t v);
  void AddFloat32(std::string key, float v);
  void AddBool(std::string key, bool v);
  void AddString(std::string key, std::string v);
  void AddStringArray(std::string key, std::vector<std::string> v);
  void AddFloat32Array(std::string key, std::vector<float> v);
  void AddInt32Array(std::string key, std::vector<int32_t> v);
  void AddValue(std::string key, Value v);  // any type, including nested arrays
  void SetAlignment(uint32_t alignment);    // also writes general.alignment

  // data holds the tensor in its GGUF encoding (RowBytes(type, ne[0]) * rows).
  void AddTensor(std::string name, GgmlType type, std::vector<int64_t> ne,
                 std::vector<uint8_t> data);

  std::vector<uint8_t> Serialize() const;
  void Write(const std::string& path) const;  // throws on I/O failure

 private:
  std::vector<KeyValue> kvs_;
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };
  std::vector<PendingTensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace arkv::gguf
