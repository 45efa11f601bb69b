// Synthetic retrieval tasks (RULER-style), generated at a chosen context
// length and needle depth from a seed, and scored by exact match.
//
//  - passkey:  "... The pass key is 48213. Remember it. 48213 is the pass key."
//              hidden in filler; the question asks for the pass key.
//  - needle:   "The special magic number for <key> is: 4821390." hidden in a
//              haystack; the question asks for the number of <key>.
//  - multikey: like needle, with `n_keys` needles of distinct keys; the queried
//              one sits at the requested depth, the distractors at seeded
//              random depths.
//
// The prompt is built from token ids (intro, haystack sentences, needle,
// question are each tokenized on their own and concatenated), so the needle
// lands exactly at a sentence boundary: the one whose offset inside the
// haystack is nearest to depth * haystack_tokens. The prompt's length is at
// most context_tokens and short of it by less than one haystack sentence.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace arkv::eval {

enum class RetrievalKind { kPasskey, kNeedle, kMultiKey };

RetrievalKind ParseRetrievalKind(std::string_view name);
std::string_view RetrievalKindName(RetrievalKind kind);

struct RetrievalSpec {
  RetrievalKind kind = RetrievalKind::kPasskey;
  int context_tokens = 512;
  double depth = 0.5;  // in [0, 1]: 0 = start of the haystack, 1 = its end
  uint64_t seed = 0;
  int n_keys = 4;  // multikey only (>= 2)
};

struct RetrievalSample {
  std::vector<int32_t> prompt;
  std::string answer;      // the exact string the model must produce
  std::string key;         // needle and multikey: the queried key
  std::string needle;      // the text of the queried needle
  int haystack_begin = 0;  // prompt offsets of the haystack (needles included)
  int haystack_end = 0;
  int needle_begin = 0;  // prompt offsets of the queried needle's tokens
  int needle_end = 0;
  int haystack_tokens = 0;      // haystack without any needle
  int needle_offset = 0;        // filler tokens before the queried needle
  double achieved_depth = 0.0;  // needle_offset / haystack_tokens
  int max_sentence_tokens = 0;  // longest haystack sentence, in tokens
};

// The built-in filler of the passkey task, and the default haystack.
std::vector<std::string> DefaultFillerSentences();
// Splits text into sentences (ending in . ! or ?, whitespace collapsed); at
// most max_sentences of them, skipping empty ones.
std::vector<std::string> SplitSentences(std::string_view text, size_t max_sentences);

// haystack: sentences the haystack is built from (cycled from a seeded start;
// the passkey task always uses DefaultFillerSentences()). bos_id >= 0 is
// prepended. Throws arkv::Error when the context cannot hold the intro,
// the needles, the question and at least one haystack sentence.
RetrievalSample GenerateRetrieval(const Tokenizer& tokenizer, const RetrievalSpec& spec,
                                  std::span<const std::string> haystack, int32_t bos_id);

// Exact match: the generation, with leading whitespace removed, must start
// with `answer`, followed by the end of the text, whitespace or one of
// . , ; : ! ? " ' ) - so "48213." matches 48213 but "482130", "4821" and
// "x48213" do not.
bool ExactMatch(std::string_view generated, std::string_view answer);

// Greedy continuation of `prompt` by `session` (reset first), at most
// max_tokens tokens, stopping after an end-of-generation token.
std::vector<int32_t> GreedyGenerate(Session& session, std::span<const int32_t> prompt,
                                    int max_tokens, const Tokenizer* stop_tokenizer);

}  // namespace arkv::eval
