// Chat templates against the strings the Hugging Face templates produce:
// each expected string below was rendered by Jinja2 3.1 (trim_blocks and
// lstrip_blocks, as transformers renders chat templates) from the template
// text given beside it: the Llama 3 and 3.1 templates and the no-tool parts
// of the Qwen2.5 and Qwen3 templates, and the Qwen2 template, verbatim.
#include "tokenizer/chat_template.h"

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace arkv {
namespace {

using ::testing::HasSubstr;

// clang-format off
constexpr char kL30[] = R"TPL({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %})TPL";

constexpr char kL31[] = R"TPL({{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
)TPL";

constexpr char kQ25[] = R"TPL({%- if tools %}
    {{- raise_exception('tools are not part of this test') }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
)TPL";

constexpr char kQ3[] = R"TPL({%- if tools %}
    {{- raise_exception('tools are not part of this test') }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}
)TPL";

// Qwen2 (Qwen2-7B-Instruct), verbatim.
constexpr char kQ2[] = R"TPL({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})TPL";

// clang-format on

const std::vector<ChatMessage> kConversation = {{"system", "  You are terse.\n"},
                                                {"user", "Hi there \n"},
                                                {"assistant", "Hello!"},
                                                {"user", "Name a colour."}};
const std::vector<ChatMessage> kNoSystem = {{"user", "Hi"}};
// Several turns without a system message; an assistant turn with spaces around it.
const std::vector<ChatMessage> kTurns = {
    {"user", "Hi"}, {"assistant", " Hello. "}, {"user", "Bye"}};
const std::vector<ChatMessage> kThink = {{"user", "2+2?"},
                                         {"assistant", "<think>\nadd\n</think>\n\n4"},
                                         {"user", "3+3?"},
                                         {"assistant", "<think>\nadd again\n</think>\n\n6"}};

struct Case {
  const char* name;
  const char* template_text;
  const std::vector<ChatMessage>& messages;
  bool add_generation_prompt;
  bool enable_thinking;
  const char* expected;
};

// clang-format off
const Case kCases[] = {
    {"Llama30", kL30, kConversation, true, true,
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"Llama31", kL31, kConversation, true, true,
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"Llama31NoSystem", kL31, kNoSystem, true, true,
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"Qwen25", kQ25, kConversation, true, true,
     "<|im_start|>system\n  You are terse.\n<|im_end|>\n<|im_start|>user\nHi there \n<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"},
    {"Qwen25DefaultSystem", kQ25, kNoSystem, true, true,
     "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
    {"Qwen3", kQ3, kConversation, true, true,
     "<|im_start|>system\n  You are terse.\n<|im_end|>\n<|im_start|>user\nHi there \n<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"},
    {"Qwen3ThinkingOff", kQ3, kNoSystem, true, false,
     "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
    {"Llama30NoGenerationPrompt", kL30, kConversation, false, true,
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|>"},
    {"Llama30Turns", kL30, kTurns, true, true,
     "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"Llama31Turns", kL31, kTurns, true, true,
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"Llama31TurnsNoGenerationPrompt", kL31, kTurns, false, true,
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"},
    {"Qwen2", kQ2, kConversation, true, true,
     "<|im_start|>system\n  You are terse.\n<|im_end|>\n<|im_start|>user\nHi there \n<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"},
    {"Qwen2DefaultSystemTurns", kQ2, kTurns, true, true,
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n Hello. <|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
    {"Qwen2NoGenerationPrompt", kQ2, kConversation, false, true,
     "<|im_start|>system\n  You are terse.\n<|im_end|>\n<|im_start|>user\nHi there \n<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n"},
    {"Qwen25Turns", kQ25, kTurns, false, true,
     "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n Hello. <|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"},
    {"Qwen3Turns", kQ3, kTurns, true, true,
     "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n Hello. <|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
    {"Qwen3History", kQ3, kThink, false, true,
     "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n<think>\nadd again\n</think>\n\n6<|im_end|>\n"},
};
// clang-format on

TEST(ChatTemplateTest, RendersWhatTheJinjaTemplatesRender) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const ChatTemplate t = DetectChatTemplate(c.template_text, "--chat-template");
    ChatRenderOptions options;
    options.add_generation_prompt = c.add_generation_prompt;
    options.enable_thinking = c.enable_thinking;
    EXPECT_EQ(RenderChat(t, c.messages, options), c.expected);
  }
}

TEST(ChatTemplateTest, DetectsTheFamilies) {
  EXPECT_EQ(DetectChatTemplate(kL30, "--chat-template").name, "llama3");
  EXPECT_EQ(DetectChatTemplate(kL31, "--chat-template").name, "llama3.1");
  EXPECT_EQ(DetectChatTemplate(kQ25, "--chat-template").name, "qwen2.5");
  EXPECT_EQ(DetectChatTemplate(kQ2, "--chat-template").name, "qwen2");
  EXPECT_EQ(DetectChatTemplate(kQ3, "--chat-template").name, "qwen3");
  const ChatTemplate plain = DetectChatTemplate(
      "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + "
      "'<|im_end|>\\n'}}{% endfor %}",
      "--chat-template");
  EXPECT_EQ(plain.name, "chatml");
  EXPECT_EQ(plain.default_system, "");
}

TEST(ChatTemplateTest, Llama31TakesTheTemplatesDate) {
  std::string text = kL31;
  text.replace(text.find("26 Jul 2024"), 11, "01 Jan 2025");
  const ChatTemplate t = DetectChatTemplate(text, "--chat-template");
  EXPECT_THAT(RenderChat(t, kNoSystem), HasSubstr("Today Date: 01 Jan 2025\n\n"));
}

TEST(ChatTemplateTest, ForcedNamesRenderTheirFamily) {
  EXPECT_EQ(RenderChat(ChatTemplateByName("chatml"), kNoSystem),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(RenderChat(ChatTemplateByName("llama3"), kNoSystem),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(RenderChat(ChatTemplateByName("qwen2"), kNoSystem),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplateTest, UnknownTemplatesAndNamesAreClearErrors) {
  try {
    DetectChatTemplate("{{ '[INST] ' + messages[0]['content'] + ' [/INST]' }}", "--chat-template");
    FAIL() << "an unknown template was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("--chat-template"));
    EXPECT_THAT(e.what(), HasSubstr("llama3"));
    EXPECT_THAT(e.what(), HasSubstr("chatml"));
  }
  EXPECT_THROW(DetectChatTemplate("", "--chat-template"), Error);
  try {
    ChatTemplateByName("mistral");
    FAIL() << "an unknown name was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("mistral"));
    EXPECT_THAT(e.what(), HasSubstr("chatml"));
  }
  const std::vector<ChatMessage> tool = {{"tool", "{}"}};
  EXPECT_THROW(RenderChat(ChatTemplateByName("chatml"), tool), Error);
}

// The rendered special-token texts become single special tokens when the
// prompt is tokenized with parse_special (Llama 3's vocabulary, from
// llama.cpp's test files): one BOS, the header and end-of-turn tokens.
TEST(ChatTemplateTest, Llama3PromptTokenizesToItsSpecialTokens) {
  const std::string path = std::string(ARKV_TOKENIZER_VOCAB_DIR) + "/ggml-vocab-llama-bpe.gguf";
  if (!std::ifstream(path)) {
    GTEST_SKIP() << "vocabulary absent: " << path;
  }
  const auto file = gguf::GgufFile::Open(path);
  const auto tok = Tokenizer::FromGguf(*file);
  const std::vector<int32_t> ids =
      tok->Encode(RenderChat(ChatTemplateByName("llama3.1"), kConversation), false, true);
  const int32_t bos = tok->FindToken("<|begin_of_text|>");
  const int32_t eot = tok->FindToken("<|eot_id|>");
  const int32_t header = tok->FindToken("<|start_header_id|>");
  ASSERT_GE(bos, 0);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], bos);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), bos), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), eot), 4);     // system, user, assistant, user
  EXPECT_EQ(std::count(ids.begin(), ids.end(), header), 5);  // and the generation prompt
}

}  // namespace
}  // namespace arkv
