// GGUF reader: maps the file and validates every byte it exposes.
//
// Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv,
// n_kv x (string key, u32 value type, value), n_tensors x (string name,
// u32 n_dims, i64 ne[n_dims], u32 ggml type, u64 offset), padding to the
// alignment, then the data section. A string is a u64 length and its bytes; an
// array is a u32 element type, a u64 count and the elements.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>

#include "core/error.h"
#include "gguf/gguf.h"

namespace arkv::gguf {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader decodes little-endian fields by memcpy");

constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxValueType = static_cast<uint32_t>(ValueType::kFloat64);
// Smallest encodings, used to bound counts by the bytes left before trusting
// them: a kv is an empty key, a type and a one-byte value; a tensor info is an
// empty name, n_dims, one dimension, a type and an offset.
constexpr size_t kMinKvBytes = 8 + 4 + 1;
constexpr size_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

// Bytes of the smallest encoding of one value of type t.
size_t MinEncodedSize(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString:
      return 8;  // a string's length
    case ValueType::kArray:
      return 12;  // element type and count
  }
  return 1;
}

bool IsPowerOfTwo(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// A bounds-checked little-endian decoder over the whole image. Every failure
// names the source, the field and the offset where it starts.
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size, const std::string& source)
      : base_(base), size_(size), source_(source) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename... Args>
  [[noreturn]] void FailAt(size_t offset, fmt::format_string<Args...> fmt, Args&&... args) const {
    Fail("{}: at offset {}: {}", source_, offset, fmt::format(fmt, std::forward<Args>(args)...));
  }

  template <typename T>
  T Read(std::string_view field) {
    if (sizeof(T) > remaining()) {
      FailAt(pos_, "truncated file: {} needs {} bytes, {} remain", field, sizeof(T), remaining());
    }
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string ReadString(std::string_view field) {
    const size_t start = pos_;
    const uint64_t len = Read<uint64_t>(field);
    if (len > remaining()) {
      FailAt(start, "{} has length {} but only {} bytes remain", field, len, remaining());
    }
    std::string s(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& source_;
};

// `field` names the metadata key in messages, e.g. "metadata key 'general.name'".
ValueType CheckValueType(Cursor& c, size_t offset, uint32_t raw, std::string_view field) {
  if (raw > kMaxValueType) c.FailAt(offset, "{} has unknown value type {}", field, raw);
  return static_cast<ValueType>(raw);
}

Value ReadValue(Cursor& c, ValueType type, std::string_view field, int depth) {
  Value v;
  v.type = type;
  const size_t start = c.pos();
  switch (type) {
    case ValueType::kUint8:
      v.data = uint64_t{c.Read<uint8_t>(field)};
      break;
    case ValueType::kInt8:
      v.data = int64_t{c.Read<int8_t>(field)};
      break;
    case ValueType::kUint16:
      v.data = uint64_t{c.Read<uint16_t>(field)};
      break;
    case ValueType::kInt16:
      v.data = int64_t{c.Read<int16_t>(field)};
      break;
    case ValueType::kUint32:
      v.data = uint64_t{c.Read<uint32_t>(field)};
      break;
    case ValueType::kInt32:
      v.data = int64_t{c.Read<int32_t>(field)};
      break;
    case ValueType::kUint64:
      v.data = c.Read<uint64_t>(field);
      break;
    case ValueType::kInt64:
      v.data = c.Read<int64_t>(field);
      break;
    case ValueType::kFloat32:
      v.data = double{c.Read<float>(field)};
      break;
    case ValueType::kFloat64:
      v.data = c.Read<double>(field);
      break;
    case ValueType::kBool: {
      const uint8_t b = c.Read<uint8_t>(field);
      if (b > 1) c.FailAt(start, "{} has bool value {}, expected 0 or 1", field, b);
      v.data = b == 1;
      break;
    }
    case ValueType::kString:
      v.data = c.ReadString(field);
      break;
    case ValueType::kArray: {
      if (depth >= GgufFile::kMaxArrayDepth) {
        c.FailAt(start, "{} nests arrays deeper than {}", field, GgufFile::kMaxArrayDepth);
      }
      Array arr;
      arr.elem_type = CheckValueType(c, start, c.Read<uint32_t>(field), field);
      const size_t count_at = c.pos();
      const uint64_t count = c.Read<uint64_t>(field);
      const size_t min_size = MinEncodedSize(arr.elem_type);
      if (count > c.remaining() / min_size) {
        c.FailAt(count_at,
                 "{} has an array of {} {} elements, more than the {} remaining bytes can "
                 "hold",
                 field, count, ValueTypeName(arr.elem_type), c.remaining());
      }
      arr.items.reserve(static_cast<size_t>(count));
      for (uint64_t i = 0; i < count; ++i) {
        arr.items.push_back(ReadValue(c, arr.elem_type, field, depth + 1));
      }
      v.data = std::move(arr);
      break;
    }
  }
  return v;
}

// Checked arithmetic for sizes from the file.
bool MulOverflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

}  // namespace

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) munmap(mapping_, size_);
}

std::unique_ptr<GgufFile> GgufFile::Open(const std::string& path) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail("{}: cannot open: {}", path, std::system_category().message(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    Fail("{}: cannot stat: {}", path, std::system_category().message(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    Fail("{}: not a regular file", path);
  }
  if (st.st_size == 0) {
    ::close(fd);
    Fail("{}: file is empty, not a GGUF file", path);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (mapping == MAP_FAILED) {
    Fail("{}: cannot mmap {} bytes: {}", path, size, std::system_category().message(map_err));
  }
  file->mapping_ = mapping;
  file->base_ = static_cast<const uint8_t*>(mapping);
  file->size_ = size;
  file->Parse();
  return file;
}

std::unique_ptr<GgufFile> GgufFile::FromMemory(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = "<memory>";
  file->base_ = data;
  file->size_ = data == nullptr ? 0 : size;
  file->Parse();
  return file;
}

void GgufFile::Parse() {
  Cursor c(base_, size_, path_);

  // Header.
  if (size_ < 4 || std::memcmp(base_, kMagic, 4) != 0) {
    if (size_ < 4) c.FailAt(0, "truncated file: {} bytes, not a GGUF file", size_);
    c.FailAt(0, "not a GGUF file: magic is {:02x} {:02x} {:02x} {:02x}, expected 'GGUF'", base_[0],
             base_[1], base_[2], base_[3]);
  }
  c.Read<uint32_t>("magic");
  version_ = c.Read<uint32_t>("version");
  if (version_ == 1) c.FailAt(4, "GGUF version 1 is not supported (only 2 and 3)");
  if (version_ != 2 && version_ != 3) {
    const uint32_t swapped = __builtin_bswap32(version_);
    if (swapped >= 1 && swapped <= 3) {
      c.FailAt(4, "big-endian GGUF files are not supported (version field reads {:#x})", version_);
    }
    c.FailAt(4, "unsupported GGUF version {} (only 2 and 3)", version_);
  }
  const size_t n_tensors_at = c.pos();
  const uint64_t n_tensors = c.Read<uint64_t>("tensor count");
  const size_t n_kv_at = c.pos();
  const uint64_t n_kv = c.Read<uint64_t>("metadata count");
  if (n_kv > c.remaining() / kMinKvBytes) {
    c.FailAt(n_kv_at, "metadata count {} is more than the {} remaining bytes can hold", n_kv,
             c.remaining());
  }

  // Metadata. Reserving first keeps the keys in place for the index views.
  kvs_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t kv_at = c.pos();
    std::string key = c.ReadString(fmt::format("key of metadata entry {}", i));
    const size_t type_at = c.pos();
    const std::string field = fmt::format("metadata key '{}'", key);
    const ValueType type = CheckValueType(c, type_at, c.Read<uint32_t>(field), field);
    Value value = ReadValue(c, type, field, 0);
    kvs_.push_back(KeyValue{std::move(key), std::move(value)});
    if (!kv_index_.emplace(kvs_.back().key, kvs_.size() - 1).second) {
      c.FailAt(kv_at, "duplicate metadata key '{}'", kvs_.back().key);
    }
  }

  if (const Value* a = Find("general.alignment")) {
    if (a->type != ValueType::kUint32) {
      Fail("{}: general.alignment must be uint32, got {}", path_, ValueTypeName(a->type));
    }
    const uint64_t align = a->AsUint("general.alignment");
    if (!IsPowerOfTwo(align)) {
      Fail("{}: general.alignment {} is not a nonzero power of two", path_, align);
    }
    alignment_ = static_cast<size_t>(align);
  }

  // Tensor infos.
  if (n_tensors > c.remaining() / kMinTensorInfoBytes) {
    c.FailAt(n_tensors_at, "tensor count {} is more than the {} remaining bytes can hold",
             n_tensors, c.remaining());
  }
  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const size_t info_at = c.pos();
    TensorInfo t;
    t.name = c.ReadString(fmt::format("name of tensor {}", i));
    const std::string field = "tensor " + t.name;
    const uint32_t n_dims = c.Read<uint32_t>(field);
    if (n_dims < 1 || n_dims > kMaxDims) {
      c.FailAt(info_at, "tensor {} has {} dimensions, expected 1 to {}", t.name, n_dims, kMaxDims);
    }
    t.n_dims = static_cast<int>(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) t.ne[d] = c.Read<int64_t>(field);
    const uint32_t type_id = c.Read<uint32_t>(field);
    t.offset = c.Read<uint64_t>(field);

    for (uint32_t d = 0; d < n_dims; ++d) {
      if (t.ne[d] < 1) {
        c.FailAt(info_at, "tensor {} has size {} in dimension {}; every size must be >= 1", t.name,
                 t.ne[d], d);
      }
    }
    const TypeTraits traits = GetTypeTraits(type_id);
    if (!traits.known) c.FailAt(info_at, "tensor {} has unknown type id {}", t.name, type_id);
    t.type = static_cast<GgmlType>(type_id);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      if (MulOverflows(n_elements, static_cast<uint64_t>(t.ne[d]), &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        c.FailAt(info_at, "tensor {}: element count overflows int64", t.name);
      }
    }
    if (t.ne[0] % traits.block_size != 0) {
      c.FailAt(info_at, "tensor {}: row size {} is not a multiple of the {} block size {}", t.name,
               t.ne[0], traits.name, traits.block_size);
    }
    // ne[0] / block_size * type_size can exceed int64 even when ne[0] fits.
    uint64_t nbytes = 0;
    if (MulOverflows(n_elements / static_cast<uint64_t>(traits.block_size), traits.type_size,
                     &nbytes) ||
        nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      c.FailAt(info_at, "tensor {}: byte size overflows int64", t.name);
    }
    t.nbytes = static_cast<size_t>(nbytes);
    if (t.offset % alignment_ != 0) {
      c.FailAt(info_at, "tensor {} has offset {}, not a multiple of the alignment {}", t.name,
               t.offset, alignment_);
    }
    tensors_.push_back(std::move(t));
    if (!tensor_index_.emplace(tensors_.back().name, tensors_.size() - 1).second) {
      c.FailAt(info_at, "duplicate tensor name '{}'", tensors_.back().name);
    }
  }

  // Data section: starts at the first aligned offset after the tensor infos.
  // pos <= size_, so rounding up cannot overflow.
  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (tensors_.empty()) return;
  if (data_offset_ > size_) {
    Fail("{}: data section would start at offset {}, past the end of the {}-byte file", path_,
         data_offset_, size_);
  }
  const uint64_t data_size = size_ - data_offset_;
  for (TensorInfo& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      Fail(
          "{}: tensor {} (offset {}, {} bytes) extends past the end of the file: the data "
          "section has {} bytes from file offset {}",
          path_, t.name, t.offset, t.nbytes, data_size, data_offset_);
    }
    t.data = base_ + data_offset_ + t.offset;
  }
}

}  // namespace arkv::gguf
