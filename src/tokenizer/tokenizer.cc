// Vocabulary loading and validation, special-token partitioning, pieces.
// The SPM and BPE merge algorithms are in encode.cc.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>

#include "core/error.h"
#include "core/strings.h"
#include "core/log.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace arkv {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581, SPM's escaped space

// Texts llama.cpp treats as end-of-generation tokens (llama-vocab.cpp).
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>",    "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",        "<end_of_turn>",
    "<|endoftext|>", "<|eom_id|>", "<EOT>",   "_<EOT>",     "<|end_of_text|>", "<end_of_utterance>",
};
// DeepSeek's "<｜end▁of▁sentence｜>" (fullwidth bars, U+2581 spaces).
constexpr std::string_view kEndOfSentence =
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>",      "<end_of_turn>",      "<|endoftext|>",
    "<EOT>",      "_<EOT>",     kEndOfSentence, "<end_of_utterance>",
};

// Resolves a special-token id: absent -> the model's default (dropped when the
// vocabulary is too small for it); -1 / 0xFFFFFFFF (what converters write for
// "none") -> none; anything else must be a valid id.
int32_t ResolveSpecial(const std::optional<int64_t>& value, int64_t def, size_t n_vocab,
                       std::string_view key) {
  if (!value) {
    return def >= 0 && def < static_cast<int64_t>(n_vocab) ? static_cast<int32_t>(def) : -1;
  }
  const int64_t id = *value;
  if (id == -1 || id == 0xFFFFFFFFLL) {
    return -1;
  }
  if (id < 0 || id >= static_cast<int64_t>(n_vocab)) {
    Fail("tokenizer.ggml.{} = {} is out of range (the vocabulary has {} tokens)", key, id, n_vocab);
  }
  return static_cast<int32_t>(id);
}

bool IsAsciiSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

int ParseByteToken(std::string_view text) {
  // "<0xAB>"
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') {
    return -1;
  }
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = text[i];
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::FromVocab(VocabData v) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->impl_ = std::make_unique<Impl>();
  Impl& impl = *t->impl_;
  const size_t n = v.tokens.size();
  if (n == 0) {
    Fail("tokenizer: the vocabulary is empty (tokenizer.ggml.tokens has no entries)");
  }
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    Fail("tokenizer: {} tokens exceed the supported maximum", n);
  }
  if (!v.scores.empty() && v.scores.size() != n) {
    Fail("tokenizer.ggml.scores has {} entries but tokenizer.ggml.tokens has {}", v.scores.size(),
         n);
  }
  if (!v.types.empty() && v.types.size() != n) {
    Fail("tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}",
         v.types.size(), n);
  }
  for (size_t i = 0; i < v.types.size(); ++i) {
    if (static_cast<unsigned>(v.types[i]) > static_cast<unsigned>(TokenType::kByte)) {
      Fail("tokenizer.ggml.token_type[{}] = {} is not a token type (0..6)", i,
           static_cast<unsigned>(v.types[i]));
    }
  }

  t->tokens_ = std::move(v.tokens);
  t->scores_ = v.scores.empty() ? std::vector<float>(n, 0.0f) : std::move(v.scores);
  t->types_ = v.types.empty() ? std::vector<TokenType>(n, TokenType::kNormal) : std::move(v.types);
  impl.token_to_id.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    impl.token_to_id[t->tokens_[i]] = static_cast<int32_t>(i);
  }

  int64_t def_bos = 0, def_eos = 0, def_unk = 0;
  if (v.model == "llama") {
    t->type_ = VocabType::kSpm;
    def_bos = 1, def_eos = 2, def_unk = 0;
    t->add_bos_ = true;
    t->add_space_prefix_ = true;
  } else if (v.model == "gpt2") {
    t->type_ = VocabType::kBpe;
    def_bos = 11, def_eos = 11, def_unk = -1;  // llama.cpp's defaults for gpt2
    if (v.pre.empty()) {
      Log(LogLevel::kWarn, "tokenizer: no tokenizer.ggml.pre; using the 'default' pre-tokenizer");
    }
    PretokenizerSpec spec = PretokenizerSpecFor(v.pre);
    t->pre_ = v.pre.empty() ? "default" : v.pre;
    t->add_bos_ = spec.add_bos;
    t->ignore_merges_ = spec.ignore_merges;
    impl.pretokenizer = std::make_unique<Pretokenizer>(spec.regexes);
  } else if (v.model.empty()) {
    Fail("tokenizer: missing tokenizer model (tokenizer.ggml.model)");
  } else {
    Fail("unknown tokenizer model '{}' (tokenizer.ggml.model); supported: llama, gpt2", v.model);
  }
  if (v.add_bos) {
    t->add_bos_ = *v.add_bos;
  }
  if (v.add_eos) {
    t->add_eos_ = *v.add_eos;
  }
  if (v.add_space_prefix) {
    t->add_space_prefix_ = *v.add_space_prefix;
  }

  t->bos_id_ = ResolveSpecial(v.bos_id, def_bos, n, "bos_token_id");
  t->eos_id_ = ResolveSpecial(v.eos_id, def_eos, n, "eos_token_id");
  t->unk_id_ = ResolveSpecial(v.unk_id, def_unk, n, "unknown_token_id");
  t->eot_id_ = ResolveSpecial(v.eot_id, -1, n, "eot_token_id");
  t->eom_id_ = ResolveSpecial(v.eom_id, -1, n, "eom_token_id");
  t->pad_id_ = ResolveSpecial(v.pad_id, -1, n, "padding_token_id");
  t->sep_id_ = ResolveSpecial(v.sep_id, -1, n, "seperator_token_id");
  if (t->add_bos_ && t->bos_id_ < 0) {
    Fail("tokenizer: add_bos_token is set but the vocabulary has no BOS token");
  }
  if (t->add_eos_ && t->eos_id_ < 0) {
    Fail("tokenizer: add_eos_token is set but the vocabulary has no EOS token");
  }

  // End of generation: EOS/EOT/EOM and the usual end-of-turn texts.
  if (t->eot_id_ < 0) {
    for (std::string_view text : kEotTexts) {
      if (const int32_t id = impl.Find(text); id >= 0) {
        t->eot_id_ = id;
        break;
      }
    }
  }
  for (int32_t id : {t->eos_id_, t->eot_id_, t->eom_id_}) {
    if (id >= 0) {
      t->eog_ids_.push_back(id);
    }
  }
  for (std::string_view text : kEogTexts) {
    if (const int32_t id = impl.Find(text); id >= 0) {
      t->eog_ids_.push_back(id);
    }
  }
  std::sort(t->eog_ids_.begin(), t->eog_ids_.end());
  t->eog_ids_.erase(std::unique(t->eog_ids_.begin(), t->eog_ids_.end()), t->eog_ids_.end());

  // Texts recognized as whole tokens before the merge algorithms run:
  // control and unknown tokens with parse_special, user-defined ones always.
  for (size_t i = 0; i < n; ++i) {
    const TokenType type = t->types_[i];
    if ((type == TokenType::kControl || type == TokenType::kUserDefined ||
         type == TokenType::kUnknown) &&
        !t->tokens_[i].empty()) {
      t->special_tokens_.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(t->special_tokens_.begin(), t->special_tokens_.end(), [&](int32_t a, int32_t b) {
    return t->tokens_[a].size() > t->tokens_[b].size();
  });
  t->lstrip_.assign(n, 0);
  t->rstrip_.assign(n, 0);
  // llama.cpp keys these attributes on the model name (they are not in GGUF).
  const std::string name = ToLower(v.model_name);
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : t->special_tokens_) {
      t->rstrip_[id] = 1;
    }
    if (const int32_t id = impl.Find("</s>"); id >= 0) {
      t->rstrip_[id] = 1;
    }
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (const int32_t id = impl.Find(text); id >= 0) {
        t->rstrip_[id] = 0;
      }
    }
  }

  if (t->type_ == VocabType::kSpm) {
    impl.byte_value.assign(n, -1);
    for (size_t i = 0; i < n; ++i) {
      if (t->types_[i] != TokenType::kByte) {
        continue;
      }
      const int value = ParseByteToken(t->tokens_[i]);
      if (value < 0) {
        Fail("token {} has type BYTE but its text '{}' is not <0xXX>", i, t->tokens_[i]);
      }
      impl.byte_value[i] = static_cast<int16_t>(value);
    }
    t->byte_tokens_.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
      int32_t id = impl.Find(fmt::format("<0x{:02X}>", b));
      if (id < 0) {
        id = impl.Find(std::string(1, static_cast<char>(b)));
      }
      t->byte_tokens_[b] = id;
    }
  } else {
    impl.merges.Reserve(v.merges.size());
    std::string joined;
    for (size_t rank = 0; rank < v.merges.size(); ++rank) {
      const std::string& merge = v.merges[rank];
      const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
      if (space == std::string::npos || space + 1 >= merge.size()) {
        Fail("tokenizer.ggml.merges[{}] = '{}' is not two tokens separated by a space", rank,
             merge);
      }
      const std::string_view left = std::string_view(merge).substr(0, space);
      const std::string_view right = std::string_view(merge).substr(space + 1);
      const int32_t left_id = impl.Find(left);
      const int32_t right_id = impl.Find(right);
      // A merge of non-token texts can never apply: every symbol the BPE
      // loop builds from a byte-level word is a token.
      if (left_id < 0 || right_id < 0) {
        continue;
      }
      joined.assign(left);
      joined.append(right);
      impl.merges.Insert(Impl::MergeKey(left_id, right_id),
                         Impl::Merge{static_cast<int32_t>(rank), impl.Find(joined)});
    }
  }
  return t;
}

void Tokenizer::CheckId(int32_t id) const {
  if (id < 0 || id >= n_vocab()) {
    Fail("token id {} is out of range (the vocabulary has {} tokens)", id, n_vocab());
  }
}

const std::string& Tokenizer::TokenText(int32_t id) const {
  CheckId(id);
  return tokens_[id];
}

TokenType Tokenizer::GetTokenType(int32_t id) const {
  CheckId(id);
  return types_[id];
}

float Tokenizer::TokenScore(int32_t id) const {
  CheckId(id);
  return scores_[id];
}

int32_t Tokenizer::FindToken(std::string_view text) const { return impl_->Find(text); }

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

bool Tokenizer::IsControl(int32_t id) const {
  return id >= 0 && id < n_vocab() && types_[id] == TokenType::kControl;
}

std::vector<Tokenizer::Fragment> Tokenizer::Partition(std::string_view text,
                                                      bool parse_special) const {
  std::vector<Fragment> fragments;
  if (text.empty()) {
    return fragments;
  }
  fragments.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (const int32_t id : special_tokens_) {
    const TokenType type = types_[id];
    if (!parse_special && (type == TokenType::kControl || type == TokenType::kUnknown)) {
      continue;
    }
    const std::string& needle = tokens_[id];
    next.clear();
    bool found = false;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.offset;
      const size_t end = f.offset + f.length;
      while (pos < end) {
        const size_t match = text.substr(pos, end - pos).find(needle);
        if (match == std::string_view::npos) {
          break;
        }
        found = true;
        size_t left_end = pos + match;
        if (lstrip_[id]) {
          while (left_end > pos && IsAsciiSpace(text[left_end - 1])) {
            --left_end;
          }
        }
        if (left_end > pos) {
          next.push_back({-1, pos, left_end - pos});
        }
        next.push_back({id, 0, 0});
        pos += match + needle.size();
        if (rstrip_[id]) {
          while (pos < end && IsAsciiSpace(text[pos])) {
            ++pos;
          }
        }
      }
      if (pos < end) {
        next.push_back({-1, pos, end - pos});
      }
    }
    if (found) {
      fragments.swap(next);
    }
  }
  return fragments;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  const std::vector<Fragment> fragments = Partition(text, parse_special);
  if (add_special && add_bos_) {
    out.push_back(bos_id_);
  }
  if (type_ == VocabType::kSpm) {
    // A space is prepended to the text at the start and after each special
    // token (llama.cpp's add_space_prefix handling).
    bool prev_special = true;
    std::string escaped;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
        prev_special = true;
        continue;
      }
      escaped.clear();
      if (add_space_prefix_ && prev_special) {
        escaped += kSpmSpace;
      }
      for (char c : text.substr(f.offset, f.length)) {
        if (c == ' ') {
          escaped += kSpmSpace;
        } else {
          escaped += c;
        }
      }
      EncodeSpm(escaped, out);
      prev_special = false;
    }
  } else {
    std::unordered_map<std::string, std::vector<int32_t>> cache;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
      } else {
        EncodeBpe(text.substr(f.offset, f.length), out, cache);
      }
    }
  }
  if (add_special && add_eos_) {
    out.push_back(eos_id_);
  }
  return out;
}

std::string Tokenizer::TokenToPiece(int32_t id, bool render_special) const {
  CheckId(id);
  const TokenType type = types_[id];
  const std::string& text = tokens_[id];
  switch (type) {
    case TokenType::kControl:
    case TokenType::kUnknown:
      return render_special ? text : std::string();
    case TokenType::kUserDefined:
      return text;
    case TokenType::kUnused:
    case TokenType::kUndefined:
      return std::string();
    case TokenType::kByte:
      if (type_ == VocabType::kSpm) {
        return std::string(1, static_cast<char>(impl_->byte_value[id]));
      }
      return std::string();  // llama.cpp gives byte-typed gpt2 tokens no text
    case TokenType::kNormal:
      break;
  }
  std::string piece;
  piece.reserve(text.size());
  if (type_ == VocabType::kSpm) {
    for (size_t i = 0; i < text.size();) {
      if (text.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
        piece += ' ';
        i += kSpmSpace.size();
      } else {
        piece += text[i++];
      }
    }
    return piece;
  }
  // gpt2: map each byte symbol back to its byte; a code point outside the
  // mapping (not produced by byte-level vocabularies) is kept as UTF-8.
  size_t offset = 0;
  while (offset < text.size()) {
    const size_t start = offset;
    uint32_t cpt = 0;
    if (!unicode::DecodeOne(text, offset, cpt)) {
      piece += text[offset++];
      continue;
    }
    const int byte = unicode::SymbolToByte(cpt);
    if (byte >= 0) {
      piece += static_cast<char>(byte);
    } else {
      piece.append(text, start, offset - start);
    }
  }
  return piece;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string piece = TokenToPiece(ids[i], render_special);
    // llama.cpp's detokenize: the space SPM prepends is dropped from the
    // first token only (so "<s> Hello" keeps it, as llama.cpp does).
    if (i == 0 && type_ == VocabType::kSpm && add_space_prefix_ && !piece.empty() &&
        piece[0] == ' ') {
      piece.erase(0, 1);
    }
    out += piece;
  }
  return out;
}

}  // namespace arkv
