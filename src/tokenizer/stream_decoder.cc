#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace arkv {

size_t CompleteUtf8Prefix(std::string_view bytes) {
  // Look back over at most 3 trailing bytes for a lead byte whose sequence
  // is cut short; everything before it is complete (or hopelessly invalid,
  // which waiting would not fix).
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<uint8_t>(bytes[n - back]);
    if ((c & 0xC0) == 0x80) {
      continue;  // continuation byte: keep looking
    }
    size_t need = 0;
    if ((c & 0xE0) == 0xC0) {
      need = 2;
    } else if ((c & 0xF0) == 0xE0) {
      need = 3;
    } else if ((c & 0xF8) == 0xF0) {
      need = 4;
    } else {
      return n;  // ASCII or invalid lead: nothing to wait for
    }
    return back < need ? n - back : n;
  }
  return n;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool render_special,
                             bool strip_leading_space)
    : tokenizer_(tokenizer),
      render_special_(render_special),
      strip_leading_space_(strip_leading_space) {}

std::string StreamDecoder::Push(int32_t id) {
  std::string piece = tokenizer_.TokenToPiece(id, render_special_);
  if (first_ && strip_leading_space_ && tokenizer_.type() == VocabType::kSpm &&
      tokenizer_.add_space_prefix() && !piece.empty() && piece[0] == ' ') {
    piece.erase(0, 1);
  }
  first_ = false;
  pending_ += piece;
  const size_t complete = CompleteUtf8Prefix(pending_);
  // Bytes that can never become valid (a model may emit any byte token)
  // are replaced by U+FFFD, so the stream is always valid UTF-8.
  std::string out = unicode::Sanitize(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out = unicode::Sanitize(pending_);  // a cut-off character becomes U+FFFD
  pending_.clear();
  return out;
}

void StreamDecoder::Reset() {
  first_ = true;
  pending_.clear();
}

}  // namespace arkv
