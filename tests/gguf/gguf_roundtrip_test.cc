// GgufWriter -> GgufFile round trips, the writer's bytes against a hand
// encoding, and the typed accessors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf_bytes.h"

namespace arkv::gguf {
namespace {

using testing::Bytes;

Value Make(ValueType t, std::variant<uint64_t, int64_t, double, bool, std::string, Array> d) {
  Value v;
  v.type = t;
  v.data = std::move(d);
  return v;
}

Value MakeArray(ValueType elem, std::vector<Value> items) {
  return Make(ValueType::kArray, Array{elem, std::move(items)});
}

std::unique_ptr<GgufFile> Parse(const std::vector<uint8_t>& bytes) {
  return GgufFile::FromMemory(bytes.data(), bytes.size());
}

// Expects fn to throw arkv::Error whose message contains `part`.
template <typename Fn>
void ExpectError(Fn&& fn, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << part;
  }
}

TEST(GgufRoundTrip, EveryScalarType) {
  GgufWriter w;
  w.AddValue("u8", Make(ValueType::kUint8, uint64_t{255}));
  w.AddValue("i8", Make(ValueType::kInt8, int64_t{-128}));
  w.AddValue("u16", Make(ValueType::kUint16, uint64_t{65535}));
  w.AddValue("i16", Make(ValueType::kInt16, int64_t{-32768}));
  w.AddUint32("u32", 4294967295u);
  w.AddInt32("i32", std::numeric_limits<int32_t>::min());
  w.AddUint64("u64", std::numeric_limits<uint64_t>::max());
  w.AddValue("i64", Make(ValueType::kInt64, std::numeric_limits<int64_t>::min()));
  w.AddFloat32("f32", 0.1f);
  w.AddValue("f64", Make(ValueType::kFloat64, 0.1));
  w.AddBool("t", true);
  w.AddBool("f", false);
  w.AddString("s", std::string("caf\xc3\xa9\0nul", 9));
  w.AddString("empty", "");
  const std::vector<uint8_t> bytes = w.Serialize();
  const auto f = Parse(bytes);

  EXPECT_EQ(f->version(), 3u);
  ASSERT_EQ(f->metadata().size(), 14u);
  EXPECT_EQ(f->metadata()[0].key, "u8");  // order kept
  EXPECT_EQ(f->Find("u8")->type, ValueType::kUint8);
  EXPECT_EQ(f->Find("u8")->AsUint("u8"), 255u);
  EXPECT_EQ(f->Find("i8")->type, ValueType::kInt8);
  EXPECT_EQ(f->Find("i8")->AsInt("i8"), -128);
  EXPECT_EQ(f->Find("u16")->AsInt("u16"), 65535);
  EXPECT_EQ(f->Find("i16")->AsInt("i16"), -32768);
  EXPECT_EQ(f->Find("u32")->type, ValueType::kUint32);
  EXPECT_EQ(f->GetInt("u32", 0), 4294967295);
  EXPECT_EQ(f->Find("i32")->type, ValueType::kInt32);
  EXPECT_EQ(f->RequireInt("i32"), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(f->Find("u64")->AsUint("u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f->Find("i64")->AsInt("i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f->Find("f32")->type, ValueType::kFloat32);
  EXPECT_EQ(f->GetFloat("f32", 0), static_cast<double>(0.1f));  // float precision kept
  EXPECT_EQ(f->Find("f64")->type, ValueType::kFloat64);
  EXPECT_EQ(f->GetFloat("f64", 0), 0.1);
  EXPECT_TRUE(f->GetBool("t", false));
  EXPECT_FALSE(f->GetBool("f", true));
  EXPECT_EQ(f->RequireString("s"), std::string("caf\xc3\xa9\0nul", 9));
  EXPECT_EQ(f->GetString("empty", "x"), "");
  EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufRoundTrip, ArraysIncludingNested) {
  GgufWriter w;
  w.AddStringArray("tokens", {"<s>", "", "hello"});
  w.AddFloat32Array("scores", {-1000.f, 0.5f});
  w.AddInt32Array("types", {1, -2, 3});
  w.AddInt32Array("none", {});
  // [[1, 2], [], [3]] as uint16, and [["a"], ["b", "c"]].
  w.AddValue("nested",
             MakeArray(ValueType::kArray,
                       {MakeArray(ValueType::kUint16, {Make(ValueType::kUint16, uint64_t{1}),
                                                       Make(ValueType::kUint16, uint64_t{2})}),
                        MakeArray(ValueType::kUint16, {}),
                        MakeArray(ValueType::kUint16, {Make(ValueType::kUint16, uint64_t{3})})}));
  w.AddValue("merges", MakeArray(ValueType::kArray,
                                 {MakeArray(ValueType::kString, {Make(ValueType::kString, "a")}),
                                  MakeArray(ValueType::kString, {Make(ValueType::kString, "b"),
                                                                 Make(ValueType::kString, "c")})}));
  const auto bytes = w.Serialize();
  const auto f = Parse(bytes);

  const Array& tokens = f->Find("tokens")->AsArray("tokens");
  EXPECT_EQ(tokens.elem_type, ValueType::kString);
  ASSERT_EQ(tokens.items.size(), 3u);
  EXPECT_EQ(tokens.items[0].AsString("t"), "<s>");
  EXPECT_EQ(tokens.items[1].AsString("t"), "");
  EXPECT_EQ(tokens.items[2].AsString("t"), "hello");
  const Array& scores = f->Find("scores")->AsArray("scores");
  ASSERT_EQ(scores.items.size(), 2u);
  EXPECT_EQ(scores.items[0].type, ValueType::kFloat32);
  EXPECT_EQ(scores.items[0].AsFloat("s"), -1000.0);
  EXPECT_EQ(scores.items[1].AsFloat("s"), 0.5);
  const Array& types = f->Find("types")->AsArray("types");
  ASSERT_EQ(types.items.size(), 3u);
  EXPECT_EQ(types.items[1].AsInt("t"), -2);
  EXPECT_EQ(f->Find("none")->AsArray("none").elem_type, ValueType::kInt32);
  EXPECT_TRUE(f->Find("none")->AsArray("none").items.empty());

  const Array& nested = f->Find("nested")->AsArray("nested");
  EXPECT_EQ(nested.elem_type, ValueType::kArray);
  ASSERT_EQ(nested.items.size(), 3u);
  const Array& first = nested.items[0].AsArray("n");
  EXPECT_EQ(first.elem_type, ValueType::kUint16);
  ASSERT_EQ(first.items.size(), 2u);
  EXPECT_EQ(first.items[1].AsInt("n"), 2);
  EXPECT_TRUE(nested.items[1].AsArray("n").items.empty());
  EXPECT_EQ(nested.items[2].AsArray("n").items[0].AsInt("n"), 3);
  const Array& merges = f->Find("merges")->AsArray("merges");
  ASSERT_EQ(merges.items.size(), 2u);
  EXPECT_EQ(merges.items[1].AsArray("m").items[1].AsString("m"), "c");
}

// Arrays nested kMaxArrayDepth deep are fine; one more level is rejected by
// both the writer and the reader.
Value NestedArray(int depth) {
  Value v = Make(ValueType::kUint8, uint64_t{7});
  for (int i = 0; i < depth; ++i) v = MakeArray(v.type, {v});
  return v;
}

TEST(GgufRoundTrip, NestingDepthLimit) {
  {
    GgufWriter w;
    w.AddValue("deep", NestedArray(GgufFile::kMaxArrayDepth));
    const auto bytes = w.Serialize();
    const auto f = Parse(bytes);
    const Value* v = f->Find("deep");
    for (int i = 0; i < GgufFile::kMaxArrayDepth; ++i) v = &v->AsArray("deep").items.at(0);
    EXPECT_EQ(v->AsInt("deep"), 7);
  }
  GgufWriter w;
  w.AddValue("deep", NestedArray(GgufFile::kMaxArrayDepth + 1));
  ExpectError([&] { w.Serialize(); }, "deep");

  Bytes b;
  b.Header(0, 1).Key("deep", 9);
  for (int i = 0; i < GgufFile::kMaxArrayDepth; ++i) b.U32(9).U64(1);
  b.U32(0).U64(1).U8(7);  // innermost: [7] as uint8, one level too deep
  ExpectError([&] { Parse(b.bytes()); }, "nests arrays deeper than 16");
}

// The writer's output, byte for byte, against the format written out by hand.
TEST(GgufRoundTrip, WriterBytesMatchFormat) {
  GgufWriter w;
  w.AddUint32("a", 5);
  w.AddStringArray("t", {"xy"});
  std::vector<uint8_t> data(3 * 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i + 1);
  w.AddTensor("w", GgmlType::kF32, {3}, data);
  w.AddTensor("v", GgmlType::kI8, {2}, {9, 8});

  Bytes b;
  b.Header(2, 2).Key("a", 4).U32(5).Key("t", 9).U32(8).U64(1).Str("xy");
  b.TensorInfo("w", {3}, 0, 0).TensorInfo("v", {2}, 24, 32).PadTo(32);
  for (uint8_t x : data) b.U8(x);
  b.PadTo(32).U8(9).U8(8).PadTo(32);
  EXPECT_EQ(w.Serialize(), b.bytes());
}

TEST(GgufRoundTrip, ReadsVersion2) {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  std::vector<uint8_t> bytes = w.Serialize();
  bytes[4] = 2;  // the v2 layout is the same for little-endian files
  const auto f = Parse(bytes);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->RequireString("general.architecture"), "llama");
}

// Every known type: a [2 blocks, 3 rows] tensor has 6 blocks of type_size.
TEST(GgufRoundTrip, EveryTensorTypeSizeRule) {
  GgufWriter w;
  std::vector<std::pair<std::string, size_t>> expected;
  for (uint32_t id = 0; id < 64; ++id) {
    const TypeTraits t = GetTypeTraits(id);
    if (!t.known) continue;
    const size_t nbytes = 6 * t.type_size;
    std::vector<uint8_t> data(nbytes);
    for (size_t i = 0; i < nbytes; ++i) data[i] = static_cast<uint8_t>(i * 7 + id);
    const std::string name = "t." + std::string(t.name);
    w.AddTensor(name, static_cast<GgmlType>(id), {2 * t.block_size, 3}, data);
    expected.emplace_back(name, nbytes);
    // Wrong data size and a row that is not whole blocks are rejected.
    ExpectError(
        [&] {
          w.AddTensor("bad", static_cast<GgmlType>(id), {2 * t.block_size, 3},
                      std::vector<uint8_t>(nbytes + 1));
        },
        "tensor bad");
    if (t.block_size > 1) {
      EXPECT_THROW(w.AddTensor("bad", static_cast<GgmlType>(id), {t.block_size + 1}, {}), Error);
    }
  }
  EXPECT_EQ(expected.size(), 32u);
  const auto bytes = w.Serialize();
  const auto f = Parse(bytes);
  ASSERT_EQ(f->tensors().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const TensorInfo& t = f->tensors()[i];
    EXPECT_EQ(t.name, expected[i].first);
    EXPECT_EQ(t.nbytes, expected[i].second) << t.name;
    EXPECT_EQ(t.n_dims, 2);
    EXPECT_EQ(t.ne[1], 3);
    EXPECT_EQ(t.ne[2], 1);
    EXPECT_EQ(t.n_rows(), 3);
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ(t.data, bytes.data() + f->data_offset() + t.offset);
    const uint32_t id = static_cast<uint32_t>(t.type);
    for (size_t j = 0; j < t.nbytes; ++j) {
      ASSERT_EQ(t.data[j], static_cast<uint8_t>(j * 7 + id)) << t.name << " byte " << j;
    }
  }
}

TEST(GgufRoundTrip, AlignmentAndFileWrite) {
  GgufWriter w;
  w.SetAlignment(64);
  w.SetAlignment(128);  // replaces, does not duplicate, general.alignment
  w.AddTensor("a", GgmlType::kF16, {3}, {1, 2, 3, 4, 5, 6});
  w.AddTensor("b", GgmlType::kF32, {1, 2, 1, 2}, std::vector<uint8_t>(16, 0xab));
  ExpectError([&] { w.SetAlignment(48); }, "48");
  ExpectError([&] { w.SetAlignment(0); }, "power of two");

  const std::string path = ::testing::TempDir() + "/arkv_gguf_roundtrip.gguf";
  w.Write(path);
  const auto f = GgufFile::Open(path);
  std::filesystem::remove(path);
  EXPECT_EQ(f->alignment(), 128u);
  EXPECT_EQ(f->metadata().size(), 1u);
  EXPECT_EQ(f->data_offset() % 128, 0u);
  const TensorInfo& b = f->GetTensor("b");
  EXPECT_EQ(b.offset, 128u);
  EXPECT_EQ(b.n_dims, 4);
  EXPECT_EQ(b.n_elements(), 4);
  EXPECT_EQ(b.nbytes, 16u);
  // The mapping is page aligned, so the data is aligned in memory too.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data) % 128, 0u);
  EXPECT_EQ(b.data[15], 0xab);
  EXPECT_EQ(f->GetTensor("a").data[5], 6);
  EXPECT_EQ(f->file_size(), f->data_offset() + 256);
  ExpectError([&] { w.Write("/nonexistent-dir/x.gguf"); }, "/nonexistent-dir/x.gguf");
}

TEST(GgufRoundTrip, WriterRejectsBadInput) {
  {
    GgufWriter w;
    w.AddUint32("k", 1);
    w.AddUint32("k", 2);
    ExpectError([&] { w.Serialize(); }, "duplicate metadata key 'k'");
  }
  {
    GgufWriter w;
    w.AddTensor("t", GgmlType::kF32, {1}, {0, 0, 0, 0});
    w.AddTensor("t", GgmlType::kF32, {1}, {0, 0, 0, 0});
    ExpectError([&] { w.Serialize(); }, "duplicate tensor name 't'");
  }
  {
    GgufWriter w;
    w.AddValue("small", Make(ValueType::kUint8, uint64_t{256}));
    ExpectError([&] { w.Serialize(); }, "small");
  }
  {
    GgufWriter w;
    w.AddValue("mixed", MakeArray(ValueType::kInt32, {Make(ValueType::kFloat32, 1.0)}));
    ExpectError([&] { w.Serialize(); }, "mixed");
  }
  {
    GgufWriter w;
    w.AddUint32("general.alignment", 12);
    ExpectError([&] { w.Serialize(); }, "general.alignment");
  }
  GgufWriter w;
  ExpectError([&] { w.AddTensor("e", GgmlType::kF32, {}, {}); }, "tensor e");
  ExpectError([&] { w.AddTensor("z", GgmlType::kF32, {0}, {}); }, "tensor z");
  ExpectError([&] { w.AddTensor("u", static_cast<GgmlType>(4), {1}, {0}); }, "tensor u");
}

TEST(GgufValues, TypedAccessorsRejectWrongTypes) {
  GgufWriter w;
  w.AddUint64("big", std::numeric_limits<uint64_t>::max());
  w.AddInt32("neg", -1);
  w.AddString("name", "x");
  w.AddBool("flag", true);
  w.AddFloat32("eps", 1e-5f);
  w.AddInt32Array("ids", {1});
  const auto bytes = w.Serialize();
  const auto f = Parse(bytes);

  ExpectError([&] { f->GetInt("big", 0); }, "big: value 18446744073709551615 does not fit");
  ExpectError([&] { f->Find("neg")->AsUint("neg"); }, "neg");
  EXPECT_EQ(f->GetInt("neg", 0), -1);
  EXPECT_EQ(f->GetFloat("neg", 0), -1.0);  // integers widen to float
  ExpectError([&] { f->GetInt("name", 0); }, "name: expected an integer, got string");
  ExpectError([&] { f->GetInt("eps", 0); }, "eps: expected an integer, got float32");
  ExpectError([&] { f->GetFloat("flag", 0); }, "flag: expected a number, got bool");
  ExpectError([&] { f->GetBool("neg", false); }, "neg: expected bool, got int32");
  ExpectError([&] { f->GetString("ids", ""); }, "ids: expected string, got array");
  ExpectError([&] { f->Find("name")->AsArray("name"); }, "name: expected array, got string");
  ExpectError([&] { f->RequireInt("absent.key"); }, "missing metadata key absent.key");
  ExpectError([&] { f->RequireString("absent.key"); }, "missing metadata key absent.key");
  ExpectError([&] { f->GetTensor("nope"); }, "missing tensor nope");
  EXPECT_EQ(f->GetInt("absent", 42), 42);
  EXPECT_EQ(f->GetFloat("absent", 2.5), 2.5);
  EXPECT_TRUE(f->GetBool("absent", true));
  EXPECT_EQ(f->GetString("absent", "dflt"), "dflt");
  EXPECT_EQ(f->Find("absent"), nullptr);
  EXPECT_NEAR(f->GetFloat("eps", 0), 1e-5, 1e-12);
  EXPECT_EQ(ValueTypeName(ValueType::kFloat64), "float64");
}

}  // namespace
}  // namespace arkv::gguf
