// The two merge algorithms, written to give llama.cpp's ids:
//  - SPM: start from UTF-8 characters, repeatedly merge the adjacent pair
//    whose concatenation is the token with the highest score (the leftmost
//    pair on ties); characters no token covers fall back to byte tokens.
//  - BPE: per pre-tokenized word (bytes mapped to GPT-2's byte symbols),
//    repeatedly merge the adjacent pair with the lowest merge rank (leftmost
//    on ties).
// Both use a heap of candidate pairs with lazy invalidation: O(n log n) per
// word instead of rescanning the word after every merge.
#include <algorithm>
#include <limits>
#include <queue>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace arkv {
namespace {

struct Symbol {
  uint32_t offset;  // into the text being merged
  uint32_t length;  // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
  int32_t id;  // BPE: token id of the text, -1 if not a token
};

// Splits `text` into symbols of one UTF-8 character each (by lead byte, as
// llama.cpp does, so malformed input still yields symbols).
void SplitChars(std::string_view text, std::vector<Symbol>& symbols) {
  symbols.clear();
  size_t offset = 0;
  while (offset < text.size()) {
    const size_t len =
        std::min(unicode::SeqLenFromLead(static_cast<uint8_t>(text[offset])), text.size() - offset);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(len), index - 1,
                       offset + len == text.size() ? -1 : index + 1, -1});
    offset += len;
  }
}

void Unlink(std::vector<Symbol>& symbols, int32_t left, int32_t right) {
  Symbol& l = symbols[left];
  Symbol& r = symbols[right];
  l.length += r.length;
  r.length = 0;
  l.next = r.next;
  if (r.next >= 0) {
    symbols[r.next].prev = left;
  }
}

struct SpmPair {
  float score;
  int32_t left;
  int32_t right;
  uint32_t length;
};

struct SpmPairOrder {
  // priority_queue pops the "largest": highest score, then lowest left index.
  bool operator()(const SpmPair& a, const SpmPair& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

struct BpePair {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t left_id;
  int32_t right_id;
  int32_t result;
};

struct BpePairOrder {
  bool operator()(const BpePair& a, const BpePair& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

int32_t Tokenizer::SpmByteToken(uint8_t byte) const { return byte_tokens_[byte]; }

void Tokenizer::EncodeSpm(std::string_view text, std::vector<int32_t>& out) const {
  if (text.size() > std::numeric_limits<uint32_t>::max() / 2) {
    Fail("tokenizer: text of {} bytes is too long", text.size());
  }
  std::vector<Symbol> symbols;
  SplitChars(text, symbols);
  std::priority_queue<SpmPair, std::vector<SpmPair>, SpmPairOrder> queue;
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) {
      return;
    }
    const uint32_t length = symbols[left].length + symbols[right].length;
    const int32_t id = impl_->Find(text.substr(symbols[left].offset, length));
    if (id < 0) {
      return;
    }
    queue.push({scores_[id], left, right, length});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) {
    try_add(i - 1, i);
  }
  while (!queue.empty()) {
    const SpmPair pair = queue.top();
    queue.pop();
    const Symbol& l = symbols[pair.left];
    const Symbol& r = symbols[pair.right];
    // Stale: one side was merged away or grew since the pair was queued.
    if (l.length == 0 || r.length == 0 || l.length + r.length != pair.length) {
      continue;
    }
    Unlink(symbols, pair.left, pair.right);
    try_add(symbols[pair.left].prev, pair.left);
    try_add(pair.left, symbols[pair.left].next);
  }
  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    const std::string_view piece = text.substr(s.offset, s.length);
    if (const int32_t id = impl_->Find(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    // Only single characters can be missing from the vocabulary (merged
    // symbols are tokens by construction): emit their bytes.
    bool all_bytes = true;
    for (char c : piece) {
      all_bytes = all_bytes && SpmByteToken(static_cast<uint8_t>(c)) >= 0;
    }
    if (all_bytes) {
      for (char c : piece) {
        out.push_back(SpmByteToken(static_cast<uint8_t>(c)));
      }
    } else if (unk_id_ >= 0) {
      out.push_back(unk_id_);  // no byte tokens (e.g. TinyStories-656K): one UNK per character
    } else {
      Fail("tokenizer: cannot encode '{}': no token, byte token or UNK token covers it", piece);
    }
  }
}

void Tokenizer::EncodeBpe(std::string_view raw, std::vector<int32_t>& out,
                          std::unordered_map<std::string, std::vector<int32_t>>& cache) const {
  const std::string text = unicode::Sanitize(raw);
  const std::vector<Pretokenizer::Piece> pieces = impl_->pretokenizer->Split(text);
  std::string word;
  std::vector<Symbol> symbols;
  std::vector<int32_t> ids;
  for (const Pretokenizer::Piece& p : pieces) {
    word.clear();
    for (size_t i = 0; i < p.length; ++i) {
      word += unicode::ByteToSymbol(static_cast<uint8_t>(text[p.offset + i]));
    }
    if (const auto it = cache.find(word); it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      continue;
    }
    ids.clear();
    const int32_t whole = ignore_merges_ ? impl_->Find(word) : -1;
    if (whole >= 0) {
      ids.push_back(whole);
    } else {
      if (word.size() > std::numeric_limits<uint32_t>::max() / 2) {
        Fail("tokenizer: pre-tokenized word of {} bytes is too long", word.size());
      }
      SplitChars(word, symbols);
      for (Symbol& s : symbols) {
        s.id = impl_->Find(std::string_view(word).substr(s.offset, s.length));
      }
      std::priority_queue<BpePair, std::vector<BpePair>, BpePairOrder> queue;
      const auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) {
          return;
        }
        const int32_t left_id = symbols[left].id;
        const int32_t right_id = symbols[right].id;
        if (left_id < 0 || right_id < 0) {
          return;
        }
        const Impl::Merge* merge = impl_->merges.Find(Impl::MergeKey(left_id, right_id));
        if (merge == nullptr) {
          return;
        }
        queue.push({merge->rank, left, right, left_id, right_id, merge->result});
      };
      for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) {
        try_add(i - 1, i);
      }
      while (!queue.empty()) {
        const BpePair pair = queue.top();
        queue.pop();
        const Symbol& l = symbols[pair.left];
        const Symbol& r = symbols[pair.right];
        // A symbol's text only grows, so an unchanged id means an unchanged
        // symbol; anything else makes the pair stale.
        if (l.length == 0 || r.length == 0 || l.next != pair.right || l.id != pair.left_id ||
            r.id != pair.right_id) {
          continue;
        }
        Unlink(symbols, pair.left, pair.right);
        symbols[pair.left].id = pair.result;
        try_add(symbols[pair.left].prev, pair.left);
        try_add(pair.left, symbols[pair.left].next);
      }
      for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
        const Symbol& s = symbols[i];
        if (s.id >= 0) {
          ids.push_back(s.id);
          continue;
        }
        // Not a token (a vocabulary lacking some byte symbols): llama.cpp
        // tries each byte as a one-character token and drops the rest.
        for (size_t j = 0; j < s.length; ++j) {
          const int32_t id = impl_->Find(std::string_view(word).substr(s.offset + j, 1));
          if (id >= 0) {
            ids.push_back(id);
          } else if (unk_id_ >= 0) {
            ids.push_back(unk_id_);
          }
        }
      }
    }
    out.insert(out.end(), ids.begin(), ids.end());
    if (cache.size() < (1u << 16)) {
      cache.emplace(word, ids);
    }
  }
}

}  // namespace arkv
