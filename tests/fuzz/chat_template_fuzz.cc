// libFuzzer target for chat templates. The bytes are read twice: as a Jinja
// template text for DetectChatTemplate (a family or arkv::Error, never a
// crash), and as a conversation rendered with every named template, whose
// output must frame the messages as the family does (checked, trapping).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/chat_template.h"

namespace {

using arkv::ChatMessage;
using arkv::ChatTemplate;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

bool EndsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// Messages separated by 0 bytes; each one's first byte picks the role (an
// invalid one now and then), the rest is its content.
std::vector<ChatMessage> Conversation(std::string_view bytes, bool* valid) {
  static const char* const kRoles[] = {"system", "user", "assistant", "user", "tool"};
  std::vector<ChatMessage> messages;
  *valid = true;
  while (!bytes.empty()) {
    const size_t end = std::min(bytes.find('\0'), bytes.size());
    const std::string_view m = bytes.substr(0, end);
    const std::string role = m.empty() ? "user" : kRoles[static_cast<uint8_t>(m[0]) % 5];
    if (role == "tool") *valid = false;
    messages.push_back(ChatMessage{role, std::string(m.empty() ? m : m.substr(1))});
    bytes.remove_prefix(std::min(end + 1, bytes.size()));
  }
  return messages;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const ChatTemplate t = arkv::DetectChatTemplate(bytes, "--chat-template");
    Check(!t.name.empty());
  } catch (const arkv::Error&) {
  }

  bool valid = true;
  const std::vector<ChatMessage> messages = Conversation(bytes, &valid);
  for (const char* name : {"llama3", "llama3.1", "chatml", "qwen2", "qwen2.5", "qwen3"}) {
    const ChatTemplate t = arkv::ChatTemplateByName(name);
    for (bool generation_prompt : {true, false}) {
      arkv::ChatRenderOptions options;
      options.add_generation_prompt = generation_prompt;
      options.enable_thinking = size % 2 == 0;
      std::string text;
      try {
        text = arkv::RenderChat(t, messages, options);
      } catch (const arkv::Error&) {
        Check(!valid);  // only an unknown role is refused
        continue;
      }
      Check(valid);
      if (t.family == ChatTemplate::Family::kLlama3) {
        Check(text.rfind("<|begin_of_text|>", 0) == 0);
        if (generation_prompt) {
          Check(EndsWith(text, "<|start_header_id|>assistant<|end_header_id|>\n\n"));
        }
      } else if (generation_prompt) {
        Check(EndsWith(text, "<|im_start|>assistant\n") ||
              (t.qwen3_think && !options.enable_thinking &&
               EndsWith(text, "<|im_start|>assistant\n<think>\n\n</think>\n\n")));
      }
      // Every message's content (trimmed by llama3) is in the prompt.
      for (const ChatMessage& m : messages) {
        if (t.family == ChatTemplate::Family::kChatMl && !t.qwen3_think) {
          Check(text.find(m.content) != std::string::npos);
        }
      }
    }
  }
  return 0;
}
