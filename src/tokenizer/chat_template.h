// Chat templates: a conversation (system / user / assistant messages) turned
// into the exact prompt text an instruction-tuned model was trained on.
//
// GGUF files carry the Hugging Face Jinja template as `tokenizer.chat_template`.
// arkv does not run Jinja (Debian packages no C++ Jinja engine); it recognizes
// the template families it supports from their text and renders them natively:
//   llama3   Llama 3 / 3.1 / 3.2 / 3.3 (<|start_header_id|>role<|end_header_id|>,
//            contents trimmed, <|eot_id|>); 3.1+ open with a system header that
//            carries the knowledge cutoff and a date;
//   chatml   Qwen2 / Qwen2.5 / Qwen3 (<|im_start|>role\n...<|im_end|>\n), with
//            the default system message of Qwen2/2.5 and Qwen3's think block.
// Anything else is an error that names the flag to force a family: a wrong
// prompt would silently ruin every answer.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace arkv {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatTemplate {
  enum class Family { kLlama3, kChatMl };
  Family family = Family::kChatMl;
  std::string name;  // what messages call it: "llama3", "llama3.1", "chatml", "qwen2.5", "qwen3"

  // llama3: Llama 3.1+ always emit a system block with "Cutting Knowledge
  // Date: December 2023" and "Today Date: {date}" before the system message.
  bool dated_system_header = false;
  // The template's fixed date ("26 Jul 2024"). Llama 3.2 asks Jinja for
  // today's date instead; arkv keeps the fixed one so prompts are reproducible.
  std::string date = "26 Jul 2024";

  // chatml: system message inserted when the conversation has none (Qwen2:
  // "You are a helpful assistant.", Qwen2.5: "You are Qwen, created by Alibaba
  // Cloud. ..."); empty: none (Qwen3, plain ChatML).
  std::string default_system;
  // chatml: Qwen3's template (<think> blocks, the enable_thinking switch).
  bool qwen3_think = false;
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;  // end with the assistant header
  // Qwen3 only: false appends the empty think block that switches thinking off.
  bool enable_thinking = true;
};

// The family named by `name` ("llama3", "llama3.1", "chatml", "qwen2",
// "qwen2.5", "qwen3"). Throws arkv::Error listing the names for anything else.
ChatTemplate ChatTemplateByName(std::string_view name);

// Recognizes a Jinja chat template's family from its text. Throws arkv::Error
// for an empty or unknown template; the message names `flag` (for example
// "--chat-template") and the names it accepts.
ChatTemplate DetectChatTemplate(std::string_view jinja_text, std::string_view flag);

// The prompt text, exactly as the Hugging Face template renders it
// (bos_token included for llama3: tokenize it with parse_special and without
// adding BOS again). Throws arkv::Error on a role other than system, user or
// assistant.
std::string RenderChat(const ChatTemplate& chat_template, std::span<const ChatMessage> messages,
                       const ChatRenderOptions& options = {});

}  // namespace arkv
