// Internal state of arkv::Tokenizer shared by its .cc files.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace arkv {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Tokenizer::Fragment {
  int32_t token = -1;  // -1: raw text [offset, offset + length)
  size_t offset = 0;
  size_t length = 0;
};

struct Tokenizer::Impl {
  // Token text -> id; for duplicate texts the last id wins (as in llama.cpp).
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_to_id;

  // gpt2: merges keyed by (left id, right id).
  struct Merge {
    int32_t rank;
    int32_t result;  // id of the merged text, -1 if it is not a token
  };
  std::unordered_map<uint64_t, Merge> merges;
  std::unique_ptr<Pretokenizer> pretokenizer;

  // SPM: the byte a BYTE token (<0xXX>) stands for, -1 for other tokens.
  std::vector<int16_t> byte_value;

  int32_t Find(std::string_view text) const {
    const auto it = token_to_id.find(text);
    return it == token_to_id.end() ? -1 : it->second;
  }
  static uint64_t MergeKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
};

}  // namespace arkv
