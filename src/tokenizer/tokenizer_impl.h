// Internal state of arkv::Tokenizer shared by its .cc files.
#pragma once

#include <algorithm>
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

// Open-addressing map from a (left id, right id) pair to its merge: built
// once per vocabulary (~300k merges for Llama-3) and probed for every
// adjacent pair while encoding, so it is kept flat.
template <typename Value>
class PairTable {
 public:
  void Reserve(size_t n) {
    size_t capacity = 16;
    while (capacity < 2 * n) {
      capacity *= 2;
    }
    slots_.assign(capacity, Slot{kEmpty, Value{}});
    mask_ = capacity - 1;
  }
  // Keeps the first value inserted for a key (the lowest merge rank).
  void Insert(uint64_t key, const Value& value) {
    if (2 * (size_ + 1) > slots_.size()) {
      Grow();
    }
    for (size_t i = Mix(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) {
        return;
      }
      if (slots_[i].key == kEmpty) {
        slots_[i] = Slot{key, value};
        ++size_;
        return;
      }
    }
  }
  const Value* Find(uint64_t key) const {
    if (slots_.empty()) {
      return nullptr;
    }
    for (size_t i = Mix(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) {
        return &slots_[i].value;
      }
      if (slots_[i].key == kEmpty) {
        return nullptr;
      }
    }
  }
  size_t size() const { return size_; }

 private:
  // Keys are two non-negative int32 ids, so all-ones never occurs.
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key;
    Value value;
  };
  static uint64_t Mix(uint64_t k) {  // splitmix64 finalizer
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebULL;
    return k ^ (k >> 31);
  }
  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    Reserve(std::max<size_t>(size_ + 1, old.size()));
    size_ = 0;
    for (const Slot& s : old) {
      if (s.key != kEmpty) {
        Insert(s.key, s.value);
      }
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
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
  PairTable<Merge> merges;
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
