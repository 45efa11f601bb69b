// Python's string semantics, as LongBench's metrics rely on them: strings are
// sequences of code points; str.isspace, \w, str.lower, str.split, and
// difflib.SequenceMatcher's ratio (what fuzzywuzzy's fuzz.ratio computes
// without python-Levenshtein, as LongBench's requirements install it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace arkv::eval::pytext {

using Text = std::u32string;

// UTF-8 to code points (a byte that starts no valid sequence becomes U+FFFD) and back.
Text Decode(std::string_view utf8);
std::string Encode(const Text& text);

bool IsSpace(char32_t c);       // str.isspace()
bool IsWordChar(char32_t c);    // \w of a str pattern (C.UTF-8 alnum, '_')
bool IsAsciiPunct(char32_t c);  // in string.punctuation
Text Lower(const Text& text);   // str.lower() (C.UTF-8 towlower)

std::vector<Text> SplitWhitespace(const Text& text);        // str.split()
std::vector<Text> SplitOn(const Text& text, char32_t sep);  // str.split(sep)
Text JoinWords(const std::vector<Text>& words, std::u32string_view sep);
Text FirstLine(const Text& text);  // text.lstrip('\n').split('\n')[0]

// difflib.SequenceMatcher(None, a, b).ratio(): 2 M / (|a| + |b|) with M the
// characters of the matching blocks found longest first (earliest in a, then
// in b, on ties), recursively on both sides; autojunk: when b has 200 or more
// characters, those occurring more than |b|/100 + 1 times start no match.
// 1 for two empty strings.
double SequenceMatcherRatio(const Text& a, const Text& b);

}  // namespace arkv::eval::pytext
