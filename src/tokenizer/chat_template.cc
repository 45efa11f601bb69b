#include "tokenizer/chat_template.h"

#include <fmt/format.h>

#include "core/error.h"

namespace arkv {
namespace {

constexpr std::string_view kNames = "llama3, llama3.1, chatml, qwen2, qwen2.5, qwen3";
constexpr std::string_view kQwen2System = "You are a helpful assistant.";
constexpr std::string_view kQwen25System =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

// Jinja's `trim` (Python's str.strip()) for the whitespace that occurs in text.
std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) {
    return {};
  }
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

std::string_view StripChar(std::string_view s, char c, bool left, bool right) {
  while (left && !s.empty() && s.front() == c) {
    s.remove_prefix(1);
  }
  while (right && !s.empty() && s.back() == c) {
    s.remove_suffix(1);
  }
  return s;
}

void CheckRole(const ChatMessage& m) {
  if (m.role != "system" && m.role != "user" && m.role != "assistant") {
    Fail("chat message role '{}' is not one of system, user, assistant", m.role);
  }
}

std::string RenderLlama3(const ChatTemplate& t, std::span<const ChatMessage> messages,
                         const ChatRenderOptions& o) {
  auto block = [](std::string_view role, std::string_view content) {
    return fmt::format("<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>", role, content);
  };
  std::string out = "<|begin_of_text|>";
  size_t first = 0;
  if (t.dated_system_header) {
    std::string_view system;
    if (!messages.empty() && messages[0].role == "system") {
      system = Trim(messages[0].content);
      first = 1;
    }
    out += block(
        "system",
        fmt::format("Cutting Knowledge Date: December 2023\nToday Date: {}\n\n{}", t.date, system));
  }
  for (size_t i = first; i < messages.size(); ++i) {
    out += block(messages[i].role, Trim(messages[i].content));
  }
  if (o.add_generation_prompt) {
    out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  }
  return out;
}

std::string RenderChatMl(const ChatTemplate& t, std::span<const ChatMessage> messages,
                         const ChatRenderOptions& o) {
  auto block = [](std::string_view role, std::string_view content) {
    return fmt::format("<|im_start|>{}\n{}<|im_end|>\n", role, content);
  };
  std::string out;
  if ((messages.empty() || messages[0].role != "system") && !t.default_system.empty()) {
    out += block("system", t.default_system);
  }
  // Qwen3 shows the reasoning only of assistant turns after the last user
  // turn (the template's last_query_index, the last message when no user turn).
  size_t last_user = messages.empty() ? 0 : messages.size() - 1;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role == "user") {
      last_user = i;
    }
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role != "assistant" || !t.qwen3_think) {
      out += block(m.role, m.content);
      continue;
    }
    std::string_view content = m.content;
    std::string_view reasoning;
    if (const size_t close = content.find("</think>"); close != std::string_view::npos) {
      std::string_view before = StripChar(content.substr(0, close), '\n', false, true);
      if (const size_t open = before.rfind("<think>"); open != std::string_view::npos) {
        before = before.substr(open + 7);
      }
      reasoning = StripChar(before, '\n', true, false);
      content = StripChar(content.substr(content.rfind("</think>") + 8), '\n', true, false);
    }
    const bool last = i + 1 == messages.size();
    if (i > last_user && (last || !reasoning.empty())) {
      out += fmt::format("<|im_start|>assistant\n<think>\n{}\n</think>\n\n{}<|im_end|>\n",
                         StripChar(reasoning, '\n', true, true),
                         StripChar(content, '\n', true, false));
    } else {
      out += block("assistant", content);
    }
  }
  if (o.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (t.qwen3_think && !o.enable_thinking) {
      out += "<think>\n\n</think>\n\n";
    }
  }
  return out;
}

// The text of `"...` or `'...` starting at `pos` up to its closing quote.
std::string QuotedAt(std::string_view text, size_t pos) {
  if (pos >= text.size() || (text[pos] != '"' && text[pos] != '\'')) {
    return "";
  }
  const size_t end = text.find(text[pos], pos + 1);
  return end == std::string_view::npos ? "" : std::string(text.substr(pos + 1, end - pos - 1));
}

}  // namespace

ChatTemplate ChatTemplateByName(std::string_view name) {
  ChatTemplate t;
  t.name = std::string(name);
  if (name == "llama3" || name == "llama3.1") {
    t.family = ChatTemplate::Family::kLlama3;
    t.dated_system_header = name == "llama3.1";
  } else if (name == "chatml" || name == "qwen2" || name == "qwen2.5" || name == "qwen3") {
    t.family = ChatTemplate::Family::kChatMl;
    t.default_system = name == "qwen2"     ? std::string(kQwen2System)
                       : name == "qwen2.5" ? std::string(kQwen25System)
                                           : "";
    t.qwen3_think = name == "qwen3";
  } else {
    Fail("unknown chat template '{}' (expected one of {})", name, kNames);
  }
  return t;
}

ChatTemplate DetectChatTemplate(std::string_view text, std::string_view flag) {
  if (text.empty()) {
    Fail("the model has no chat template (tokenizer.chat_template); pass {} with one of {}", flag,
         kNames);
  }
  if (text.find("<|start_header_id|>") != std::string_view::npos &&
      text.find("<|eot_id|>") != std::string_view::npos) {
    ChatTemplate t = ChatTemplateByName("llama3");
    if (text.find("Cutting Knowledge Date") != std::string_view::npos) {
      t = ChatTemplateByName("llama3.1");
      constexpr std::string_view kSetDate = "set date_string = ";
      if (const size_t at = text.find(kSetDate); at != std::string_view::npos) {
        if (std::string date = QuotedAt(text, at + kSetDate.size()); !date.empty()) {
          t.date = date;
        }
      }
    }
    return t;
  }
  if (text.find("<|im_start|>") != std::string_view::npos) {
    if (text.find("<think>") != std::string_view::npos) {
      return ChatTemplateByName("qwen3");
    }
    if (text.find(kQwen25System) != std::string_view::npos) {
      return ChatTemplateByName("qwen2.5");
    }
    if (text.find(kQwen2System) != std::string_view::npos) {
      return ChatTemplateByName("qwen2");
    }
    if (text.find("<|im_start|>system\\n") != std::string_view::npos &&
        text.find("<|im_start|>system\\n' + ") == std::string_view::npos &&
        text.find("<|im_start|>system\\n\" + ") == std::string_view::npos) {
      // A fixed default system message arkv does not know: refuse rather than drop it.
      Fail(
          "the model's ChatML template inserts a default system message arkv does not know; "
          "pass {} with one of {} to choose the rendering",
          flag, kNames);
    }
    return ChatTemplateByName("chatml");
  }
  Fail(
      "the model's chat template is not one arkv can render (it starts '{}'); pass {} with one "
      "of {} if the model follows one of those formats",
      text.substr(0, 60), flag, kNames);
}

std::string RenderChat(const ChatTemplate& t, std::span<const ChatMessage> messages,
                       const ChatRenderOptions& options) {
  for (const ChatMessage& m : messages) {
    CheckRole(m);
  }
  return t.family == ChatTemplate::Family::kLlama3 ? RenderLlama3(t, messages, options)
                                                   : RenderChatMl(t, messages, options);
}

}  // namespace arkv
