#include "eval/retrieval.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "core/error.h"
#include "core/strings.h"
#include "runtime/logit_scan.h"

namespace arkv::eval {

namespace {
constexpr EnumName<RetrievalKind> kRetrievalNames[] = {{"passkey", RetrievalKind::kPasskey},
                                                       {"needle", RetrievalKind::kNeedle},
                                                       {"multikey", RetrievalKind::kMultiKey}};
}  // namespace

RetrievalKind ParseRetrievalKind(std::string_view name) {
  if (const auto kind = ParseEnum<RetrievalKind>(kRetrievalNames, name)) return *kind;
  Fail("unknown retrieval task '{}' (expected {})", name, NameList<RetrievalKind>(kRetrievalNames));
}

std::string_view RetrievalKindName(RetrievalKind kind) {
  return NameOf<RetrievalKind>(kRetrievalNames, kind);
}

std::vector<std::string> DefaultFillerSentences() {
  return {"The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.",
          "There and back again."};
}

std::vector<std::string> SplitSentences(std::string_view text, size_t max_sentences) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (space) {
      if (!current.empty() && current.back() != ' ') {
        current += ' ';
      }
      continue;
    }
    current += c;
    if (c == '.' || c == '!' || c == '?') {
      while (!current.empty() && current.front() == ' ') {
        current.erase(current.begin());
      }
      if (current.size() > 1) {
        out.push_back(current);
      }
      current.clear();
      if (out.size() >= max_sentences) {
        break;
      }
    }
  }
  return out;
}

namespace {

constexpr const char* kKeys[] = {"apple",  "river",  "castle", "garden", "rocket", "violin",
                                 "forest", "tiger",  "window", "bridge", "candle", "desert",
                                 "harbor", "island", "jacket", "lemon",  "meadow", "orange",
                                 "pencil", "silver", "tunnel", "wagon",  "yellow", "button"};
constexpr int kNumKeys = static_cast<int>(sizeof(kKeys) / sizeof(kKeys[0]));

// A digit string of `digits` digits without a leading zero.
std::string RandomNumber(std::mt19937_64& rng, int digits) {
  std::string s;
  s += static_cast<char>('1' + rng() % 9);
  for (int i = 1; i < digits; ++i) {
    s += static_cast<char>('0' + rng() % 10);
  }
  return s;
}

struct Needle {
  std::string text;
  std::vector<int32_t> ids;
  int boundary = 0;  // haystack sentence index it is inserted before
  bool queried = false;
};

}  // namespace

RetrievalSample GenerateRetrieval(const Tokenizer& tokenizer, const RetrievalSpec& spec,
                                  std::span<const std::string> haystack, int32_t bos_id) {
  if (!(spec.depth >= 0.0 && spec.depth <= 1.0)) {
    Fail("retrieval depth {} is outside [0, 1]", spec.depth);
  }
  if (spec.kind == RetrievalKind::kMultiKey && (spec.n_keys < 2 || spec.n_keys > kNumKeys)) {
    Fail("multikey needs 2..{} keys (got {})", kNumKeys, spec.n_keys);
  }
  const std::vector<std::string> filler = DefaultFillerSentences();
  if (spec.kind == RetrievalKind::kPasskey || haystack.empty()) {
    haystack = filler;
  }

  // Pieces after the first are tokenized with a leading space unless the
  // vocabulary adds one itself (SentencePiece), so words never run together.
  auto encode = [&](const std::string& text, bool first) {
    const std::string t = first || tokenizer.add_space_prefix() ? text : " " + text;
    return tokenizer.Encode(t, /*add_special=*/false, /*parse_special=*/false);
  };

  std::mt19937_64 rng(spec.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(spec.kind) + 1);
  RetrievalSample s;
  std::string intro, question;
  std::vector<Needle> needles;
  if (spec.kind == RetrievalKind::kPasskey) {
    s.answer = RandomNumber(rng, 5);
    intro =
        "There is an important pass key hidden inside a lot of irrelevant text. Find it and "
        "memorize it. I will quiz you about the pass key.";
    question = "What is the pass key? The pass key is";
    needles.push_back(
        {"The pass key is " + s.answer + ". Remember it. " + s.answer + " is the pass key.",
         {},
         0,
         true});
  } else {
    const int n = spec.kind == RetrievalKind::kNeedle ? 1 : spec.n_keys;
    std::vector<int> order(kNumKeys);
    for (int i = 0; i < kNumKeys; ++i) {
      order[i] = i;
    }
    for (int i = kNumKeys - 1; i > 0; --i) {
      std::swap(order[i], order[rng() % (i + 1)]);
    }
    for (int i = 0; i < n; ++i) {
      const std::string value = RandomNumber(rng, 7);
      const std::string key = kKeys[order[i]];
      needles.push_back(
          {fmt::format("The special magic number for {} is: {}.", key, value), {}, 0, i == 0});
      if (i == 0) {
        s.answer = value;
        s.key = key;
      }
    }
    intro = n == 1 ? "A special magic number is hidden within the following text. Make sure to "
                     "memorize it. I will quiz you about the number afterwards."
                   : "Some special magic numbers are hidden within the following text. Make sure "
                     "to memorize them. I will quiz you about the numbers afterwards.";
    question = "What is the special magic number for " + s.key + "? The special magic number for " +
               s.key + " is:";
  }
  s.needle = needles[0].text;

  const std::vector<int32_t> intro_ids = encode(intro, true);
  const std::vector<int32_t> question_ids = encode(question, false);
  int fixed = static_cast<int>(intro_ids.size() + question_ids.size()) + (bos_id >= 0 ? 1 : 0);
  for (Needle& nd : needles) {
    nd.ids = encode(nd.text, false);
    fixed += static_cast<int>(nd.ids.size());
  }
  const int room = spec.context_tokens - fixed;

  std::vector<std::vector<int32_t>> sentence_ids;
  sentence_ids.reserve(haystack.size());
  for (const std::string& h : haystack) {
    sentence_ids.push_back(encode(h, false));
  }
  // Haystack: sentences cycled from a seeded start while they fit.
  std::vector<int> chosen;
  std::vector<int> offsets = {0};  // filler tokens before sentence i
  size_t next = rng() % haystack.size();
  while (true) {
    const int len = static_cast<int>(sentence_ids[next].size());
    if (len == 0 || offsets.back() + len > room) {
      break;
    }
    chosen.push_back(static_cast<int>(next));
    offsets.push_back(offsets.back() + len);
    s.max_sentence_tokens = std::max(s.max_sentence_tokens, len);
    next = (next + 1) % haystack.size();
  }
  if (chosen.empty()) {
    Fail("a {} prompt needs more than {} tokens of context (intro, needles and question take {})",
         RetrievalKindName(spec.kind), spec.context_tokens, fixed);
  }
  s.haystack_tokens = offsets.back();

  // The queried needle: the boundary nearest to depth * haystack (the
  // earlier one on a tie); distractors at random boundaries.
  const double target = spec.depth * s.haystack_tokens;
  int best = 0;
  for (size_t b = 1; b < offsets.size(); ++b) {
    if (std::abs(offsets[b] - target) < std::abs(offsets[best] - target)) {
      best = static_cast<int>(b);
    }
  }
  needles[0].boundary = best;
  for (size_t i = 1; i < needles.size(); ++i) {
    needles[i].boundary = static_cast<int>(rng() % offsets.size());
  }
  s.needle_offset = offsets[best];
  s.achieved_depth = static_cast<double>(s.needle_offset) / static_cast<double>(s.haystack_tokens);

  std::vector<int32_t>& p = s.prompt;
  if (bos_id >= 0) {
    p.push_back(bos_id);
  }
  p.insert(p.end(), intro_ids.begin(), intro_ids.end());
  s.haystack_begin = static_cast<int>(p.size());
  for (size_t b = 0; b <= chosen.size(); ++b) {
    // Distractors before the queried needle at a shared boundary.
    for (int pass = 0; pass < 2; ++pass) {
      for (const Needle& nd : needles) {
        if (nd.boundary != static_cast<int>(b) || nd.queried != (pass == 1)) {
          continue;
        }
        if (nd.queried) {
          s.needle_begin = static_cast<int>(p.size());
        }
        p.insert(p.end(), nd.ids.begin(), nd.ids.end());
        if (nd.queried) {
          s.needle_end = static_cast<int>(p.size());
        }
      }
    }
    if (b < chosen.size()) {
      const std::vector<int32_t>& ids = sentence_ids[chosen[b]];
      p.insert(p.end(), ids.begin(), ids.end());
    }
  }
  s.haystack_end = static_cast<int>(p.size());
  p.insert(p.end(), question_ids.begin(), question_ids.end());
  return s;
}

bool ExactMatch(std::string_view generated, std::string_view answer) {
  if (answer.empty()) {
    return false;
  }
  size_t i = 0;
  while (i < generated.size() && std::isspace(static_cast<unsigned char>(generated[i]))) {
    ++i;
  }
  generated.remove_prefix(i);
  if (!generated.starts_with(answer)) {
    return false;
  }
  if (generated.size() == answer.size()) {
    return true;
  }
  const char next = generated[answer.size()];
  return std::isspace(static_cast<unsigned char>(next)) ||
         std::string_view(".,;:!?\"')-").find(next) != std::string_view::npos;
}

std::vector<int32_t> GreedyGenerate(Session& session, std::span<const int32_t> prompt,
                                    int max_tokens, const Tokenizer* stop_tokenizer) {
  std::vector<int32_t> out;
  session.Reset();
  std::span<const float> logits = session.Prefill(prompt);
  const int n_vocab = session.model().config().n_vocab;
  while (static_cast<int>(out.size()) < max_tokens) {
    const int32_t token = Argmax(logits.data(), n_vocab);
    out.push_back(token);
    if (stop_tokenizer != nullptr && stop_tokenizer->IsEndOfGeneration(token)) {
      break;
    }
    if (static_cast<int>(out.size()) == max_tokens) {
      break;
    }
    logits = session.Decode(token);
  }
  return out;
}

}  // namespace arkv::eval
