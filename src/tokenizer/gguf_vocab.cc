// Tokenizer::FromGguf: reads the tokenizer.ggml.* metadata keys.
#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace arkv {
namespace {

const gguf::Array* FindArray(const gguf::GgufFile& file, std::string_view key) {
  const gguf::Value* value = file.Find(key);
  return value == nullptr ? nullptr : &value->AsArray(key);
}

std::optional<int64_t> OptionalInt(const gguf::GgufFile& file, std::string_view key) {
  const gguf::Value* value = file.Find(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  return value->AsInt(key);
}

std::optional<bool> OptionalBool(const gguf::GgufFile& file, std::string_view key) {
  const gguf::Value* value = file.Find(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  return value->AsBool(key);
}

std::vector<std::string> StringArray(const gguf::Array& array, std::string_view key) {
  std::vector<std::string> out;
  out.reserve(array.items.size());
  for (const gguf::Value& item : array.items) {
    out.push_back(item.AsString(key));
  }
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::FromGguf(const gguf::GgufFile& file) {
  VocabData v;
  v.model = file.GetString("tokenizer.ggml.model", "");
  if (v.model.empty()) {
    Fail("{}: missing tokenizer.ggml.model", file.path());
  }
  v.pre = file.GetString("tokenizer.ggml.pre", "");
  v.model_name = file.GetString("general.name", "");

  const gguf::Array* tokens = FindArray(file, "tokenizer.ggml.tokens");
  if (tokens == nullptr) {
    Fail("{}: missing tokenizer.ggml.tokens", file.path());
  }
  v.tokens = StringArray(*tokens, "tokenizer.ggml.tokens");

  if (const gguf::Array* scores = FindArray(file, "tokenizer.ggml.scores")) {
    v.scores.reserve(scores->items.size());
    for (const gguf::Value& item : scores->items) {
      v.scores.push_back(static_cast<float>(item.AsFloat("tokenizer.ggml.scores")));
    }
  }
  if (const gguf::Array* types = FindArray(file, "tokenizer.ggml.token_type")) {
    v.types.reserve(types->items.size());
    for (size_t i = 0; i < types->items.size(); ++i) {
      const int64_t type = types->items[i].AsInt("tokenizer.ggml.token_type");
      if (type < 0 || type > static_cast<int64_t>(TokenType::kByte)) {
        Fail("{}: tokenizer.ggml.token_type[{}] = {} is not a token type (0..6)", file.path(), i,
             type);
      }
      v.types.push_back(static_cast<TokenType>(type));
    }
  }
  if (v.model == "gpt2") {
    const gguf::Array* merges = FindArray(file, "tokenizer.ggml.merges");
    if (merges == nullptr) {
      Fail("{}: gpt2 tokenizer without tokenizer.ggml.merges", file.path());
    }
    v.merges = StringArray(*merges, "tokenizer.ggml.merges");
  }

  v.bos_id = OptionalInt(file, "tokenizer.ggml.bos_token_id");
  v.eos_id = OptionalInt(file, "tokenizer.ggml.eos_token_id");
  v.unk_id = OptionalInt(file, "tokenizer.ggml.unknown_token_id");
  v.eot_id = OptionalInt(file, "tokenizer.ggml.eot_token_id");
  v.eom_id = OptionalInt(file, "tokenizer.ggml.eom_token_id");
  v.pad_id = OptionalInt(file, "tokenizer.ggml.padding_token_id");
  v.sep_id = OptionalInt(file, "tokenizer.ggml.seperator_token_id");
  v.add_bos = OptionalBool(file, "tokenizer.ggml.add_bos_token");
  v.add_eos = OptionalBool(file, "tokenizer.ggml.add_eos_token");
  v.add_space_prefix = OptionalBool(file, "tokenizer.ggml.add_space_prefix");
  return FromVocab(std::move(v));
}

}  // namespace arkv
