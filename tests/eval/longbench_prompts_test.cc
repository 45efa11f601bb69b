// LongBench prompt building: the exact template text of two datasets, the
// datasets that skip the chat template, and pred.py's middle truncation
// measured in tokens of stories260K's tokenizer.
#include "eval/longbench_prompts.h"

#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/longbench_datasets.h"
#include "gguf/gguf.h"
#include "model/model.h"

namespace arkv::eval {
namespace {

std::string Shared(const std::string& rel) { return std::string(ARKV_SHARED_DIR) + "/" + rel; }

LongBenchSample Sample(std::string context, std::string input) {
  LongBenchSample s;
  s.context = std::move(context);
  s.input = std::move(input);
  s.answers = {"x"};
  return s;
}

TEST(LongBenchPromptsTest, QasperTemplateIsVerbatim) {
  // config/dataset2prompt.json, "qasper"
  const std::string expected =
      "You are given a scientific article and a question. Answer the question as concisely as you "
      "can, using a single phrase or sentence if possible. If the question cannot be answered "
      "based on the information in the article, write \"unanswerable\". If the question is a "
      "yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any "
      "explanation.\n\nArticle: THE ARTICLE {input}\n\n Answer the question based on the above "
      "article as concisely as you can, using a single phrase or sentence if possible. If the "
      "question cannot be answered based on the information in the article, write "
      "\"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or "
      "\"unanswerable\". Do not provide any explanation.\n\nQuestion: What is it?\n\nAnswer:";
  // The context's own "{input}" stays as it is: inserted text is not scanned again.
  EXPECT_EQ(FillLongBenchTemplate(FindLongBenchDataset("qasper").prompt,
                                  Sample("THE ARTICLE {input}", "What is it?")),
            expected);
}

TEST(LongBenchPromptsTest, PassageRetrievalZhTemplateIsVerbatim) {
  // config/dataset2prompt.json, "passage_retrieval_zh"
  const std::string expected =
      "以下是若干段落文字，以及其中一个段落的摘要。请确定给定的摘要出自哪一段。\n\n段落1：甲。\n\n"
      "下面是一个摘要\n\n摘要\n\n请输入摘要所属段落的编号。答案格式必须是\"段落1\"，\"段落2\"等格式"
      "\n\n答案是：";
  EXPECT_EQ(FillLongBenchTemplate(FindLongBenchDataset("passage_retrieval_zh").prompt,
                                  Sample("段落1：甲。", "摘要")),
            expected);
}

TEST(LongBenchPromptsTest, DatasetFacts) {
  EXPECT_EQ(LongBenchDatasets().size(), 21u);
  EXPECT_EQ(LongBenchDatasetNames(true).size(), 13u);
  int without_chat = 0;
  for (const LongBenchDataset& d : LongBenchDatasets()) {
    without_chat += d.chat_template ? 0 : 1;
  }
  EXPECT_EQ(without_chat, 6);
  EXPECT_FALSE(FindLongBenchDataset("lcc").chat_template);
  EXPECT_EQ(FindLongBenchDataset("gov_report").max_new_tokens, 512);
  EXPECT_EQ(FindLongBenchDataset("qasper_e").name, "qasper");
  EXPECT_THROW(FindLongBenchDataset("narrativeqa_e"), Error);  // not in LongBench-E
  EXPECT_EQ(DefaultMaxPromptTokens(8192, 32), 7500);
  EXPECT_EQ(DefaultMaxPromptTokens(131072, 32), 120000);
  EXPECT_EQ(DefaultMaxPromptTokens(2048, 128), 1920);
}

class LongBenchTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = Shared("models/stories260K.gguf");
    if (!std::ifstream(path)) {
      GTEST_SKIP() << "shared data absent: " << path;
    }
    model_ = Model::Load(path);
    tokenizer_ = Tokenizer::FromGguf(model_->file());
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(LongBenchTokenTest, MiddleTruncationKeepsHalfTheBudgetAtEachEnd) {
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += "Tim saw a big red ball " + std::to_string(i) + " in the park. ";
  }
  const Tokenizer& tok = *tokenizer_;
  const int n = static_cast<int>(tok.Encode(text, true, false).size());
  ASSERT_GT(n, 300);

  const TruncatedPrompt same = TruncateMiddle(tok, text, n);
  EXPECT_FALSE(same.truncated);
  EXPECT_EQ(same.text, text);
  EXPECT_EQ(same.n_tokens, n);

  for (int budget : {n - 1, 101, 100}) {
    SCOPED_TRACE(budget);
    const TruncatedPrompt t = TruncateMiddle(tok, text, budget);
    EXPECT_TRUE(t.truncated);
    EXPECT_EQ(t.n_tokens, n);
    // The first half starts with BOS, which decoding skips: budget/2 - 1 text
    // tokens from the start and budget/2 from the end; re-tokenized with BOS
    // that is budget/2 * 2 tokens, give or take a merge at the seam.
    const int kept = static_cast<int>(tok.Encode(t.text, true, false).size());
    EXPECT_LE(std::abs(kept - budget / 2 * 2), 2) << kept;
    EXPECT_EQ(t.text.substr(0, 20), text.substr(0, 20));
    EXPECT_EQ(t.text.substr(t.text.size() - 20), text.substr(text.size() - 20));
  }
  // budget 100 keeps 50 tokens of each end: the middle sentences are gone
  const TruncatedPrompt t = TruncateMiddle(tok, text, 100);
  EXPECT_EQ(t.text.find("ball 20 "), std::string::npos);
}

TEST_F(LongBenchTokenTest, ChatTemplateExceptForTheFewShotAndCodeSets) {
  const Tokenizer& tok = *tokenizer_;
  const std::optional<ChatTemplate> chat = ChatTemplateByName("chatml");
  const LongBenchSample s = Sample("Lily had a cat.", "Who had a cat?");
  const LongBenchPrompt with_chat =
      BuildLongBenchPrompt(tok, chat, FindLongBenchDataset("multifieldqa_en"), s, 1000);
  const std::string filled =
      FillLongBenchTemplate(FindLongBenchDataset("multifieldqa_en").prompt, s);
  EXPECT_TRUE(with_chat.chat);
  EXPECT_EQ(with_chat.tokens,
            tok.Encode("<|im_start|>user\n" + filled + "<|im_end|>\n<|im_start|>assistant\n", true,
                       false));
  const LongBenchPrompt trec =
      BuildLongBenchPrompt(tok, chat, FindLongBenchDataset("trec"), s, 1000);
  EXPECT_FALSE(trec.chat);
  EXPECT_EQ(trec.tokens,
            tok.Encode(FillLongBenchTemplate(FindLongBenchDataset("trec").prompt, s), true, false));
  const LongBenchPrompt raw =
      BuildLongBenchPrompt(tok, std::nullopt, FindLongBenchDataset("multifieldqa_en"), s, 1000);
  EXPECT_EQ(raw.tokens, tok.Encode(filled, true, false));
}

}  // namespace
}  // namespace arkv::eval
