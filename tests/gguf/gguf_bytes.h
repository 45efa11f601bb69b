// Hand encoding of GGUF images for tests, independent of GgufWriter, so the
// reader and the writer are each checked against the format rather than
// against each other.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace arkv::gguf::testing {

class Bytes {
 public:
  template <typename T>
  Bytes& Put(T v) {
    const size_t at = b_.size();
    b_.resize(at + sizeof(T));
    std::memcpy(b_.data() + at, &v, sizeof(T));
    return *this;
  }
  Bytes& U8(uint8_t v) { return Put(v); }
  Bytes& U32(uint32_t v) { return Put(v); }
  Bytes& U64(uint64_t v) { return Put(v); }
  Bytes& I64(int64_t v) { return Put(v); }
  Bytes& Str(std::string_view s) {
    U64(s.size());
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Raw(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  // "GGUF", version, tensor count, kv count.
  Bytes& Header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return Raw("GGUF").U32(version).U64(n_tensors).U64(n_kv);
  }
  // A key with a value type; the caller appends the value.
  Bytes& Key(std::string_view key, uint32_t type) { return Str(key).U32(type); }
  Bytes& TensorInfo(std::string_view name, std::vector<int64_t> ne, uint32_t type,
                    uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(ne.size()));
    for (int64_t n : ne) I64(n);
    return U32(type).U64(offset);
  }
  Bytes& PadTo(size_t alignment) {
    b_.resize((b_.size() + alignment - 1) / alignment * alignment);
    return *this;
  }
  Bytes& Zeros(size_t n) {
    b_.resize(b_.size() + n);
    return *this;
  }

  size_t size() const { return b_.size(); }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  std::vector<uint8_t> b_;
};

}  // namespace arkv::gguf::testing
