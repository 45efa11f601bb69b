// Stop strings and UTF-8 in streamed text: the client sees whole characters
// only, never a stop string nor what follows it, and every byte that is not
// part of one; logprobs go out with the text of their token.
#include "server/text_stream.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "server/choice_builder.h"

namespace arkv::server {
namespace {

// Pushes `pieces` one by one; returns every output in order plus the final flush.
std::vector<std::string> PushAll(StopFilter& f, const std::vector<std::string>& pieces) {
  std::vector<std::string> out;
  for (const std::string& p : pieces) out.push_back(f.Push(p));
  out.push_back(f.Finish());
  return out;
}

TEST(StopFilter, WithoutStopsPassesEverything) {
  StopFilter f({});
  EXPECT_EQ(PushAll(f, {"a", "bc", ""}), (std::vector<std::string>{"a", "bc", "", ""}));
  EXPECT_FALSE(f.stopped());
  EXPECT_EQ(f.emitted(), 3u);
}

TEST(StopFilter, HoldsBackAPossibleStartAndCutsAtTheStop) {
  StopFilter f({"END"});
  EXPECT_EQ(f.Push("The E"), "The ");  // "E" may start END
  EXPECT_EQ(f.Push("N"), "");          // "EN" too
  EXPECT_EQ(f.Push("D of it"), "");    // END: nothing after it, nothing of it
  EXPECT_TRUE(f.stopped());
  EXPECT_EQ(f.Push("more"), "");
  EXPECT_EQ(f.Finish(), "");
  EXPECT_EQ(f.emitted(), 4u);
}

TEST(StopFilter, ReleasesAFalseStart) {
  StopFilter f({"END"});
  EXPECT_EQ(f.Push("EN"), "");
  EXPECT_EQ(f.Push("x"), "ENx");
  EXPECT_EQ(f.Push("E"), "");
  EXPECT_EQ(f.Finish(), "E");  // the stream ended: a held start is text after all
  EXPECT_FALSE(f.stopped());
}

TEST(StopFilter, FirstOfSeveralStopsWinsAndOverlapsAreFound) {
  StopFilter f({"bcd", "cx", "\n\n"});
  EXPECT_EQ(f.Push("ab"), "a");
  EXPECT_EQ(f.Push("cx"), "b");  // "cx" completes first, "bcd" never does
  EXPECT_TRUE(f.stopped());

  StopFilter g({"aab"});
  EXPECT_EQ(g.Push("aa"), "");
  EXPECT_EQ(g.Push("a"), "a");  // "aaa": the tail "aa" may still start "aab"
  EXPECT_EQ(g.Push("b!"), "");
  EXPECT_TRUE(g.stopped());
  EXPECT_EQ(g.emitted(), 1u);

  StopFilter h({"x"});
  EXPECT_EQ(h.Push("x"), "");  // a stop at the very start: empty text
  EXPECT_TRUE(h.stopped());
}

TEST(StopFilter, MultiByteStopsCutOnCharacterBoundaries) {
  // "é" is C3 A9; the stop "éa" starts with it, so a held tail starts at C3.
  StopFilter f(
      {"\xC3\xA9"
       "a"});
  EXPECT_EQ(f.Push("x\xC3\xA9"), "x");
  EXPECT_EQ(f.Push("b"),
            "\xC3\xA9"
            "b");
  EXPECT_EQ(f.Push("\xC3\xA9"
                   "a"),
            "");
  EXPECT_TRUE(f.stopped());
}

// A small SentencePiece vocabulary: <unk> <s> </s>, the 256 byte tokens
// (ids 3..258), then a few words.
class TokenTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VocabData v;
    v.model = "llama";
    auto add = [&](std::string text, TokenType type) {
      v.tokens.push_back(std::move(text));
      v.scores.push_back(0);
      v.types.push_back(type);
      return static_cast<int32_t>(v.tokens.size() - 1);
    };
    add("<unk>", TokenType::kUnknown);
    add("<s>", TokenType::kControl);
    add("</s>", TokenType::kControl);
    for (int i = 0; i < 256; ++i) add(fmt::format("<0x{:02X}>", i), TokenType::kByte);
    hello_ = add("Hello", TokenType::kNormal);
    world_ = add("\xE2\x96\x81world", TokenType::kNormal);  // "▁world"
    en_ = add("EN", TokenType::kNormal);
    d_ = add("D!", TokenType::kNormal);
    v.add_space_prefix = false;
    tokenizer_ = Tokenizer::FromVocab(v);
  }
  int32_t Byte(uint8_t b) const { return 3 + b; }

  std::unique_ptr<Tokenizer> tokenizer_;
  int32_t hello_ = 0, world_ = 0, en_ = 0, d_ = 0;
};

TEST_F(TokenTextTest, SplitCharactersWaitForTheirLastByte) {
  TokenTextStream s(*tokenizer_, {});
  size_t offset = 99;
  EXPECT_EQ(s.Push(hello_, &offset), "Hello");
  EXPECT_EQ(offset, 0u);
  // U+2713 (E2 9C 93) arrives one byte token at a time.
  EXPECT_EQ(s.Push(Byte(0xE2)), "");
  EXPECT_EQ(s.Push(Byte(0x9C)), "");
  EXPECT_EQ(s.Push(Byte(0x93), &offset), "\xE2\x9C\x93");
  EXPECT_EQ(s.Push(world_, &offset), " world");
  EXPECT_EQ(offset, 8u);     // after "Hello" and the 3 bytes
  EXPECT_EQ(s.Push(1), "");  // a control token has no text
  EXPECT_EQ(s.Finish(), "");
}

TEST_F(TokenTextTest, GeneratedTextKeepsItsLeadingSpace) {
  // The completion continues a prompt: unlike Decode of a whole text, its
  // first piece keeps its space.
  TokenTextStream s(*tokenizer_, {});
  EXPECT_EQ(s.Push(world_), " world");
}

TEST_F(TokenTextTest, ACutCharacterAtTheEndBecomesTheReplacementCharacter) {
  TokenTextStream s(*tokenizer_, {});
  EXPECT_EQ(s.Push(Byte(0xE2)), "");
  EXPECT_EQ(s.Finish(), "\xEF\xBF\xBD");
}

TEST_F(TokenTextTest, StopStringAcrossTokens) {
  TokenTextStream s(*tokenizer_, {"END"});
  EXPECT_EQ(s.Push(hello_), "Hello");
  EXPECT_EQ(s.Push(en_), "");
  EXPECT_EQ(s.Push(d_), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.Finish(), "");
}

TEST_F(TokenTextTest, StopStringOverAMultiByteCharacter) {
  TokenTextStream s(*tokenizer_, {"\xE2\x9C\x93"});
  EXPECT_EQ(s.Push(hello_), "Hello");
  EXPECT_EQ(s.Push(Byte(0xE2)), "");
  EXPECT_EQ(s.Push(Byte(0x9C)), "");
  EXPECT_EQ(s.Push(Byte(0x93)), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.emitted(), 5u);
}

TEST_F(TokenTextTest, LogprobIsTheLogSoftmax) {
  std::vector<float> logits(static_cast<size_t>(tokenizer_->n_vocab()), -1e30f);
  logits[static_cast<size_t>(hello_)] = 2.0f;
  logits[static_cast<size_t>(world_)] = 1.0f;
  logits[static_cast<size_t>(en_)] = 1.0f;
  const TokenLogprob t = ComputeLogprob(logits, world_, 2, *tokenizer_);
  const double z = std::log(std::exp(2.0) + 2 * std::exp(1.0));
  EXPECT_NEAR(t.logprob, 1.0 - z, 1e-6);
  EXPECT_EQ(t.piece, " world");
  ASSERT_EQ(t.top.size(), 2u);
  EXPECT_EQ(t.top[0].first, "Hello");
  EXPECT_NEAR(t.top[0].second, 2.0 - z, 1e-6);
  EXPECT_EQ(t.top[1].first, " world");  // ties: the lower id first
}

TEST_F(TokenTextTest, ChoiceBuilderReleasesLogprobsWithTheirText) {
  ChoiceBuilder b(*tokenizer_, {"END"}, true);
  auto lp = [](double v) { return TokenLogprob{"", v, {}, 0}; };
  b.Add(hello_, lp(-1));
  Choice c = b.TakeDelta();
  EXPECT_EQ(c.text, "Hello");
  ASSERT_EQ(c.tokens.size(), 1u);
  EXPECT_EQ(c.tokens[0].logprob, -1);
  b.Add(Byte(0xE2), lp(-2));  // held: part of a character
  EXPECT_FALSE(b.HasDelta());
  b.Add(Byte(0x9C), lp(-3));
  b.Add(Byte(0x93), lp(-4));
  c = b.TakeDelta();
  EXPECT_EQ(c.text, "\xE2\x9C\x93");
  ASSERT_EQ(c.tokens.size(), 3u);
  EXPECT_EQ(c.tokens[2].text_offset, 5u);
  b.Add(en_, lp(-5));
  b.Add(d_, lp(-6));  // completes END: EN and D! are cut with it
  EXPECT_TRUE(b.stopped());
  c = b.TakeDelta();
  EXPECT_EQ(c.text, "");
  EXPECT_TRUE(c.tokens.empty());
  EXPECT_EQ(b.tokens(), 6);
  b.Add(hello_, lp(-7));  // ignored after the stop
  EXPECT_EQ(b.tokens(), 6);
}

TEST_F(TokenTextTest, ChoiceBuilderFinishReleasesHeldText) {
  ChoiceBuilder b(*tokenizer_, {"END"}, true);
  b.Add(hello_, TokenLogprob{"", -1, {}, 0});
  b.Add(en_, TokenLogprob{"", -2, {}, 0});
  EXPECT_EQ(b.TakeDelta().text, "Hello");
  b.Finish();
  const Choice c = b.TakeDelta();
  EXPECT_EQ(c.text, "EN");
  ASSERT_EQ(c.tokens.size(), 1u);
  EXPECT_EQ(c.tokens[0].logprob, -2);
}

}  // namespace
}  // namespace arkv::server
