#include "kv/policy.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>

#include "core/error.h"

namespace arkv::kv {
namespace {

size_t WindowCount(const LayerContext& ctx, size_t n) {
  return std::min(n, static_cast<size_t>(ctx.window));
}

// Scores of the past tokens; the most recent first when the head is unscored.
std::vector<double> PastScores(const HeadTokens& tokens, size_t past) {
  if (tokens.past_scores.size() == past) {
    return std::vector<double>(tokens.past_scores.begin(), tokens.past_scores.end());
  }
  std::vector<double> s(past);
  for (size_t i = 0; i < past; ++i) s[i] = static_cast<double>(i);
  return s;
}

// Keeps the `keep` best past tokens (the first `original` of them may stay
// Original, the rest Quantized) and the window; evicts the other past tokens.
void SelectPast(const HeadTokens& tokens, size_t past, size_t keep, size_t original,
                std::vector<TokenState>& next) {
  const std::vector<double> scores = PastScores(tokens, past);
  const size_t k = std::min(keep, past);
  const std::vector<size_t> top = TopKSplit(scores, k, std::min(original, k));
  for (size_t i = 0; i < past; ++i) next[i] = TokenState::kEvicted;
  for (size_t r = 0; r < top.size(); ++r) {
    const size_t i = top[r];
    next[i] = (r < original) ? tokens.states[i] : TokenState::kQuantized;
  }
}

// ARKV.md, Decoding steps 2-5: top-o past tokens stay Original (a Quantized one
// stays Quantized), the next keep - o become Quantized, the rest are evicted.
void DecodeCompress(const LayerContext& ctx, const HeadTokens& tokens, size_t original_budget,
                    double keep_fraction, std::vector<TokenState>& next) {
  const size_t n = tokens.positions.size();
  const size_t w = WindowCount(ctx, n);
  const std::vector<double> scores = PastScores(tokens, n - w);
  const std::vector<TokenState> split =
      SplitDecodeStates(scores, w, original_budget, keep_fraction);
  for (size_t i = 0; i < n - w; ++i) {
    next[i] = (split[i] == TokenState::kOriginal) ? tokens.states[i] : split[i];
  }
}

bool OverCapacity(const LayerContext& ctx, size_t n) {
  return ctx.limits.capacity && n > static_cast<size_t>(*ctx.limits.capacity);
}

// C of a layer that is over capacity.
size_t Capacity(const LayerContext& ctx) { return static_cast<size_t>(*ctx.limits.capacity); }

bool IsPrompt(BatchKind kind) { return kind != BatchKind::kDecode; }

class FullPolicy final : public Policy {
 public:
  bool NeedsScores() const override { return false; }
  void Decide(const LayerContext&, const HeadTokens&, std::vector<TokenState>&) const override {}
  bool MayChange(const LayerContext&, size_t) const override { return false; }
};

// StreamingLLM: the first `sinks` tokens and the most recent C - sinks.
class WindowPolicy final : public Policy {
 public:
  explicit WindowPolicy(int sinks) : sinks_(sinks) {}
  bool NeedsScores() const override { return false; }
  void Decide(const LayerContext& ctx, const HeadTokens& tokens,
              std::vector<TokenState>& next) const override {
    const size_t n = tokens.positions.size();
    if (!OverCapacity(ctx, n)) return;
    // The recent window has priority over the sinks.
    const size_t cap = Capacity(ctx);
    const size_t sinks =
        std::min(static_cast<size_t>(sinks_), cap - std::min(cap, WindowCount(ctx, n)));
    const size_t recent_from = n - (cap - sinks);
    for (size_t i = sinks; i < recent_from; ++i) next[i] = TokenState::kEvicted;
  }

 private:
  int sinks_;
};

// SnapKV: at the prompt, the C - W past tokens with the highest SnapKV score
// (ComputeSnapKvScore) and the window. SnapKV itself never compresses while
// decoding (SnapKvDecode::kNone). [ours] kEvict: when a decode step pushes the
// layer over C, the lowest-scored past token (by that step's attention, the
// same score with one query) is evicted, so that the budget holds.
class SnapKvPolicy final : public Policy {
 public:
  explicit SnapKvPolicy(SnapKvDecode decode) : decode_(decode) {}
  bool NeedsScores() const override { return true; }
  TokenScore Score() const override { return TokenScore::kSnapKv; }
  void Decide(const LayerContext& ctx, const HeadTokens& tokens,
              std::vector<TokenState>& next) const override {
    const size_t n = tokens.positions.size();
    if (!OverCapacity(ctx, n)) return;
    if (!IsPrompt(ctx.kind) && decode_ == SnapKvDecode::kNone) return;
    const size_t past = n - WindowCount(ctx, n);
    const size_t keep = Capacity(ctx) - WindowCount(ctx, n);
    SelectPast(tokens, past, keep, keep, next);
  }

 private:
  SnapKvDecode decode_;
};

// The paper's Origin: ARKV's scores and budget, kept tokens all Original.
class EvictPolicy final : public Policy {
 public:
  explicit EvictPolicy(double keep_fraction) : keep_fraction_(keep_fraction) {}
  bool NeedsScores() const override { return true; }
  void Decide(const LayerContext& ctx, const HeadTokens& tokens,
              std::vector<TokenState>& next) const override {
    const size_t n = tokens.positions.size();
    if (!OverCapacity(ctx, n)) return;
    const size_t w = WindowCount(ctx, n);
    const size_t past = n - w;
    const size_t keep =
        IsPrompt(ctx.kind) ? Capacity(ctx) - w : ComputeDecodeSplit(n, w, 0, keep_fraction_).keep;
    SelectPast(tokens, past, keep, keep, next);
  }

 private:
  double keep_fraction_;
};

// The paper's Quant: ARKV's scores and budget; at each compression every kept
// past token is Quantized.
class QuantPolicy final : public Policy {
 public:
  explicit QuantPolicy(double keep_fraction) : keep_fraction_(keep_fraction) {}
  bool NeedsScores() const override { return true; }
  bool Quantizes() const override { return true; }
  double OriginalShare(double) const override { return 0.0; }
  void Decide(const LayerContext& ctx, const HeadTokens& tokens,
              std::vector<TokenState>& next) const override {
    const size_t n = tokens.positions.size();
    // Nothing is quantized until the layer exceeds C (ARKV.md, baselines);
    // tokens that leave the window in between stay Original until then.
    if (!OverCapacity(ctx, n)) return;
    const size_t w = WindowCount(ctx, n);
    const size_t past = n - w;
    if (IsPrompt(ctx.kind)) {
      SelectPast(tokens, past, Capacity(ctx) - w, 0, next);
    } else {
      DecodeCompress(ctx, tokens, 0, keep_fraction_, next);
    }
    // Every kept past token is Quantized; only the window stays Original.
    for (size_t i = 0; i < past; ++i) {
      if (next[i] == TokenState::kOriginal) next[i] = TokenState::kQuantized;
    }
  }

 private:
  double keep_fraction_;
};

// ARKV: prompt compression keeps the top C - W past tokens Original; decode
// compression splits the past into Original / Quantized / Evicted by the
// layer's Original budget.
class ArkvPolicy final : public Policy {
 public:
  explicit ArkvPolicy(double keep_fraction) : keep_fraction_(keep_fraction) {}
  bool NeedsScores() const override { return true; }
  bool UsesOqScores() const override { return true; }
  bool Quantizes() const override { return true; }
  double OriginalShare(double oq_ratio) const override { return oq_ratio; }
  void Decide(const LayerContext& ctx, const HeadTokens& tokens,
              std::vector<TokenState>& next) const override {
    const size_t n = tokens.positions.size();
    if (!OverCapacity(ctx, n)) return;
    const size_t w = WindowCount(ctx, n);
    if (IsPrompt(ctx.kind)) {
      const size_t keep = Capacity(ctx) - w;
      SelectPast(tokens, n - w, keep, keep, next);
    } else {
      DecodeCompress(ctx, tokens, static_cast<size_t>(ctx.limits.original_budget), keep_fraction_,
                     next);
    }
  }

 private:
  double keep_fraction_;
};

}  // namespace

bool Policy::MayChange(const LayerContext& ctx, size_t n_tokens) const {
  return OverCapacity(ctx, n_tokens);
}

std::unique_ptr<Policy> MakePolicy(const CacheConfig& config) {
  ValidateConfig(config);
  switch (config.policy) {
    case PolicyKind::kFull:
      return std::make_unique<FullPolicy>();
    case PolicyKind::kWindow:
      return std::make_unique<WindowPolicy>(config.sinks);
    case PolicyKind::kSnapKV:
      return std::make_unique<SnapKvPolicy>(config.snapkv_decode);
    case PolicyKind::kEvict:
      return std::make_unique<EvictPolicy>(config.keep_fraction);
    case PolicyKind::kQuant:
      return std::make_unique<QuantPolicy>(config.keep_fraction);
    case PolicyKind::kArkv:
      return std::make_unique<ArkvPolicy>(config.keep_fraction);
  }
  Fail("unknown KV policy value {}", static_cast<int>(config.policy));
}

size_t OriginalCapMark(const LayerContext& ctx) {
  ARKV_DASSERT(ctx.limits.original_cap.has_value());
  const size_t cap = static_cast<size_t>(*ctx.limits.original_cap);
  if (IsPrompt(ctx.kind)) return cap;
  return cap - std::min(cap, static_cast<size_t>(ctx.window));
}

CapDemand OriginalCapDemand(const LayerLimits& limits, size_t original_past) {
  CapDemand demand;
  if (!limits.original_cap) return demand;
  const size_t cap = static_cast<size_t>(*limits.original_cap);
  demand.binds = original_past > cap;
  // A decode step quantizes them all when the cap is at most the window; a
  // prompt batch keeps `cap` of them.
  demand.needs_scores = demand.binds && cap > 0;
  return demand;
}

void EnforceOriginalCap(const LayerContext& ctx, const HeadTokens& tokens,
                        std::vector<TokenState>& next) {
  if (!ctx.limits.original_cap) return;
  const size_t n = tokens.positions.size();
  const size_t past = n - WindowCount(ctx, n);
  std::vector<size_t> originals;
  for (size_t i = 0; i < past; ++i) {
    if (next[i] == TokenState::kOriginal) originals.push_back(i);
  }
  if (originals.size() <= static_cast<size_t>(*ctx.limits.original_cap)) return;
  const size_t demote = originals.size() - OriginalCapMark(ctx);
  if (demote < originals.size()) {
    const std::vector<double> scores = PastScores(tokens, past);
    // Lowest score first, the oldest first on ties: the first `demote` in
    // that order, without sorting the rest.
    std::nth_element(originals.begin(), originals.begin() + static_cast<std::ptrdiff_t>(demote),
                     originals.end(), [&](size_t a, size_t b) {
                       return scores[a] < scores[b] || (scores[a] == scores[b] && a < b);
                     });
  }
  for (size_t r = 0; r < demote; ++r) next[originals[r]] = TokenState::kQuantized;
}

}  // namespace arkv::kv
