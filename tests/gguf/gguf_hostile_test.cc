// Hostile and malformed inputs: each must be an arkv::Error with a message
// naming the problem, never a crash, a huge allocation or a hang.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf_bytes.h"

namespace arkv::gguf {
namespace {

using testing::Bytes;

// Parses from a heap copy of exactly `size` bytes, so a sanitizer build
// catches any read past the end.
std::unique_ptr<GgufFile> ParseCopy(const uint8_t* data, size_t size) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size == 0 ? 1 : size]);
  if (size > 0) std::memcpy(copy.get(), data, size);
  auto f = GgufFile::FromMemory(copy.get(), size);
  // Only valid while copy lives; the callers here only need the verdict.
  return f;
}

void ExpectParseError(const Bytes& b, const std::string& part) {
  try {
    ParseCopy(b.bytes().data(), b.size());
    ADD_FAILURE() << "parsed; expected an error containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << part;
  }
}

std::vector<uint8_t> ReadShared(const std::string& rel) {
  std::ifstream in(std::string(ARKV_SHARED_DIR) + "/" + rel, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(GgufHostile, RealFileTruncatedAnywhere) {
  const std::vector<uint8_t> full = ReadShared("models/stories260K.gguf");
  if (full.empty()) GTEST_SKIP() << "shared file absent: models/stories260K.gguf";
  const size_t data_offset = GgufFile::FromMemory(full.data(), full.size())->data_offset();
  ASSERT_GT(data_offset, 1000u);
  // Every cut in the header, metadata and tensor infos.
  for (size_t n = 0; n < data_offset; ++n) {
    EXPECT_THROW(ParseCopy(full.data(), n), Error) << "truncated at " << n;
  }
  // Cuts in the data section: any cut at least one alignment unit (32) before
  // the end loses tensor bytes, since the file ends with the padded last tensor.
  for (size_t n = data_offset; n + 32 <= full.size(); n += 4099) {
    EXPECT_THROW(ParseCopy(full.data(), n), Error) << "truncated at " << n;
  }
  EXPECT_THROW(ParseCopy(full.data(), full.size() - 32), Error);
  try {
    ParseCopy(full.data(), full.size() - 32);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("extends past the end of the file"), std::string::npos)
        << e.what();
  }
}

TEST(GgufHostile, TruncationMessageNamesFieldAndOffset) {
  Bytes b;
  b.Header(0, 1).Key("general.name", 8).U64(100).Raw("abc");
  ExpectParseError(b, "at offset 48: metadata key 'general.name' has length 100 but only 3");
  Bytes c;
  c.Header(0, 1).Key("llama.block_count", 4).U8(1);
  ExpectParseError(c, "truncated file: metadata key 'llama.block_count' needs 4 bytes, 1 remain");
}

TEST(GgufHostile, HeaderProblems) {
  ExpectParseError(Bytes(), "truncated file: 0 bytes");
  ExpectParseError(Bytes().Raw("GGU"), "truncated file");
  ExpectParseError(Bytes().Raw("GGML").U32(3).U64(0).U64(0), "not a GGUF file");
  ExpectParseError(Bytes().Header(0, 0, 1), "version 1 is not supported");
  ExpectParseError(Bytes().Header(0, 0, 4), "unsupported GGUF version 4");
  // A big-endian file stores version 3 as 00 00 00 03.
  ExpectParseError(Bytes().Raw("GGUF").U32(0x03000000).U64(0).U64(0), "big-endian");
  ExpectParseError(Bytes().Raw("GGUF").U32(3).U32(0), "truncated file: tensor count");
  EXPECT_THROW(GgufFile::FromMemory(nullptr, 100), Error);
}

TEST(GgufHostile, AbsurdCounts) {
  ExpectParseError(Bytes().Header(uint64_t{1} << 62, 0), "tensor count 4611686018427387904");
  ExpectParseError(Bytes().Header(0, ~uint64_t{0}).Zeros(64), "metadata count");
  // A count that only just fails: 2 kvs need at least 26 bytes.
  ExpectParseError(Bytes().Header(0, 2).Zeros(25), "metadata count 2");
  // Enough bytes for the tensor count only once metadata is ignored.
  Bytes b;
  b.Header(1, 1).Key("k", 8).Str(std::string(20, 'x'));
  ExpectParseError(b, "tensor count 1");
}

TEST(GgufHostile, AbsurdLengths) {
  ExpectParseError(Bytes().Header(0, 1).U64(~uint64_t{0}).Zeros(16), "key of metadata entry 0");
  ExpectParseError(Bytes().Header(0, 1).Key("s", 8).U64(uint64_t{1} << 63),
                   "metadata key 's' has length 9223372036854775808");
  // An array count checked against the minimum size of each element type.
  ExpectParseError(Bytes().Header(0, 1).Key("a", 9).U32(0).U64(uint64_t{1} << 60),
                   "metadata key 'a' has an array of 1152921504606846976 uint8 elements");
  ExpectParseError(Bytes().Header(0, 1).Key("a", 9).U32(8).U64(3).Zeros(23),
                   "array of 3 string elements, more than the 23 remaining bytes");
  ExpectParseError(Bytes().Header(0, 1).Key("a", 9).U32(9).U64(2).Zeros(23),
                   "array of 2 array elements");
  ExpectParseError(Bytes().Header(0, 1).Key("a", 9).U32(12).U64(3).Zeros(20),
                   "array of 3 float64 elements");
  // Nested: the inner count is bounded by what is left after the outer header.
  ExpectParseError(Bytes().Header(0, 1).Key("n", 9).U32(9).U64(1).U32(4).U64(~uint64_t{0}),
                   "metadata key 'n'");
  ExpectParseError(Bytes().Header(1, 0).U64(uint64_t{1} << 40).Zeros(40), "name of tensor 0");
}

TEST(GgufHostile, BadValues) {
  ExpectParseError(Bytes().Header(0, 1).Key("x", 13).U32(0),
                   "metadata key 'x' has unknown value type 13");
  ExpectParseError(Bytes().Header(0, 1).Key("x", 9).U32(77).U64(0), "unknown value type 77");
  ExpectParseError(Bytes().Header(0, 1).Key("b", 7).U8(2), "metadata key 'b' has bool value 2");
  Bytes dup;
  dup.Header(0, 2).Key("k", 4).U32(1).Key("k", 4).U32(2);
  ExpectParseError(dup, "duplicate metadata key 'k'");
}

TEST(GgufHostile, BadAlignment) {
  ExpectParseError(Bytes().Header(0, 1).Key("general.alignment", 4).U32(0),
                   "general.alignment 0 is not a nonzero power of two");
  ExpectParseError(Bytes().Header(0, 1).Key("general.alignment", 4).U32(48),
                   "general.alignment 48 is not");
  ExpectParseError(Bytes().Header(0, 1).Key("general.alignment", 10).U64(32),
                   "general.alignment must be uint32, got uint64");
  Bytes ok;
  ok.Header(1, 1).Key("general.alignment", 4).U32(8).TensorInfo("t", {2}, 0, 8).PadTo(8).Zeros(16);
  const auto f = GgufFile::FromMemory(ok.bytes().data(), ok.size());
  EXPECT_EQ(f->alignment(), 8u);
  EXPECT_EQ(f->GetTensor("t").offset, 8u);
}

// One tensor info followed by `data_bytes` of (aligned) data.
Bytes OneTensor(const std::string& name, std::vector<int64_t> ne, uint32_t type, uint64_t offset,
                size_t data_bytes) {
  Bytes b;
  b.Header(1, 0).TensorInfo(name, std::move(ne), type, offset).PadTo(32).Zeros(data_bytes);
  return b;
}

TEST(GgufHostile, BadTensorInfos) {
  ExpectParseError(OneTensor("w", {4, 4}, 4, 0, 64), "tensor w has unknown type id 4");
  ExpectParseError(OneTensor("w", {4}, 1000, 0, 64), "tensor w has unknown type id 1000");
  ExpectParseError(OneTensor("w", {}, 0, 0, 64), "tensor w has 0 dimensions");
  ExpectParseError(OneTensor("w", {1, 1, 1, 1, 1}, 0, 0, 64), "tensor w has 5 dimensions");
  ExpectParseError(OneTensor("w", {4, 0}, 0, 0, 64), "tensor w has size 0 in dimension 1");
  ExpectParseError(OneTensor("w", {-4}, 0, 0, 64), "tensor w has size -4 in dimension 0");
  ExpectParseError(OneTensor("w", {33, 2}, 8, 0, 136), "row size 33 is not a multiple of the q8_0");
  ExpectParseError(OneTensor("w", {int64_t{1} << 32, int64_t{1} << 32}, 0, 0, 64),
                   "tensor w: element count overflows");
  ExpectParseError(OneTensor("w", {int64_t{1} << 62}, 28, 0, 64), "tensor w: byte size overflows");
  ExpectParseError(OneTensor("w", {4}, 0, 16, 64), "tensor w has offset 16, not a multiple of");
  ExpectParseError(OneTensor("w", {17}, 0, 0, 64), "tensor w (offset 0, 68 bytes) extends past");
  ExpectParseError(OneTensor("w", {4}, 0, uint64_t{1} << 63, 64), "extends past the end");
  ExpectParseError(OneTensor("w", {4}, 0, 64, 64), "extends past the end");
  // Valid: exactly fills the data section.
  const Bytes ok = OneTensor("w", {16}, 0, 0, 64);
  EXPECT_EQ(GgufFile::FromMemory(ok.bytes().data(), ok.size())->GetTensor("w").nbytes, 64u);

  Bytes dup;
  dup.Header(2, 0).TensorInfo("t", {1}, 0, 0).TensorInfo("t", {1}, 0, 32).PadTo(32).Zeros(64);
  ExpectParseError(dup, "duplicate tensor name 't'");
  // Tensor infos present but the file ends before the data section.
  Bytes nodata;
  nodata.Header(1, 0).TensorInfo("t", {1}, 0, 0);
  ExpectParseError(nodata, "data section would start at offset 64");
}

TEST(GgufHostile, OpenRejectsEmptyAndGarbageFiles) {
  const std::string path = ::testing::TempDir() + "/arkv_gguf_hostile.gguf";
  { std::ofstream(path, std::ios::binary); }
  EXPECT_THROW(GgufFile::Open(path), Error);
  { std::ofstream(path, std::ios::binary) << "not a gguf file at all"; }
  try {
    GgufFile::Open(path);
    ADD_FAILURE() << "garbage parsed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a GGUF file"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace arkv::gguf
