#include "eval/python_text.h"

#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <unordered_map>

#include "tokenizer/unicode.h"

namespace arkv::eval::pytext {
namespace {

locale_t Utf8Locale() {
  static const locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    return l != static_cast<locale_t>(0) ? l : newlocale(LC_CTYPE_MASK, "C", nullptr);
  }();
  return loc;
}

}  // namespace

Text Decode(std::string_view s) {
  Text out;
  size_t pos = 0;
  while (pos < s.size()) {
    uint32_t c = 0;
    if (!unicode::DecodeOne(s, pos, c)) {
      c = unicode::kReplacementChar;
      ++pos;
    }
    out.push_back(c);
  }
  return out;
}

std::string Encode(const Text& t) {
  std::string out;
  for (char32_t c : t) {
    unicode::AppendUtf8(out, c);
  }
  return out;
}

// Python's str.isspace().
bool IsSpace(char32_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) || c == 0x85 ||
         c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
         c == 0x202f || c == 0x205f || c == 0x3000;
}

// Python's \w in a str pattern.
bool IsWordChar(char32_t c) { return c == '_' || iswalnum_l(static_cast<wint_t>(c), Utf8Locale()); }

Text Lower(const Text& t) {
  Text out = t;
  for (char32_t& c : out) {
    c = static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), Utf8Locale()));
  }
  return out;
}

// string.punctuation.
bool IsAsciiPunct(char32_t c) { return c < 128 && std::ispunct(static_cast<int>(c)); }

// Python's str.split() without arguments.
std::vector<Text> SplitWhitespace(const Text& t) {
  std::vector<Text> words;
  Text cur;
  for (char32_t c : t) {
    if (IsSpace(c)) {
      if (!cur.empty()) {
        words.push_back(cur);
        cur.clear();
      }
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) {
    words.push_back(cur);
  }
  return words;
}

// str.split(sep) for a one-character separator (empty pieces kept).
std::vector<Text> SplitOn(const Text& t, char32_t sep) {
  std::vector<Text> parts(1);
  for (char32_t c : t) {
    if (c == sep) {
      parts.emplace_back();
    } else {
      parts.back().push_back(c);
    }
  }
  return parts;
}

Text JoinWords(const std::vector<Text>& words, std::u32string_view sep) {
  Text out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      out += sep;
    }
    out += words[i];
  }
  return out;
}

// difflib.SequenceMatcher(None, a, b).ratio() without a junk function:
// autojunk drops characters of b more frequent than 1% + 1 when b has at
// least 200 of them; matching blocks found recursively, longest first.
double SequenceMatcherRatio(const Text& a, const Text& b) {
  const size_t total = a.size() + b.size();
  if (total == 0) {
    return 1.0;
  }
  std::unordered_map<char32_t, std::vector<int>> b2j;
  for (size_t j = 0; j < b.size(); ++j) {
    b2j[b[j]].push_back(static_cast<int>(j));
  }
  if (b.size() >= 200) {
    const size_t ntest = b.size() / 100 + 1;
    for (auto it = b2j.begin(); it != b2j.end();) {
      it = it->second.size() > ntest ? b2j.erase(it) : std::next(it);
    }
  }
  struct Match {
    int i, j, k;
  };
  auto longest = [&](int alo, int ahi, int blo, int bhi) {
    int besti = alo, bestj = blo, bestsize = 0;
    std::unordered_map<int, int> j2len, next;
    for (int i = alo; i < ahi; ++i) {
      next.clear();
      const auto it = b2j.find(a[i]);
      if (it != b2j.end()) {
        for (int j : it->second) {
          if (j < blo) {
            continue;
          }
          if (j >= bhi) {
            break;
          }
          const auto prev = j2len.find(j - 1);
          const int k = next[j] = (prev == j2len.end() ? 0 : prev->second) + 1;
          if (k > bestsize) {
            besti = i - k + 1;
            bestj = j - k + 1;
            bestsize = k;
          }
        }
      }
      std::swap(j2len, next);
    }
    while (besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1]) {
      --besti;
      --bestj;
      ++bestsize;
    }
    while (besti + bestsize < ahi && bestj + bestsize < bhi &&
           a[besti + bestsize] == b[bestj + bestsize]) {
      ++bestsize;
    }
    return Match{besti, bestj, bestsize};
  };
  size_t matched = 0;
  std::vector<std::array<int, 4>> todo = {
      {0, static_cast<int>(a.size()), 0, static_cast<int>(b.size())}};
  while (!todo.empty()) {
    const auto [alo, ahi, blo, bhi] = todo.back();
    todo.pop_back();
    const Match m = longest(alo, ahi, blo, bhi);
    if (m.k > 0) {
      matched += static_cast<size_t>(m.k);
      if (alo < m.i && blo < m.j) {
        todo.push_back({alo, m.i, blo, m.j});
      }
      if (m.i + m.k < ahi && m.j + m.k < bhi) {
        todo.push_back({m.i + m.k, ahi, m.j + m.k, bhi});
      }
    }
  }
  return 2.0 * static_cast<double>(matched) / static_cast<double>(total);
}

// prediction.lstrip('\n').split('\n')[0]
Text FirstLine(const Text& t) {
  size_t begin = 0;
  while (begin < t.size() && t[begin] == '\n') {
    ++begin;
  }
  const size_t end = t.find(U'\n', begin);
  return t.substr(begin, end == Text::npos ? Text::npos : end - begin);
}

}  // namespace arkv::eval::pytext
