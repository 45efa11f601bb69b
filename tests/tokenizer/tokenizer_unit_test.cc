// Unit tests on small hand-made vocabularies: the merge rules, special
// tokens, pieces, streaming, pre-tokenizer details and error cases.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace arkv {
namespace {

using ::testing::HasSubstr;

constexpr const char* kSp = "\xE2\x96\x81";  // U+2581

struct VocabBuilder {
  VocabData v;
  int32_t Add(std::string text, float score = 0.0f, TokenType type = TokenType::kNormal) {
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
    v.types.push_back(type);
    return static_cast<int32_t>(v.tokens.size() - 1);
  }
};

// <unk> <s> </s>, optionally the 256 byte tokens, then normal tokens.
VocabBuilder SpmBase(bool byte_tokens) {
  VocabBuilder b;
  b.v.model = "llama";
  b.Add("<unk>", 0, TokenType::kUnknown);
  b.Add("<s>", 0, TokenType::kControl);
  b.Add("</s>", 0, TokenType::kControl);
  if (byte_tokens) {
    for (int i = 0; i < 256; ++i) b.Add(fmt::format("<0x{:02X}>", i), 0, TokenType::kByte);
  }
  return b;
}

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ')
      out += kSp;
    else
      out += c;
  }
  return out;
}

TEST(SpmTokenizer, HighestScoreMergesFirst) {
  VocabBuilder b = SpmBase(true);
  b.Add(kSp, -1);
  b.Add("a", -2);
  b.Add("b", -2);
  b.Add("c", -2);
  const int32_t sp_a = b.Add(Escape(" a"), -10);
  b.Add("ab", -20);
  const int32_t bc = b.Add("bc", -1);
  const auto t = Tokenizer::FromVocab(b.v);
  // "bc" (-1) beats "\u2581a" (-10) beats "ab" (-20); "abc" is no token.
  EXPECT_EQ(t->Encode("abc", false, false), (std::vector<int32_t>{sp_a, bc}));
  EXPECT_EQ(t->Decode(t->Encode("abc", false, false)), "abc");
}

TEST(SpmTokenizer, EqualScoresMergeLeftmostFirst) {
  VocabBuilder b = SpmBase(false);
  const int32_t sp = b.Add(kSp, -1000);
  const int32_t a = b.Add("a", -1000);
  const int32_t aa = b.Add("aa", -1000);
  const auto t = Tokenizer::FromVocab(b.v);
  EXPECT_EQ(t->Encode("aaa", false, false), (std::vector<int32_t>{sp, aa, a}));
  EXPECT_EQ(t->Encode("aaaa", false, false), (std::vector<int32_t>{sp, aa, aa}));
}

TEST(SpmTokenizer, SpacePrefixBosEosAndKeys) {
  VocabBuilder b = SpmBase(true);
  const int32_t sp = b.Add(kSp, -1);
  const int32_t h = b.Add("h", -1);
  const int32_t sp_h = b.Add(Escape(" h"), -0.5f);
  {
    const auto t = Tokenizer::FromVocab(b.v);
    EXPECT_TRUE(t->add_bos());
    EXPECT_FALSE(t->add_eos());
    EXPECT_EQ(t->Encode("h", true, false), (std::vector<int32_t>{1, sp_h}));
    EXPECT_EQ(t->Encode("", true, false), (std::vector<int32_t>{1}));
    EXPECT_EQ(t->Encode("", false, false), (std::vector<int32_t>{}));
    EXPECT_EQ(t->Encode(" h", false, false), (std::vector<int32_t>{sp, sp_h}));
  }
  b.v.add_space_prefix = false;
  b.v.add_bos = false;
  b.v.add_eos = true;
  const auto t = Tokenizer::FromVocab(b.v);
  EXPECT_EQ(t->Encode("h", true, false), (std::vector<int32_t>{h, 2}));
  EXPECT_EQ(t->Decode(std::vector<int32_t>{sp_h}), " h");  // no prefix to remove
}

TEST(SpmTokenizer, ByteFallbackAndUnknown) {
  {
    VocabBuilder b = SpmBase(true);
    b.Add(kSp, -1);
    const auto t = Tokenizer::FromVocab(b.v);
    // U+00E9 is not a token: its two bytes are.
    EXPECT_EQ(t->Encode("\xC3\xA9", false, false), (std::vector<int32_t>{259, 3 + 0xC3, 3 + 0xA9}));
    EXPECT_EQ(t->TokenToPiece(3 + 0xC3), "\xC3");
    EXPECT_EQ(t->Decode(t->Encode("\xC3\xA9 x", false, false)), "\xC3\xA9 x");
  }
  VocabBuilder b = SpmBase(false);
  const int32_t sp = b.Add(kSp, -1);
  const int32_t x = b.Add("x", -1);
  const auto t = Tokenizer::FromVocab(b.v);
  EXPECT_EQ(t->Encode("\xC3\xA9x", false, false), (std::vector<int32_t>{sp, 0, x}));
}

TEST(SpmTokenizer, SpecialTokensAndPieces) {
  VocabBuilder b = SpmBase(true);
  const int32_t sp = b.Add(kSp, -1);
  const int32_t s = b.Add("s", -1);
  const int32_t gt = b.Add(">", -1);
  const int32_t lt = b.Add("<", -1);
  const int32_t user = b.Add("<tool>", 0, TokenType::kUserDefined);
  const auto t = Tokenizer::FromVocab(b.v);
  // parse_special: "<s>" is BOS; a space is prefixed after a special token.
  EXPECT_EQ(t->Encode("<s>s", false, true), (std::vector<int32_t>{1, sp, s}));
  EXPECT_EQ(t->Encode("<s>", false, false), (std::vector<int32_t>{sp, lt, s, gt}));
  // User-defined tokens are matched even without parse_special.
  EXPECT_EQ(t->Encode("s<tool>s", false, false), (std::vector<int32_t>{sp, s, user, sp, s}));
  EXPECT_EQ(t->TokenToPiece(1), "");
  EXPECT_EQ(t->TokenToPiece(1, true), "<s>");
  EXPECT_EQ(t->TokenToPiece(0), "");
  EXPECT_EQ(t->TokenToPiece(user), "<tool>");
  EXPECT_EQ(t->TokenToPiece(sp), " ");
  EXPECT_EQ(t->TokenText(sp), kSp);
  EXPECT_EQ(t->FindToken("<tool>"), user);
  EXPECT_EQ(t->FindToken("nope"), -1);
  EXPECT_TRUE(t->IsEndOfGeneration(2));
  EXPECT_FALSE(t->IsEndOfGeneration(1));
  EXPECT_TRUE(t->IsControl(1));
  // Decode strips the prefix space of the first token only (llama.cpp).
  EXPECT_EQ(t->Decode(std::vector<int32_t>{sp, s}), "s");
  EXPECT_EQ(t->Decode(std::vector<int32_t>{1, sp, s}), " s");
}

// Special tokens that overlap: the longest is matched first wherever it
// occurs, whatever the ids' order (llama.cpp sorts them by length), and a
// shorter one only in what is left.
TEST(SpmTokenizer, OverlappingSpecialTokensMatchLongestFirst) {
  VocabBuilder b = SpmBase(true);
  const int32_t sp = b.Add(kSp, -1);
  const int32_t x = b.Add("x", -1);
  // The shorter ones get the lower ids.
  const int32_t tag = b.Add("<tag>", 0, TokenType::kUserDefined);
  const int32_t tag_end = b.Add("<tag>x", 0, TokenType::kUserDefined);
  const int32_t inner = b.Add("g>x<t", 0, TokenType::kUserDefined);
  const int32_t pair = b.Add("<tag>x<tag>", 0, TokenType::kControl);
  const auto t = Tokenizer::FromVocab(b.v);
  EXPECT_EQ(t->Encode("<tag>x<tag>", false, true), (std::vector<int32_t>{pair}));
  // Without parse_special the control token is plain text: "<tag>x" (6 bytes)
  // wins over "g>x<t" (5), then "<tag>" in the rest.
  EXPECT_EQ(t->Encode("<tag>x<tag>", false, false), (std::vector<int32_t>{tag_end, tag}));
  EXPECT_EQ(t->Encode("x<tag>x", false, false), (std::vector<int32_t>{sp, x, tag_end}));
  EXPECT_EQ(t->Encode("<tag><tag>x", false, false), (std::vector<int32_t>{tag, tag_end}));
  EXPECT_EQ(t->Encode("g>x<t", false, false), (std::vector<int32_t>{inner}));
}

TEST(SpmTokenizer, Phi3RightStripsAroundSpecialTokens) {
  VocabBuilder b = SpmBase(true);
  const int32_t sp = b.Add(kSp, -1);
  const int32_t x = b.Add("x", -1);
  const int32_t end = b.Add("<|end|>", 0, TokenType::kControl);
  b.v.model_name = "Phi3";
  const auto t = Tokenizer::FromVocab(b.v);
  EXPECT_EQ(t->Encode("x<|end|>  x", false, true), (std::vector<int32_t>{sp, x, end, sp, x}));
  EXPECT_TRUE(t->IsEndOfGeneration(end));
  b.v.model_name = "other";
  const auto u = Tokenizer::FromVocab(b.v);
  EXPECT_EQ(u->Encode("x<|end|> x", false, true), (std::vector<int32_t>{sp, x, end, sp, sp, x}));
}

TEST(StreamDecoder, HoldsBackSplitMultiByteCharacters) {
  VocabBuilder b = SpmBase(true);
  const int32_t sp = b.Add(kSp, -1);
  const auto t = Tokenizer::FromVocab(b.v);
  // "é€" as byte-fallback tokens: C3 A9 | E2 82 AC.
  const std::vector<int32_t> ids = t->Encode("\xC3\xA9\xE2\x82\xAC", false, false);
  ASSERT_EQ(ids, (std::vector<int32_t>{sp, 3 + 0xC3, 3 + 0xA9, 3 + 0xE2, 3 + 0x82, 3 + 0xAC}));
  StreamDecoder stream(*t);
  const std::vector<std::string> expected = {"", "", "\xC3\xA9", "", "", "\xE2\x82\xAC"};
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(stream.Push(ids[i]), expected[i]) << i;
  EXPECT_EQ(stream.Flush(), "");
  // A stream ending mid-character flushes U+FFFD: the output stays valid UTF-8.
  stream.Reset();
  EXPECT_EQ(stream.Push(sp), "");
  EXPECT_EQ(stream.Push(3 + 0xE2), "");
  EXPECT_EQ(stream.Flush(), "\xEF\xBF\xBD");
  // Bytes that cannot start or continue a character become U+FFFD at once.
  stream.Reset();
  EXPECT_EQ(stream.Push(sp), "");
  EXPECT_EQ(stream.Push(3 + 0x82), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.Push(3 + 0xFF), "\xEF\xBF\xBD");
  EXPECT_THROW(stream.Push(t->n_vocab()), Error);
}

TEST(StreamDecoder, CompleteUtf8Prefix) {
  EXPECT_EQ(CompleteUtf8Prefix(""), 0u);
  EXPECT_EQ(CompleteUtf8Prefix("abc"), 3u);
  EXPECT_EQ(CompleteUtf8Prefix("a\xC3"), 1u);
  EXPECT_EQ(CompleteUtf8Prefix("a\xC3\xA9"), 3u);
  EXPECT_EQ(CompleteUtf8Prefix("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(CompleteUtf8Prefix("\xF0\x9F\x98\x81"), 4u);
  EXPECT_EQ(CompleteUtf8Prefix("\xFF"), 1u);      // invalid: nothing to wait for
  EXPECT_EQ(CompleteUtf8Prefix("\x82\x82"), 2u);  // stray continuation bytes
}

// Byte-level vocabulary: the 256 byte symbols in byte order, then `merged`.
std::string Sym(std::string_view bytes) {
  std::string out;
  for (char c : bytes) out += unicode::ByteToSymbol(static_cast<uint8_t>(c));
  return out;
}

VocabBuilder BpeBase(std::string pre,
                     const std::vector<std::pair<std::string, std::string>>& merges) {
  VocabBuilder b;
  b.v.model = "gpt2";
  b.v.pre = std::move(pre);
  for (int i = 0; i < 256; ++i) b.Add(Sym(std::string(1, static_cast<char>(i))));
  for (const auto& [l, r] : merges) {
    b.v.merges.push_back(Sym(l) + " " + Sym(r));
    if (std::find(b.v.tokens.begin(), b.v.tokens.end(), Sym(l + r)) == b.v.tokens.end()) {
      b.Add(Sym(l + r));
    }
  }
  return b;
}

TEST(BpeTokenizer, LowestRankMergesFirst) {
  VocabBuilder b = BpeBase("gpt-2", {{"l", "l"}, {"h", "e"}, {"he", "ll"}, {"e", "l"}, {" ", "w"}});
  const auto t = Tokenizer::FromVocab(b.v);
  const int32_t hell = t->FindToken(Sym("hell"));
  const int32_t sp_w = t->FindToken(Sym(" w"));
  ASSERT_GE(hell, 256);
  // "el" (rank 3) would steal the "e" from "he" if ranks were ignored.
  EXPECT_EQ(t->Encode("hello wo", false, false), (std::vector<int32_t>{hell, 'o', sp_w, 'o'}));
  EXPECT_EQ(t->Decode(t->Encode("hello wo", false, false)), "hello wo");
  EXPECT_FALSE(t->add_bos());
  EXPECT_EQ(t->bos_id(), 11);  // llama.cpp's gpt2 default
}

TEST(BpeTokenizer, EqualRanksMergeLeftmostFirst) {
  VocabBuilder b = BpeBase("gpt-2", {{"a", "a"}});
  const auto t = Tokenizer::FromVocab(b.v);
  const int32_t aa = t->FindToken(Sym("aa"));
  EXPECT_EQ(t->Encode("aaa", false, false), (std::vector<int32_t>{aa, 'a'}));
}

TEST(BpeTokenizer, IgnoreMergesTakesWholeTokens) {
  // llama-bpe takes a pre-tokenized word that is a token as is, even when
  // the merges could not build it.
  VocabBuilder b = BpeBase("llama-bpe", {{"a", "b"}});
  const int32_t abc = b.Add(Sym("abc"));
  b.Add("<|begin_of_text|>", 0, TokenType::kControl);
  b.v.bos_id = b.v.tokens.size() - 1;
  const auto t = Tokenizer::FromVocab(b.v);
  EXPECT_TRUE(t->add_bos());
  EXPECT_EQ(t->Encode("abc", true, false),
            (std::vector<int32_t>{static_cast<int32_t>(*b.v.bos_id), abc}));
  b.v.pre = "gpt2";
  b.v.add_bos = false;
  const auto u = Tokenizer::FromVocab(b.v);
  EXPECT_EQ(u->Encode("abc", true, false), (std::vector<int32_t>{u->FindToken(Sym("ab")), 'c'}));
}

TEST(BpeTokenizer, SpecialTokensEogAndInvalidUtf8) {
  VocabBuilder b = BpeBase("qwen2", {});
  const int32_t eot = b.Add("<|endoftext|>", 0, TokenType::kControl);
  const int32_t im_end = b.Add("<|im_end|>", 0, TokenType::kControl);
  const int32_t user = b.Add("<tool>", 0, TokenType::kUserDefined);
  b.v.eos_id = im_end;
  b.v.bos_id = eot;
  const auto t = Tokenizer::FromVocab(b.v);
  EXPECT_EQ(t->Encode("a<|im_end|>", false, true), (std::vector<int32_t>{'a', im_end}));
  EXPECT_EQ(t->Encode("<|im_end|>", false, false).size(), 10u);  // its bytes
  EXPECT_EQ(t->Encode("<tool>", false, false), (std::vector<int32_t>{user}));
  EXPECT_TRUE(t->IsEndOfGeneration(im_end));
  EXPECT_TRUE(t->IsEndOfGeneration(eot));
  EXPECT_FALSE(t->IsEndOfGeneration(user));
  EXPECT_EQ(t->TokenToPiece(im_end), "");
  EXPECT_EQ(t->TokenToPiece(im_end, true), "<|im_end|>");
  // An invalid byte becomes U+FFFD (as in llama.cpp), never a crash.
  EXPECT_EQ(t->Decode(t->Encode("a\xFF", false, false)), "a\xEF\xBF\xBD");
  // Every byte value round-trips through the byte symbols.
  for (int i = 0; i < 256; ++i) EXPECT_EQ(t->TokenToPiece(i), std::string(1, static_cast<char>(i)));
}

TEST(BpeTokenizer, DetectsEndOfTurnTokensByText) {
  VocabBuilder b = BpeBase("deepseek-coder", {});
  const int32_t eos = b.Add("<eos>", 0, TokenType::kControl);
  const int32_t eot = b.Add(
      "<\xEF\xBD\x9C"
      "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
      0, TokenType::kControl);
  b.v.eos_id = eos;
  const auto t = Tokenizer::FromVocab(b.v);
  EXPECT_EQ(t->eot_id(), eot);
  EXPECT_TRUE(t->IsEndOfGeneration(eos));
  EXPECT_TRUE(t->IsEndOfGeneration(eot));
  b.v.eot_id = -1;
  EXPECT_EQ(Tokenizer::FromVocab(b.v)->eot_id(), eot);  // -1 means "not given"
}

std::vector<std::string> SplitWith(std::string_view pre, std::string_view text) {
  Pretokenizer p(PretokenizerSpecFor(pre).regexes);
  std::vector<std::string> out;
  for (const auto& piece : p.Split(text)) out.emplace_back(text.substr(piece.offset, piece.length));
  return out;
}

using Pieces = std::vector<std::string>;

TEST(Pretokenizer, Llama3ContractionsAndDigits) {
  EXPECT_EQ(SplitWith("llama-bpe", "I'VE 12345 words"),
            (Pieces{"I", "'VE", " ", "123", "45", " words"}));
  // Only ASCII letters are case-insensitive: U+017F is no 's'.
  EXPECT_EQ(SplitWith("llama-bpe", "x'\xC5\xBFt"), (Pieces{"x", "'\xC5\xBFt"}));
  EXPECT_EQ(SplitWith("llama3", "a  \n\nb"), (Pieces{"a", "  \n\n", "b"}));
  EXPECT_EQ(SplitWith("qwen2", "12345"), (Pieces{"1", "2", "3", "4", "5"}));
}

TEST(Pretokenizer, Gpt2AndWhitespace) {
  EXPECT_EQ(SplitWith("gpt-2", "Hello  world's"), (Pieces{"Hello", " ", " world", "'s"}));
  // U+0085 is whitespace for llama.cpp (not for PCRE2's own \s): it must
  // not join the punctuation run.
  EXPECT_EQ(SplitWith("gpt2", "x\xC2\x85!"), (Pieces{"x", "\xC2\x85", "!"}));
  EXPECT_EQ(SplitWith("gpt2", ""), (Pieces{}));
}

TEST(Pretokenizer, DefaultAndDeepseekCoderSequences) {
  // deepseek-coder: newlines alone, letters with one leading space, digits
  // one by one; the gaps between matches stay pieces.
  EXPECT_EQ(SplitWith("deepseek-coder", "ab 12\n"), (Pieces{"ab", " ", "1", "2", "\n"}));
  EXPECT_EQ(SplitWith("default", "a+b 1234"), (Pieces{"a", "+", "b", " ", "123", "4"}));
}

TEST(Unicode, SanitizeAndByteSymbols) {
  EXPECT_EQ(unicode::Sanitize("ok"), "ok");
  EXPECT_EQ(unicode::Sanitize("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(unicode::Sanitize("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(unicode::ByteToSymbol(' '), "\xC4\xA0");  // U+0120 'Ġ'
  EXPECT_EQ(unicode::ByteToSymbol('!'), "!");
  EXPECT_EQ(unicode::SymbolToByte(0x120), ' ');
  EXPECT_EQ(unicode::SymbolToByte(0x4E00), -1);
}

TEST(PairTable, GrowsAndKeepsTheFirstValue) {
  PairTable<int> table;
  for (int i = 0; i < 1000; ++i) table.Insert(Tokenizer::Impl::MergeKey(i, i + 1), i);
  for (int i = 0; i < 1000; ++i) table.Insert(Tokenizer::Impl::MergeKey(i, i + 1), -1);
  EXPECT_EQ(table.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    const int* v = table.Find(Tokenizer::Impl::MergeKey(i, i + 1));
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(*v, i);
  }
  EXPECT_EQ(table.Find(Tokenizer::Impl::MergeKey(1, 0)), nullptr);
  EXPECT_EQ(PairTable<int>().Find(0), nullptr);
}

void ExpectError(const VocabData& v, std::string_view needle) {
  try {
    Tokenizer::FromVocab(v);
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr(std::string(needle)));
  }
}

TEST(TokenizerErrors, BadVocabularies) {
  VocabBuilder b = SpmBase(true);
  b.Add(kSp, -1);
  {
    VocabData v = b.v;
    v.model = "t5";
    ExpectError(v, "unknown tokenizer model 't5'");
  }
  {
    VocabData v = b.v;
    v.model = "";
    ExpectError(v, "tokenizer.ggml.model");
  }
  {
    VocabData v = b.v;
    v.scores.pop_back();
    ExpectError(v, "tokenizer.ggml.scores has");
  }
  {
    VocabData v = b.v;
    v.types.push_back(TokenType::kNormal);
    ExpectError(v, "tokenizer.ggml.token_type has");
  }
  {
    VocabData v = b.v;
    v.types[5] = static_cast<TokenType>(9);
    ExpectError(v, "token_type[5] = 9");
  }
  {
    VocabData v = b.v;
    v.eos_id = 100000;
    ExpectError(v, "eos_token_id = 100000 is out of range");
  }
  {
    VocabData v = b.v;
    v.sep_id = 0xFFFFFFFFLL;  // "none", as converters write it
    EXPECT_NO_THROW(Tokenizer::FromVocab(v));
  }
  {
    VocabData v = b.v;
    v.tokens[3] = "<0xZZ>";
    ExpectError(v, "is not <0xXX>");
  }
  {
    VocabData v = b.v;
    v.tokens.clear();
    v.scores.clear();
    v.types.clear();
    ExpectError(v, "empty");
  }
  {
    VocabData v = b.v;
    v.bos_id = -1;
    ExpectError(v, "no BOS token");
  }
  VocabBuilder g = BpeBase("gpt2", {{"a", "b"}});
  {
    VocabData v = g.v;
    v.pre = "mystery";
    try {
      Tokenizer::FromVocab(v);
      ADD_FAILURE() << "unknown pre-tokenizer accepted";
    } catch (const Error& e) {
      EXPECT_THAT(std::string(e.what()), HasSubstr("unknown pre-tokenizer 'mystery'"));
      EXPECT_THAT(std::string(e.what()), HasSubstr("llama-bpe"));
      EXPECT_THAT(std::string(e.what()), HasSubstr("qwen2"));
    }
  }
  {
    VocabData v = g.v;
    v.merges.push_back("nospace");
    ExpectError(v, "tokenizer.ggml.merges[1] = 'nospace'");
  }
}

TEST(TokenizerErrors, OutOfRangeIds) {
  VocabBuilder b = SpmBase(true);
  const auto t = Tokenizer::FromVocab(b.v);
  EXPECT_THROW(t->TokenToPiece(-1), Error);
  EXPECT_THROW(t->TokenToPiece(t->n_vocab()), Error);
  EXPECT_THROW(t->TokenText(t->n_vocab()), Error);
  EXPECT_THROW(t->Decode(std::vector<int32_t>{0, 99999}), Error);
  EXPECT_FALSE(t->IsEndOfGeneration(-5));
}

std::unique_ptr<Tokenizer> FromWriter(const gguf::GgufWriter& w, std::vector<uint8_t>& storage) {
  storage = w.Serialize();
  const auto file = gguf::GgufFile::FromMemory(storage.data(), storage.size());
  return Tokenizer::FromGguf(*file);
}

TEST(TokenizerGguf, ReadsKeysAndRejectsBadFiles) {
  std::vector<uint8_t> storage;
  {
    gguf::GgufWriter w;
    w.AddString("tokenizer.ggml.model", "llama");
    w.AddStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", kSp, "x", Escape(" x")});
    w.AddFloat32Array("tokenizer.ggml.scores", {0, 0, 0, -1, -1, -0.5f});
    w.AddInt32Array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1});
    w.AddUint32("tokenizer.ggml.bos_token_id", 1);
    w.AddUint32("tokenizer.ggml.eos_token_id", 2);
    w.AddBool("tokenizer.ggml.add_bos_token", false);
    const auto t = FromWriter(w, storage);
    EXPECT_EQ(t->n_vocab(), 6);
    EXPECT_FALSE(t->add_bos());
    EXPECT_EQ(t->Encode("x", true, false), (std::vector<int32_t>{5}));
    EXPECT_EQ(t->GetTokenType(0), TokenType::kUnknown);
    EXPECT_FLOAT_EQ(t->TokenScore(5), -0.5f);
  }
  {
    gguf::GgufWriter w;
    w.AddString("tokenizer.ggml.model", "llama");
    EXPECT_THROW(
        {
          try {
            FromWriter(w, storage);
          } catch (const Error& e) {
            EXPECT_THAT(std::string(e.what()), HasSubstr("tokenizer.ggml.tokens"));
            throw;
          }
        },
        Error);
  }
  {
    gguf::GgufWriter w;
    w.AddStringArray("tokenizer.ggml.tokens", {"a"});
    EXPECT_THROW(FromWriter(w, storage), Error);  // no model
  }
  {
    gguf::GgufWriter w;
    w.AddString("tokenizer.ggml.model", "gpt2");
    w.AddStringArray("tokenizer.ggml.tokens", {"a", "b"});
    try {
      FromWriter(w, storage);
      ADD_FAILURE() << "gpt2 without merges accepted";
    } catch (const Error& e) {
      EXPECT_THAT(std::string(e.what()), HasSubstr("tokenizer.ggml.merges"));
    }
  }
  {
    gguf::GgufWriter w;
    w.AddString("tokenizer.ggml.model", "llama");
    w.AddStringArray("tokenizer.ggml.tokens", {"a", "b"});
    w.AddInt32Array("tokenizer.ggml.token_type", {1, 42});
    try {
      FromWriter(w, storage);
      ADD_FAILURE() << "bad token type accepted";
    } catch (const Error& e) {
      EXPECT_THAT(std::string(e.what()), HasSubstr("token_type[1] = 42"));
    }
  }
}

}  // namespace
}  // namespace arkv
