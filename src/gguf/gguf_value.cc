// Typed access to metadata values, and GgufFile's lookup helpers.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "core/error.h"
#include "gguf/gguf.h"

namespace arkv::gguf {

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
      return "uint8";
    case ValueType::kInt8:
      return "int8";
    case ValueType::kUint16:
      return "uint16";
    case ValueType::kInt16:
      return "int16";
    case ValueType::kUint32:
      return "uint32";
    case ValueType::kInt32:
      return "int32";
    case ValueType::kFloat32:
      return "float32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kUint64:
      return "uint64";
    case ValueType::kInt64:
      return "int64";
    case ValueType::kFloat64:
      return "float64";
  }
  return "unknown";
}

namespace {

[[noreturn]] void WrongType(std::string_view key, std::string_view expected, const Value& v) {
  Fail("{}: expected {}, got {}", key, expected, ValueTypeName(v.type));
}

}  // namespace

int64_t Value::AsInt(std::string_view key) const {
  if (const auto* s = std::get_if<int64_t>(&data)) return *s;
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Fail("{}: value {} does not fit in int64", key, *u);
    }
    return static_cast<int64_t>(*u);
  }
  WrongType(key, "an integer", *this);
}

uint64_t Value::AsUint(std::string_view key) const {
  if (const auto* u = std::get_if<uint64_t>(&data)) return *u;
  if (const auto* s = std::get_if<int64_t>(&data)) {
    if (*s < 0) Fail("{}: value {} is negative, expected an unsigned integer", key, *s);
    return static_cast<uint64_t>(*s);
  }
  WrongType(key, "an integer", *this);
}

double Value::AsFloat(std::string_view key) const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (const auto* s = std::get_if<int64_t>(&data)) return static_cast<double>(*s);
  if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
  WrongType(key, "a number", *this);
}

bool Value::AsBool(std::string_view key) const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  WrongType(key, "bool", *this);
}

const std::string& Value::AsString(std::string_view key) const {
  if (const auto* s = std::get_if<std::string>(&data)) return *s;
  WrongType(key, "string", *this);
}

const Array& Value::AsArray(std::string_view key) const {
  if (const auto* a = std::get_if<Array>(&data)) return *a;
  WrongType(key, "array", *this);
}

const Value* GgufFile::Find(std::string_view key) const {
  const auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& GgufFile::GetTensor(std::string_view name) const {
  const TensorInfo* t = FindTensor(name);
  if (t == nullptr) Fail("{}: missing tensor {}", path_, name);
  return *t;
}

int64_t GgufFile::GetInt(std::string_view key, int64_t def) const {
  const Value* v = Find(key);
  return v == nullptr ? def : v->AsInt(key);
}

double GgufFile::GetFloat(std::string_view key, double def) const {
  const Value* v = Find(key);
  return v == nullptr ? def : v->AsFloat(key);
}

bool GgufFile::GetBool(std::string_view key, bool def) const {
  const Value* v = Find(key);
  return v == nullptr ? def : v->AsBool(key);
}

std::string GgufFile::GetString(std::string_view key, std::string_view def) const {
  const Value* v = Find(key);
  return v == nullptr ? std::string(def) : v->AsString(key);
}

int64_t GgufFile::RequireInt(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) Fail("{}: missing metadata key {}", path_, key);
  return v->AsInt(key);
}

std::string GgufFile::RequireString(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) Fail("{}: missing metadata key {}", path_, key);
  return v->AsString(key);
}

}  // namespace arkv::gguf
