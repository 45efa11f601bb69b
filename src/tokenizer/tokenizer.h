// Tokenizers of GGUF vocabularies, reproducing llama.cpp's token ids:
//  - "llama": SentencePiece-style BPE over scores (bigram merges by highest
//    score, byte fallback to <0xXX> tokens);
//  - "gpt2": byte-level BPE over ranked merges, with the pre-tokenizer regexes
//    named by tokenizer.ggml.pre (default, gpt-2, llama-bpe, qwen2,
//    deepseek-coder and their aliases).
// A Tokenizer is immutable after construction; Encode and the piece accessors
// are safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace arkv {

namespace gguf {
class GgufFile;
}

// Values of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

enum class VocabType : uint8_t { kSpm, kBpe };

// Everything a tokenizer is built from; FromGguf fills it from the
// tokenizer.ggml.* keys. Absent optionals take llama.cpp's defaults.
struct VocabData {
  std::string model;  // tokenizer.ggml.model: "llama" or "gpt2"
  std::string pre;    // tokenizer.ggml.pre (gpt2 only); empty means "default"
  std::vector<std::string> tokens;
  std::vector<float> scores;        // empty (all 0) or one per token
  std::vector<TokenType> types;     // empty (all normal) or one per token
  std::vector<std::string> merges;  // gpt2: "left right", rank = index
  // Special token ids; -1 means "none".
  std::optional<int64_t> bos_id, eos_id, unk_id, eot_id, eom_id, pad_id, sep_id;
  std::optional<bool> add_bos, add_eos, add_space_prefix;
  std::string model_name;  // general.name; llama.cpp keys a few token attributes on it
};

class Tokenizer {
 public:
  // Reads the tokenizer.ggml.* keys. Throws arkv::Error naming the problem
  // (missing tokens, unknown model or pre-tokenizer, mismatched array lengths,
  // out-of-range special token ids, malformed merges).
  static std::unique_ptr<Tokenizer> FromGguf(const gguf::GgufFile& file);
  static std::unique_ptr<Tokenizer> FromVocab(VocabData vocab);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // llama.cpp's llama_tokenize: add_special adds BOS/EOS as the vocab says
  // (add_bos/add_eos); parse_special turns control/unknown token texts in
  // `text` into their ids (user-defined token texts always are).
  std::vector<int32_t> Encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes a token stands for: byte tokens give their byte, SPM's U+2581
  // becomes a space, gpt2's byte symbols are mapped back to bytes. Control,
  // unknown and unused tokens give "" unless render_special (then their
  // text). Throws on an out-of-range id.
  std::string TokenToPiece(int32_t id, bool render_special = false) const;

  // Concatenated pieces. For SPM vocabularies that add a space prefix, a
  // leading space of the piece of ids[0] is removed (only there: after a BOS
  // it stays, exactly as llama.cpp's detokenizer does), so
  // Decode(Encode(s, false, false)) == s whenever the vocabulary can
  // represent s. llama.cpp's clean_spaces
  // post-processing (" ." -> ".") is not applied: it would break that.
  std::string Decode(std::span<const int32_t> ids, bool render_special = false) const;

  VocabType type() const { return type_; }
  const std::string& pre() const { return pre_; }
  int32_t n_vocab() const { return static_cast<int32_t>(tokens_.size()); }
  int32_t bos_id() const { return bos_id_; }  // -1 if none
  int32_t eos_id() const { return eos_id_; }
  int32_t eot_id() const { return eot_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t pad_id() const { return pad_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }

  // EOS, EOT, EOM and the usual end-of-turn tokens (<|eot_id|>, <|im_end|>,
  // <|endoftext|>, <|end|>, ...), as llama.cpp's llama_vocab_is_eog.
  bool IsEndOfGeneration(int32_t id) const;
  bool IsControl(int32_t id) const;

  const std::string& TokenText(int32_t id) const;
  TokenType GetTokenType(int32_t id) const;
  float TokenScore(int32_t id) const;
  // The id of a token with exactly this text, or -1.
  int32_t FindToken(std::string_view text) const;

  struct Impl;  // algorithm state shared with the .cc files

 private:
  Tokenizer();
  void CheckId(int32_t id) const;

  struct Fragment;
  std::vector<Fragment> Partition(std::string_view text, bool parse_special) const;
  void EncodeSpm(std::string_view text, std::vector<int32_t>& out) const;
  void EncodeBpe(std::string_view text, std::vector<int32_t>& out,
                 std::unordered_map<std::string, std::vector<int32_t>>& cache) const;
  int32_t SpmByteToken(uint8_t byte) const;

  VocabType type_ = VocabType::kSpm;
  std::string pre_;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::vector<uint8_t> lstrip_, rstrip_;  // per-token attributes of special tokens
  int32_t bos_id_ = -1, eos_id_ = -1, eot_id_ = -1, eom_id_ = -1, unk_id_ = -1;
  int32_t pad_id_ = -1, sep_id_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  bool ignore_merges_ = false;
  std::vector<int32_t> eog_ids_;         // sorted
  std::vector<int32_t> special_tokens_;  // partition candidates, longest text first
  std::vector<int32_t> byte_tokens_;     // SPM: id of <0xXX> (or the 1-byte token), -1
  std::unique_ptr<Impl> impl_;
};

// Streams detokenized text as valid UTF-8: Push returns the bytes that are
// complete so far and holds back an incomplete multi-byte sequence until a
// later token completes it; Flush returns whatever is held (possibly invalid
// UTF-8 if the stream ended mid-character).
class StreamDecoder {
 public:
  // strip_leading_space: drop the leading space of the first pushed token's
  // piece in SPM vocabularies with a space prefix (what Tokenizer::Decode does).
  explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = false,
                         bool strip_leading_space = true);
  std::string Push(int32_t id);
  std::string Flush();
  void Reset();

 private:
  const Tokenizer& tokenizer_;
  bool render_special_;
  bool strip_leading_space_;
  bool first_ = true;
  std::string pending_;
};

// Length of the longest prefix of `bytes` that does not end inside a UTF-8
// sequence that could still be completed by more bytes.
size_t CompleteUtf8Prefix(std::string_view bytes);

}  // namespace arkv
