// LongBench prompts as pred.py builds them: the dataset's template filled with
// the sample's context and input; middle truncation of the tokenized prompt to
// the prompt budget (the first and last max/2 tokens, decoded without special
// tokens and joined); the model's chat template around it, except for the
// datasets LongBench runs without one; then tokenized for the model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eval/longbench_data.h"
#include "eval/longbench_datasets.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace arkv::eval {

// prompt_format.format(**sample): {context} and {input} replaced once each
// place they occur (inserted text is not scanned again).
std::string FillLongBenchTemplate(std::string_view prompt_template, const LongBenchSample& sample);

// pred.py's truncation: when the prompt tokenized with BOS has more than
// max_tokens tokens, the decoded first max_tokens/2 and last max_tokens/2 of
// them (special tokens skipped); else the prompt unchanged.
struct TruncatedPrompt {
  std::string text;
  int n_tokens = 0;  // of the prompt before truncation, BOS included
  bool truncated = false;
};
TruncatedPrompt TruncateMiddle(const Tokenizer& tokenizer, std::string_view prompt, int max_tokens);

struct LongBenchPrompt {
  std::vector<int32_t> tokens;  // what the model is given
  int n_raw_tokens = 0;         // of the filled template, before truncation
  bool truncated = false;
  bool chat = false;  // the chat template was applied
};

// The whole pipeline for one sample. chat: the model's template, or nullopt
// for raw prompts (base models; LongBench's build_chat leaves the prompt of a
// model it does not know unchanged). Qwen3 templates get thinking switched off.
LongBenchPrompt BuildLongBenchPrompt(const Tokenizer& tokenizer,
                                     const std::optional<ChatTemplate>& chat,
                                     const LongBenchDataset& dataset, const LongBenchSample& sample,
                                     int max_prompt_tokens);

}  // namespace arkv::eval
