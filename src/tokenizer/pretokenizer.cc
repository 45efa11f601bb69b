#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <utility>

#include "core/error.h"

namespace arkv {
namespace {

// The regexes below are llama.cpp's (llama-vocab.cpp), written with \s, \S,
// \p{L}, \p{N}, \p{P}. llama.cpp matches \s against its own whitespace table
// (the Unicode White_Space property); PCRE2's UCP \s differs from it (no
// U+0085), so \s and \S are rewritten into this explicit class.
constexpr std::string_view kWhitespaceClass =
    "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}"
    "\\x{3000}";

constexpr const char* kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
// The (?i:...) contractions of the original patterns are spelled out so that
// only ASCII letters match case-insensitively (PCRE2's caseless UCP mode
// would also accept e.g. U+017F for 's').
constexpr const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct NamedSpec {
  std::array<std::string_view, 8> names;
  PretokenizerSpec spec;
};

const std::vector<NamedSpec>& Specs() {
  static const std::vector<NamedSpec> specs = {
      {{"default"},
       {{"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}, false, false}},
      {{"gpt-2", "gpt2", "mpt", "olmo", "phi-2"}, {{kGpt2}, false, false}},
      {{"llama-bpe", "llama3", "llama-v3"}, {{kLlama3}, true, true}},
      {{"dbrx", "smaug-bpe"}, {{kLlama3}, false, false}},
      {{"qwen2", "deepseek-r1-qwen", "stablelm2"}, {{kQwen2}, false, false}},
      {{"deepseek-coder"},
       {{"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+",
         "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+", "\\p{N}"},
        false,
        false}},
      {{"falcon"}, {{"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"}, false, false}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
       {{"\\p{N}", kGpt2}, false, false}},
  };
  return specs;
}

// Rewrites \s and \S (see kWhitespaceClass).
std::string ExpandWhitespace(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      if (e == 's') {
        out += in_class ? std::string(kWhitespaceClass) : fmt::format("[{}]", kWhitespaceClass);
      } else if (e == 'S') {
        if (in_class) {
          Fail("pre-tokenizer regex: \\S inside a class is not supported: {}", pattern);
        }
        out += fmt::format("[^{}]", kWhitespaceClass);
      } else {
        out += c;
        out += e;
      }
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
    } else if (c == ']' && in_class) {
      in_class = false;
    }
    out += c;
  }
  return out;
}

}  // namespace

PretokenizerSpec PretokenizerSpecFor(std::string_view name) {
  if (name.empty()) {
    name = "default";  // llama.cpp falls back to it too
  }
  for (const NamedSpec& s : Specs()) {
    for (std::string_view n : s.names) {
      if (!n.empty() && n == name) {
        return s.spec;
      }
    }
  }
  Fail("unknown pre-tokenizer '{}' (tokenizer.ggml.pre); supported: {}", name,
       SupportedPretokenizers());
}

std::string SupportedPretokenizers() {
  std::string out;
  for (const NamedSpec& s : Specs()) {
    for (std::string_view n : s.names) {
      if (n.empty()) {
        continue;
      }
      if (!out.empty()) {
        out += ", ";
      }
      out += n;
    }
  }
  return out;
}

struct Pretokenizer::Compiled {
  pcre2_code* code = nullptr;
  std::string pattern;
  ~Compiled() { pcre2_code_free(code); }
};

Pretokenizer::Pretokenizer(const std::vector<std::string>& regexes) {
  for (const std::string& source : regexes) {
    auto c = std::make_unique<Compiled>();
    c->pattern = ExpandWhitespace(source);
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(c->pattern.data()), c->pattern.size(),
                            PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
    if (c->code == nullptr) {
      std::array<PCRE2_UCHAR, 256> msg{};
      pcre2_get_error_message(error, msg.data(), msg.size());
      Fail("pre-tokenizer regex '{}': PCRE2 error at offset {}: {}", source, error_offset,
           reinterpret_cast<const char*>(msg.data()));
    }
    // JIT is an optimization only: without it (unsupported platform) the
    // interpreter gives the same matches.
    pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);
    regexes_.push_back(std::move(c));
  }
}

Pretokenizer::~Pretokenizer() = default;

namespace {

struct MatchData {
  pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
  pcre2_match_context* ctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
  ~MatchData() {
    pcre2_match_data_free(md);
    pcre2_match_context_free(ctx);
    pcre2_jit_stack_free(stack);
  }
  // The default 32 KiB JIT stack can be too small for very long pieces.
  bool GrowStack() {
    if (stack != nullptr) {
      return false;
    }
    ctx = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
    if (ctx == nullptr || stack == nullptr) {
      return false;
    }
    pcre2_jit_stack_assign(ctx, nullptr, stack);
    return true;
  }
};

}  // namespace

std::vector<Pretokenizer::Piece> Pretokenizer::Split(std::string_view text) const {
  std::vector<Piece> pieces;
  if (text.empty()) {
    return pieces;
  }
  pieces.push_back({0, text.size()});
  MatchData match;
  if (match.md == nullptr) {
    Fail("pre-tokenizer: out of memory");
  }
  std::vector<Piece> next;
  for (const auto& regex : regexes_) {
    next.clear();
    next.reserve(pieces.size() * 2);
    for (const Piece& piece : pieces) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.offset);
      size_t gap = 0;     // start of the text not yet emitted
      size_t search = 0;  // where the next match may start
      while (search < piece.length) {
        int rc = pcre2_match(regex->code, subject, piece.length, search, PCRE2_NO_UTF_CHECK,
                             match.md, match.ctx);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && match.GrowStack()) {
          continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH) {
          break;
        }
        if (rc < 0) {
          std::array<PCRE2_UCHAR, 256> msg{};
          pcre2_get_error_message(rc, msg.data(), msg.size());
          Fail("pre-tokenizer regex '{}' failed: {}", regex->pattern,
               reinterpret_cast<const char*>(msg.data()));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.md);
        const size_t begin = ov[0];
        const size_t end = ov[1];
        if (end == begin) {
          // None of the patterns can match empty; step over one character
          // to be safe, leaving it to the gap.
          size_t step = 1;
          while (begin + step < piece.length &&
                 (static_cast<uint8_t>(text[piece.offset + begin + step]) & 0xC0) == 0x80) {
            ++step;
          }
          search = begin + step;
          continue;
        }
        if (begin > gap) {
          next.push_back({piece.offset + gap, begin - gap});
        }
        next.push_back({piece.offset + begin, end - begin});
        gap = search = end;
      }
      if (gap < piece.length) {
        next.push_back({piece.offset + gap, piece.length - gap});
      }
    }
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace arkv
