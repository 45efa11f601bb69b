#include "eval/longbench_prompts.h"

#include <array>

namespace arkv::eval {

std::string FillLongBenchTemplate(std::string_view tmpl, const LongBenchSample& sample) {
  const std::array<std::pair<std::string_view, const std::string*>, 2> fields = {
      {{"{context}", &sample.context}, {"{input}", &sample.input}}};
  std::string out;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    bool replaced = false;
    for (const auto& [key, value] : fields) {
      if (tmpl.substr(pos).starts_with(key)) {
        out += *value;
        pos += key.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      out += tmpl[pos++];
    }
  }
  return out;
}

TruncatedPrompt TruncateMiddle(const Tokenizer& tokenizer, std::string_view prompt,
                               int max_tokens) {
  TruncatedPrompt t;
  const std::vector<int32_t> ids = tokenizer.Encode(prompt, /*add_special=*/true, false);
  t.n_tokens = static_cast<int>(ids.size());
  if (t.n_tokens <= max_tokens) {
    t.text = std::string(prompt);
    return t;
  }
  const size_t half = static_cast<size_t>(max_tokens / 2);
  // skip_special_tokens drops BOS and the like before decoding, so a
  // SentencePiece space prefix is stripped from the first real token.
  auto decode = [&](std::span<const int32_t> part) {
    std::vector<int32_t> kept;
    for (int32_t id : part) {
      if (!tokenizer.IsControl(id)) {
        kept.push_back(id);
      }
    }
    return tokenizer.Decode(kept);
  };
  const std::span<const int32_t> all(ids);
  t.text = decode(all.first(half)) + decode(all.last(half));
  t.truncated = true;
  return t;
}

LongBenchPrompt BuildLongBenchPrompt(const Tokenizer& tokenizer,
                                     const std::optional<ChatTemplate>& chat,
                                     const LongBenchDataset& dataset, const LongBenchSample& sample,
                                     int max_prompt_tokens) {
  const TruncatedPrompt t =
      TruncateMiddle(tokenizer, FillLongBenchTemplate(dataset.prompt, sample), max_prompt_tokens);
  LongBenchPrompt p;
  p.n_raw_tokens = t.n_tokens;
  p.truncated = t.truncated;
  if (chat && dataset.chat_template) {
    ChatRenderOptions options;
    options.enable_thinking = false;
    const ChatMessage message{"user", t.text};
    p.tokens = tokenizer.Encode(RenderChat(*chat, std::span(&message, 1), options),
                                /*add_special=*/false, /*parse_special=*/true);
    const int32_t bos = tokenizer.bos_id();
    if (tokenizer.add_bos() && bos >= 0 && (p.tokens.empty() || p.tokens[0] != bos)) {
      p.tokens.insert(p.tokens.begin(), bos);
    }
    p.chat = true;
  } else {
    p.tokens = tokenizer.Encode(t.text, /*add_special=*/true, /*parse_special=*/false);
  }
  return p;
}

}  // namespace arkv::eval
