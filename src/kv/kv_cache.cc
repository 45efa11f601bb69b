// The SequenceCache of include/arkv/kv_cache.h: it orchestrates the rooms of
// the KV library and holds the state that ties them together.
//   Attend:   append the batch to each KV head's stores (head_store.h), run
//             attention over them (attention.h), and, when the policy may
//             select tokens at EndBatch, capture and score the observation
//             window's attention (observation.h).
//   EndBatch: after a prompt batch, fold the layers' OQ scores into running
//             means and re-plan the per-layer limits (budget.h); then per
//             layer and KV head, ask the policy for the next states
//             (policy.h) and apply them (HeadStores::Apply).
#include "arkv/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "core/error.h"
#include "kv/attention.h"
#include "kv/budget.h"
#include "kv/head_store.h"
#include "kv/observation.h"
#include "kv/policy.h"
#include "kv/scoring.h"

namespace arkv::kv {
namespace {

struct Layer {
  std::vector<HeadStores> heads;
  int64_t evictions = 0;
  int64_t quantizations = 0;
  // Scores of the latest Attend, consumed by the next EndBatch.
  std::optional<LayerScores> scores;
  // Running mean of the OQ scores of the prompt's batches (see kv_cache.h).
  double oq_sum = 0;
  int oq_batches = 0;
  double ratio = 1;  // ARKV's ratio_l (1 until scored)
  LayerLimits limits;
};

void ValidateShape(const CacheShape& s) {
  if (s.n_layers < 1) Fail("KV cache shape: n_layers must be >= 1, got {}", s.n_layers);
  if (s.n_heads < 1) Fail("KV cache shape: n_heads must be >= 1, got {}", s.n_heads);
  if (s.n_kv_heads < 1 || s.n_heads % s.n_kv_heads != 0) {
    Fail("KV cache shape: n_kv_heads {} must divide n_heads {}", s.n_kv_heads, s.n_heads);
  }
  if (s.head_dim < 1 || s.head_dim > 1024) {
    Fail("KV cache shape: head_dim must be in [1, 1024], got {}", s.head_dim);
  }
}

class Cache final : public SequenceCache {
 public:
  Cache(const CacheShape& shape, const CacheConfig& config, PagePool* pool)
      : shape_(shape), config_(config) {
    ValidateShape(shape);
    ValidateConfig(config);
    if (pool == nullptr) {
      const size_t stride = std::max(TokenStride(OriginalFormat(config.original), shape.head_dim),
                                     TokenStride(QuantizedFormat(config.quant), shape.head_dim));
      owned_pool_ = std::make_unique<PagePool>(PrivatePageBytes(stride));
      pool = owned_pool_.get();
    }
    pool_ = pool;
    const SlotFormat original = OriginalFormat(config.original);
    const SlotFormat quantized = QuantizedFormat(config.quant);
    layers_.resize(shape.n_layers);
    for (Layer& layer : layers_) {
      layer.heads.reserve(shape.n_kv_heads);
      for (int h = 0; h < shape.n_kv_heads; ++h) {
        layer.heads.emplace_back(pool, original, quantized, shape.head_dim);
      }
    }
    policy_ = MakePolicy(config);
    Replan();
  }

  void Attend(int layer, const float* q, const float* k, const float* v, const int32_t* positions,
              int n_tokens, float scale, float* out, Parallel& threads) override {
    if (layer < 0 || layer >= shape_.n_layers) {
      Fail("KV Attend: layer {} out of range [0, {})", layer, shape_.n_layers);
    }
    if (n_tokens < 0) Fail("KV Attend: negative token count {}", n_tokens);
    if (n_tokens == 0) return;
    if (!q || !k || !v || !positions || !out) Fail("KV Attend: null input");
    if (!std::isfinite(scale)) Fail("KV Attend: scale is not finite");
    const int d = shape_.head_dim;
    const int hkv = shape_.n_kv_heads;
    Layer& L = layers_[layer];
    for (int h = 0; h < hkv; ++h) {
      for (int t = 0; t < n_tokens; ++t) {
        const size_t off = (static_cast<size_t>(t) * hkv + h) * d;
        L.heads[h].Append(k + off, v + off, positions[t]);
      }
    }
    peak_bytes_ = std::max(peak_bytes_, static_cast<int64_t>(BytesHeld()));
    if (layer == 0) batch_tokens_ = n_tokens;

    std::vector<HeadSpans> spans;
    int max_keys = 0;
    bool cap_needs_scores = false;
    for (const HeadStores& head : L.heads) {
      spans.push_back(head.Spans());
      max_keys = std::max(max_keys, head.size());
      cap_needs_scores |= OriginalCapDemand(L.limits, OriginalPast(head)).needs_scores;
    }
    const LayerQueries queries{q, positions, n_tokens, shape_.n_heads, d, scale, out};
    // Scores are needed when EndBatch may select tokens by them: prompt
    // batches, a layer over its capacity, or a byte budget's Original cap
    // that binds (policy.h: amortized, so not at every decode step).
    const LayerLimits& lim = L.limits;
    // (Attend cannot tell a 1-token prompt chunk from a decode step, so
    // snapkv without decode compression scores both.)
    const bool score = policy_->NeedsScores() && (n_tokens > 1 || !lim.capacity ||
                                                  max_keys > *lim.capacity || cap_needs_scores);
    if (!score) {
      AttendLayer(spans, queries, {}, threads);
      return;
    }
    const Observation obs =
        PrepareObservation(L.heads, shape_.n_heads / hkv, n_tokens, config_.window);
    AttendLayer(spans, queries, obs.captures, threads);
    const bool with_oq = n_tokens > 1 && policy_->UsesOqScores();
    L.scores = ScoreObservation(obs, L.heads, config_, policy_->Score(), with_oq, threads);
  }

  void EndBatch(BatchKind kind) override {
    if (kind != BatchKind::kDecode) {
      prompt_tokens_ += batch_tokens_;
      if (policy_->UsesOqScores() || config_.budget.unit == Budget::Unit::kBytes) {
        FoldOqScores();
      }
    }
    batch_tokens_ = 0;
    for (Layer& L : layers_) {
      const LayerContext ctx{kind, L.limits, config_.window};
      for (size_t h = 0; h < L.heads.size(); ++h) CompressHead(L, h, ctx);
      L.scores.reset();
    }
  }

  void Clear() override {
    for (Layer& layer : layers_) {
      for (HeadStores& head : layer.heads) head.Clear();
      layer.evictions = layer.quantizations = 0;
      layer.scores.reset();
      layer.oq_sum = 0;
      layer.oq_batches = 0;
      layer.ratio = 1;
    }
    prompt_tokens_ = batch_tokens_ = 0;
    peak_bytes_ = 0;
    Replan();
  }

  void SetBudget(const Budget& budget) override {
    if (config_.policy == PolicyKind::kFull) Fail("KV SetBudget: the full policy has no budget");
    if (budget.unit != config_.budget.unit) {
      Fail("KV SetBudget: {} is not in the unit of the cache's budget ({})", FormatBudget(budget),
           FormatBudget(config_.budget));
    }
    CacheConfig next = config_;
    next.budget = budget;
    ValidateConfig(next);
    const std::vector<LayerLimits> limits = Plan(next);  // throws before anything changes
    config_ = next;
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& L = layers_[l];
      L.limits = limits[l];
      const LayerContext ctx{BatchKind::kPromptEnd, L.limits, config_.window};
      for (size_t h = 0; h < L.heads.size(); ++h) CompressHead(L, h, ctx);
    }
  }

  size_t BytesHeld() const override {
    size_t total = 0;
    for (const Layer& layer : layers_) {
      for (const HeadStores& head : layer.heads) total += head.bytes();
    }
    return total;
  }

  CacheStats Stats() const override {
    CacheStats st;
    st.layers.resize(layers_.size());
    for (size_t l = 0; l < layers_.size(); ++l) {
      LayerStats& ls = st.layers[l];
      for (const HeadStores& head : layers_[l].heads) {
        ls.original_tokens += head.original().size();
        ls.quantized_tokens += head.quantized().size();
        ls.original_bytes += static_cast<int64_t>(head.original().bytes());
        ls.quantized_bytes += static_cast<int64_t>(head.quantized().bytes());
        st.pages_held += static_cast<int64_t>(head.pages_held());
      }
      ls.evictions = layers_[l].evictions;
      ls.quantizations = layers_[l].quantizations;
      ls.capacity_tokens = layers_[l].limits.capacity.value_or(0);
      ls.oq_ratio = policy_->OriginalShare(layers_[l].ratio);
      ls.quant_ratio = 1.0 - ls.oq_ratio;
      st.original_tokens += ls.original_tokens;
      st.quantized_tokens += ls.quantized_tokens;
      st.bytes += ls.original_bytes + ls.quantized_bytes;
      st.evictions += ls.evictions;
      st.quantizations += ls.quantizations;
    }
    st.peak_bytes = std::max(peak_bytes_, st.bytes);
    st.page_bytes = static_cast<int64_t>(pool_->page_bytes());
    st.pool_bytes = st.pages_held * st.page_bytes;
    return st;
  }

  std::vector<CachedToken> Tokens(int layer, int kv_head) const override {
    if (layer < 0 || layer >= shape_.n_layers || kv_head < 0 || kv_head >= shape_.n_kv_heads) {
      Fail("KV Tokens: layer {} / KV head {} out of range", layer, kv_head);
    }
    const HeadSnapshot snapshot = layers_[layer].heads[kv_head].Snapshot();
    std::vector<CachedToken> tokens;
    for (size_t i = 0; i < snapshot.positions.size(); ++i) {
      tokens.push_back({snapshot.positions[i], snapshot.states[i] == TokenState::kQuantized});
    }
    return tokens;
  }

 private:
  // Folds each layer's OQ score of the prompt batch into its running mean;
  // when any layer was scored, recomputes the ratios and re-plans.
  void FoldOqScores() {
    std::vector<double> means(layers_.size(), 0.0);
    bool any = false;
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& L = layers_[l];
      if (L.scores && L.scores->oq) {
        L.oq_sum += L.scores->oq->score;
        ++L.oq_batches;
        any = true;
      } else if (policy_->UsesOqScores()) {
        // A 1-token prompt batch (a 1-token prompt, --prefill-chunk 1) has one
        // observation query, whose OQ score is 0 (ComputeOqScore, w == 1).
        ++L.oq_batches;
        any = true;
      }
      means[l] = L.oq_batches > 0 ? L.oq_sum / L.oq_batches : 0.0;
    }
    if (!any) return;
    const std::vector<double> ratios = OqRatios(means);
    for (size_t l = 0; l < layers_.size(); ++l) layers_[l].ratio = ratios[l];
    Replan();
  }

  // Per-layer limits from the budget planner.
  void Replan() {
    const std::vector<LayerLimits> limits = Plan(config_);
    for (size_t l = 0; l < layers_.size(); ++l) layers_[l].limits = limits[l];
  }

  // The limits `config` gives the layers in their present state.
  std::vector<LayerLimits> Plan(const CacheConfig& config) const {
    std::vector<double> shares;
    bool scored = false;
    for (const Layer& L : layers_) {
      shares.push_back(policy_->OriginalShare(L.ratio));
      scored |= L.oq_batches > 0;
    }
    PlanInput input{shape_, config,       policy_->Quantizes(),
                    shares, std::nullopt, pool_->page_bytes()};
    if (scored) input.scored_prompt_tokens = prompt_tokens_;
    return PlanLayerLimits(input);
  }

  // Asks the policy for the next states of one KV head and applies them.
  void CompressHead(Layer& L, size_t h, const LayerContext& ctx) {
    HeadStores& head = L.heads[h];
    // Nothing to do (the common decode step): no snapshot.
    const bool cap_binds = OriginalCapDemand(ctx.limits, OriginalPast(head)).binds;
    if (!cap_binds && !policy_->MayChange(ctx, static_cast<size_t>(head.size()))) return;
    const HeadSnapshot snapshot = head.Snapshot();
    HeadTokens tokens;
    tokens.positions = snapshot.positions;
    tokens.states = snapshot.states;
    const size_t n = snapshot.positions.size();
    const size_t past = n - std::min(n, static_cast<size_t>(ctx.window));
    if (L.scores && L.scores->past[h].size() == past) tokens.past_scores = L.scores->past[h];
    std::vector<TokenState> next = snapshot.states;
    policy_->Decide(ctx, tokens, next);
    EnforceOriginalCap(ctx, tokens, next);
    const AppliedStates applied = head.Apply(snapshot, next);
    L.evictions += applied.evicted;
    L.quantizations += applied.quantized;
    if (applied.quantized > 0) {
      const size_t during = BytesHeld() - head.bytes() + applied.peak_bytes;
      peak_bytes_ = std::max(peak_bytes_, static_cast<int64_t>(during));
    }
  }

  // Original tokens of a head outside its window (the newest min(n, W)
  // tokens, all Original: only past tokens are ever quantized).
  size_t OriginalPast(const HeadStores& head) const {
    const int window = std::min(head.size(), config_.window);
    ARKV_DASSERT(head.original().size() >= window);
    return static_cast<size_t>(head.original().size() - window);
  }

  CacheShape shape_;
  CacheConfig config_;
  std::unique_ptr<PagePool> owned_pool_;
  PagePool* pool_ = nullptr;
  std::vector<Layer> layers_;
  std::unique_ptr<Policy> policy_;
  int64_t peak_bytes_ = 0;
  int64_t prompt_tokens_ = 0;  // tokens of the prompt so far (T)
  int batch_tokens_ = 0;       // tokens of the current batch
};

}  // namespace

std::unique_ptr<SequenceCache> CreateSequenceCache(const CacheShape& shape,
                                                   const CacheConfig& config, PagePool* pool) {
  return std::make_unique<Cache>(shape, config, pool);
}

std::string FormatStats(const CacheStats& st) {
  std::string s =
      fmt::format("{:>5} {:>8} {:>8} {:>8} {:>12} {:>12} {:>9} {:>9} {:>6}\n", "layer", "cap",
                  "orig", "quant", "orig_bytes", "quant_bytes", "evicted", "quantzd", "oq");
  for (size_t l = 0; l < st.layers.size(); ++l) {
    const LayerStats& x = st.layers[l];
    s += fmt::format("{:>5} {:>8} {:>8} {:>8} {:>12} {:>12} {:>9} {:>9} {:>6.3f}\n", l,
                     x.capacity_tokens, x.original_tokens, x.quantized_tokens, x.original_bytes,
                     x.quantized_bytes, x.evictions, x.quantizations, x.oq_ratio);
  }
  s += fmt::format(
      "total: {} Original + {} Quantized tokens, {} bytes held (positions and scales "
      "included; peak {}), {} evictions, {} quantizations; pool: {} pages of {} bytes = {} "
      "bytes\n",
      st.original_tokens, st.quantized_tokens, st.bytes, st.peak_bytes, st.evictions,
      st.quantizations, st.pages_held, st.page_bytes, st.pool_bytes);
  return s;
}

}  // namespace arkv::kv
