#include "tokenizer/unicode.h"

#include <array>

namespace arkv::unicode {

bool DecodeOne(std::string_view text, size_t& offset, uint32_t& cpt) {
  const size_t n = text.size() - offset;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[offset + i]); };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) {
    cpt = b0;
    offset += 1;
    return true;
  }
  size_t len = 0;
  uint32_t value = 0;
  uint32_t min_value = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, value = b0 & 0x1F, min_value = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, value = b0 & 0x0F, min_value = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, value = b0 & 0x07, min_value = 0x10000;
  } else {
    return false;
  }
  if (n < len) {
    return false;
  }
  for (size_t i = 1; i < len; ++i) {
    if ((byte(i) & 0xC0) != 0x80) {
      return false;
    }
    value = (value << 6) | (byte(i) & 0x3F);
  }
  if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return false;
  }
  cpt = value;
  offset += len;
  return true;
}

void AppendUtf8(std::string& out, uint32_t cpt) {
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

std::string Sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t offset = 0;
  while (offset < text.size()) {
    const size_t start = offset;
    uint32_t cpt = 0;
    if (DecodeOne(text, offset, cpt)) {
      out.append(text.data() + start, offset - start);
    } else {
      AppendUtf8(out, kReplacementChar);
      ++offset;
    }
  }
  return out;
}

namespace {

struct ByteTables {
  std::array<std::string, 256> symbol;
  std::array<int16_t, 512> byte_of;  // symbols all lie below U+0144

  ByteTables() {
    byte_of.fill(-1);
    // Printable bytes stand for themselves; the others are shifted past 255
    // in byte order (GPT-2's bytes_to_unicode).
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cpt = printable ? static_cast<uint32_t>(b) : next++;
      AppendUtf8(symbol[b], cpt);
      byte_of[cpt] = static_cast<int16_t>(b);
    }
  }
};

const ByteTables& Tables() {
  static const ByteTables tables;
  return tables;
}

}  // namespace

const std::string& ByteToSymbol(uint8_t b) { return Tables().symbol[b]; }

int SymbolToByte(uint32_t cpt) {
  return cpt < Tables().byte_of.size() ? Tables().byte_of[cpt] : -1;
}

}  // namespace arkv::unicode
