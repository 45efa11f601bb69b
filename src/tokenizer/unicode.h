// UTF-8 helpers and GPT-2's byte <-> unicode mapping, as the tokenizers need
// them (internal to the tokenizer module).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace arkv::unicode {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Length of the UTF-8 sequence a lead byte announces, by its high nibble, as
// llama.cpp splits text into symbols: 1 for ASCII and stray continuation
// bytes, 2, 3 or 4 otherwise. Callers clamp it to the bytes left.
inline size_t SeqLenFromLead(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes one well-formed code point at `offset` (strict: no overlongs,
// surrogates or values above U+10FFFF). Returns false and leaves `offset`
// unchanged when the bytes there are not a complete valid sequence.
bool DecodeOne(std::string_view text, size_t& offset, uint32_t& cpt);

void AppendUtf8(std::string& out, uint32_t cpt);

// Valid UTF-8 copy of `text`: every byte that does not start a valid sequence
// becomes U+FFFD (llama.cpp replaces invalid input byte by byte the same way).
std::string Sanitize(std::string_view text);

// GPT-2's bytes_to_unicode: the UTF-8 text of the code point byte `b` maps to.
const std::string& ByteToSymbol(uint8_t b);
// The byte whose symbol is `cpt`, or -1.
int SymbolToByte(uint32_t cpt);

}  // namespace arkv::unicode
