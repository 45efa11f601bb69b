// Pre-tokenizers of byte-level BPE vocabularies: the regex sequences llama.cpp
// applies for each tokenizer.ggml.pre name, run with PCRE2 (UTF + UCP, JIT when
// available). Internal to the tokenizer module.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace arkv {

struct PretokenizerSpec {
  std::vector<std::string> regexes;  // applied in order, each refining the pieces
  bool ignore_merges = false;        // a piece that is a token is taken whole
  bool add_bos = false;              // llama.cpp's default for add_bos_token
};

// Throws arkv::Error listing the supported names when `name` is unknown.
PretokenizerSpec PretokenizerSpecFor(std::string_view name);
std::string SupportedPretokenizers();

class Pretokenizer {
 public:
  struct Piece {
    size_t offset;
    size_t length;
  };

  // Compiles the regexes; throws arkv::Error if PCRE2 rejects one.
  explicit Pretokenizer(const std::vector<std::string>& regexes);
  ~Pretokenizer();
  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;

  // Splits valid UTF-8 `text` into consecutive pieces covering all of it, as
  // llama.cpp's unicode_regex_split does: each regex is matched within every
  // piece of the previous stage; matches and the gaps between them both
  // become pieces.
  std::vector<Piece> Split(std::string_view text) const;

 private:
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> regexes_;
};

}  // namespace arkv
