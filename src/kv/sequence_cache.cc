// The SequenceCache implementation: per layer and KV head an Original and a
// Quantized slot store; a Policy decides token states at EndBatch and this file
// carries them out.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "arkv/kv_cache.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kv/attention.h"
#include "kv/policy.h"
#include "kv/scoring.h"
#include "kv/token_store.h"

namespace arkv::kv {
namespace {

struct Stream {
  SlotStore original;
  SlotStore quantized;
};

// Heavy-hitter scores of one KV head from the layer's latest Attend.
struct HeadScores {
  std::vector<double> past;  // past tokens in position order
};

struct Layer {
  std::vector<Stream> heads;
  int64_t evictions = 0;
  int64_t quantizations = 0;
  // Scores of the latest Attend, consumed by the next EndBatch.
  std::vector<HeadScores> scores;
  bool scored = false;
  OqScore oq_batch;  // OQ components of the latest Attend (prompt batches)
  bool oq_batch_valid = false;
  // Running mean of the OQ scores of the prompt's chunks (see kv_cache.h).
  double oq_sum = 0;
  int oq_chunks = 0;
  double ratio = 1;  // ARKV ratio_l
  // Budget of the layer.
  int64_t capacity = 0;       // tokens per KV head, 0: unlimited
  int64_t origin_budget = 0;  // ARKV origin_budget_l
  int64_t original_cap = -1;  // byte budgets: most Original past tokens per KV head
};

// Indices into a stream's combined slots (Original first, then Quantized),
// sorted by position.
std::vector<int> PositionOrder(const Stream& s) {
  const auto& po = s.original.positions();
  const auto& pq = s.quantized.positions();
  const int no = static_cast<int>(po.size());
  std::vector<int> order(po.size() + pq.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  auto pos = [&](int i) { return i < no ? po[i] : pq[i - no]; };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return pos(a) < pos(b); });
  return order;
}

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
      owned_pool_ = std::make_unique<PagePool>();
      pool = owned_pool_.get();
    }
    pool_ = pool;
    const SlotFormat orig = OriginalFormat(config.original);
    const SlotFormat quant = QuantizedFormat(config.quant);
    layers_.resize(shape.n_layers);
    for (Layer& layer : layers_) {
      layer.heads.reserve(shape.n_kv_heads);
      for (int h = 0; h < shape.n_kv_heads; ++h) {
        layer.heads.push_back(
            Stream{SlotStore(pool, orig, shape.head_dim), SlotStore(pool, quant, shape.head_dim)});
      }
      layer.scores.resize(shape.n_kv_heads);
    }
    policy_ = MakePolicy(config);
    ResetBudgets();
  }

  void Attend(int layer, const float* q, const float* k, const float* v, const int32_t* positions,
              int n_tokens, float scale, float* out, ThreadPool& threads) override {
    if (layer < 0 || layer >= shape_.n_layers) {
      Fail("KV Attend: layer {} out of range [0, {})", layer, shape_.n_layers);
    }
    if (n_tokens < 0) Fail("KV Attend: negative token count {}", n_tokens);
    if (n_tokens == 0) return;
    if (!q || !k || !v || !positions || !out) Fail("KV Attend: null input");
    if (!std::isfinite(scale)) Fail("KV Attend: scale is not finite");
    const int d = shape_.head_dim;
    const int hkv = shape_.n_kv_heads;
    const int group = shape_.n_heads / hkv;
    Layer& L = layers_[layer];

    // Store the batch's keys and values (Original).
    for (int h = 0; h < hkv; ++h) {
      SlotStore& store = L.heads[h].original;
      for (int t = 0; t < n_tokens; ++t) {
        const size_t off = (static_cast<size_t>(t) * hkv + h) * d;
        EncodeSlot(store.format(), k + off, v + off, d, store.Append(positions[t]));
      }
    }
    peak_bytes_ = std::max(peak_bytes_, static_cast<int64_t>(BytesHeld()));

    if (layer == 0) batch_tokens_ = n_tokens;
    // Scores are needed when EndBatch may select tokens: prompt batches, a
    // layer over its capacity, or a byte budget's Original cap.
    int max_keys = 0;
    for (const Stream& st : L.heads) {
      max_keys = std::max(max_keys, st.original.size() + st.quantized.size());
    }
    const bool score = policy_->NeedsScores() && (n_tokens > 1 || L.capacity == 0 ||
                                                  max_keys > L.capacity || L.original_cap >= 0);
    // Probabilities of the last w_obs queries, per KV head: [group][w_obs][n_keys].
    const int w_obs = std::min(n_tokens, config_.window);
    std::vector<std::vector<float>> probs(score ? hkv : 0);
    std::vector<ProbCapture> captures(score ? hkv : 0);
    for (int h = 0; h < (score ? hkv : 0); ++h) {
      const int n_keys = L.heads[h].original.size() + L.heads[h].quantized.size();
      probs[h].assign(static_cast<size_t>(group) * w_obs * n_keys, 0.0f);
      captures[h].probs = probs[h].data();
      captures[h].capture_first = n_tokens - w_obs;
      captures[h].capture_count = w_obs;
      captures[h].n_keys = n_keys;
    }

    if (n_tokens == 1 && !score && threads.size() > hkv) {
      DecodeSplitK(L, q, positions, scale, out, threads);
      return;
    }
    // One task per (KV head, block of queries).
    const int block = n_tokens == 1 ? 1 : 8;
    const int n_blocks = (n_tokens + block - 1) / block;
    const size_t q_stride = static_cast<size_t>(shape_.n_heads) * d;
    threads.ParallelFor(static_cast<int64_t>(hkv) * n_blocks, 1, [&](int64_t b, int64_t e) {
      for (int64_t task = b; task < e; ++task) {
        const int h = static_cast<int>(task / n_blocks);
        const int t0 = static_cast<int>(task % n_blocks) * block;
        const Stream& s = L.heads[h];
        const SlotSpan spans[2] = {s.original.View(), s.quantized.View()};
        QueryBlock qb;
        qb.q = q + t0 * q_stride + static_cast<size_t>(h) * group * d;
        qb.q_token_stride = q_stride;
        qb.positions = positions + t0;
        qb.n_queries = std::min(block, n_tokens - t0);
        qb.group = group;
        qb.head_dim = d;
        qb.scale = scale;
        qb.out = out + t0 * q_stride + static_cast<size_t>(h) * group * d;
        qb.out_token_stride = q_stride;
        ProbCapture cap;
        if (score) {
          cap = captures[h];
          cap.first_query = t0;
        }
        AttendKvHead(spans, 2, qb, score ? &cap : nullptr);
      }
    });
    if (score) ScoreLayer(L, probs, n_tokens, w_obs, threads);
  }

  void EndBatch(BatchKind kind) override {
    const bool prompt = kind != BatchKind::kDecode;
    if (prompt) {
      prompt_tokens_ += batch_tokens_;
      if (policy_->UsesOqScores() || byte_budget()) UpdateRatios();
    }
    batch_tokens_ = 0;
    for (Layer& L : layers_) {
      LayerContext ctx;
      ctx.kind = kind;
      ctx.capacity = L.capacity;
      ctx.origin_budget = L.origin_budget;
      ctx.original_cap = L.original_cap;
      ctx.window = config_.window;
      for (size_t h = 0; h < L.heads.size(); ++h) {
        CompressHead(L, static_cast<int>(h), ctx);
      }
      L.scored = false;
      L.oq_batch_valid = false;
    }
  }

  void Clear() override {
    for (Layer& layer : layers_) {
      for (Stream& s : layer.heads) {
        s.original.Clear();
        s.quantized.Clear();
      }
      layer.evictions = layer.quantizations = 0;
      layer.scored = layer.oq_batch_valid = false;
      layer.oq_sum = 0;
      layer.oq_chunks = 0;
      layer.ratio = 1;
    }
    prompt_tokens_ = batch_tokens_ = 0;
    peak_bytes_ = 0;
    ResetBudgets();
  }

  size_t BytesHeld() const override {
    size_t total = 0;
    for (const Layer& layer : layers_) {
      for (const Stream& s : layer.heads) total += s.original.bytes() + s.quantized.bytes();
    }
    return total;
  }

  CacheStats Stats() const override {
    CacheStats st;
    st.layers.resize(layers_.size());
    for (size_t l = 0; l < layers_.size(); ++l) {
      LayerStats& ls = st.layers[l];
      for (const Stream& s : layers_[l].heads) {
        ls.original_tokens += s.original.size();
        ls.quantized_tokens += s.quantized.size();
        ls.original_bytes += static_cast<int64_t>(s.original.bytes());
        ls.quantized_bytes += static_cast<int64_t>(s.quantized.bytes());
        st.pages_held += static_cast<int64_t>(s.original.pages_held() + s.quantized.pages_held());
      }
      ls.evictions = layers_[l].evictions;
      ls.quantizations = layers_[l].quantizations;
      ls.capacity_tokens = layers_[l].capacity;
      ls.oq_ratio = policy_->OriginRatio(layers_[l].ratio);
      ls.quant_ratio = 1.0 - ls.oq_ratio;
      st.original_tokens += ls.original_tokens;
      st.quantized_tokens += ls.quantized_tokens;
      st.bytes += ls.original_bytes + ls.quantized_bytes;
      st.evictions += ls.evictions;
      st.quantizations += ls.quantizations;
    }
    st.peak_bytes = std::max(peak_bytes_, st.bytes);
    st.page_bytes = static_cast<int64_t>(pool_->page_bytes());
    return st;
  }

  std::vector<CachedToken> Tokens(int layer, int kv_head) const override {
    if (layer < 0 || layer >= shape_.n_layers || kv_head < 0 || kv_head >= shape_.n_kv_heads) {
      Fail("KV Tokens: layer {} / KV head {} out of range", layer, kv_head);
    }
    const Stream& s = layers_[layer].heads[kv_head];
    const int no = s.original.size();
    std::vector<CachedToken> out;
    for (int idx : PositionOrder(s)) {
      out.push_back(idx < no ? CachedToken{s.original.positions()[idx], false}
                             : CachedToken{s.quantized.positions()[idx - no], true});
    }
    return out;
  }

 private:
  // Decoding with fewer KV heads than threads: each KV head's keys are split
  // at page boundaries among tasks, whose partial softmaxes are then merged.
  void DecodeSplitK(const Layer& L, const float* q, const int32_t* positions, float scale,
                    float* out, ThreadPool& threads) {
    const int d = shape_.head_dim;
    const int hkv = shape_.n_kv_heads;
    const int group = shape_.n_heads / hkv;
    struct Piece {
      int head;
      SlotSpan span;
    };
    std::vector<Piece> pieces;
    std::vector<int> first_piece(hkv + 1, 0);
    const int target = std::max(1, (2 * threads.size() + hkv - 1) / hkv);
    for (int h = 0; h < hkv; ++h) {
      first_piece[h] = static_cast<int>(pieces.size());
      const SlotSpan spans[2] = {L.heads[h].original.View(), L.heads[h].quantized.View()};
      int total_pages = 0;
      for (const SlotSpan& sp : spans) {
        total_pages += (sp.n_tokens + sp.tokens_per_page - 1) / sp.tokens_per_page;
      }
      const int pages_per_piece = std::max(1, (total_pages + target - 1) / target);
      for (const SlotSpan& sp : spans) {
        const int step = pages_per_piece * sp.tokens_per_page;
        for (int b = 0; b < sp.n_tokens; b += step) {
          pieces.push_back({h, SubSpan(sp, b, std::min(sp.n_tokens, b + step))});
        }
      }
    }
    first_piece[hkv] = static_cast<int>(pieces.size());
    const size_t n = pieces.size();
    std::vector<float> outs(n * group * d), maxes(n * group), sums(n * group);
    const size_t q_stride = static_cast<size_t>(shape_.n_heads) * d;
    threads.ParallelFor(static_cast<int64_t>(n), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const Piece& piece = pieces[i];
        QueryBlock qb;
        qb.q = q + static_cast<size_t>(piece.head) * group * d;
        qb.q_token_stride = q_stride;
        qb.positions = positions;
        qb.n_queries = 1;
        qb.group = group;
        qb.head_dim = d;
        qb.scale = scale;
        qb.out = &outs[i * group * d];
        qb.out_token_stride = static_cast<size_t>(group) * d;
        qb.row_max = &maxes[i * group];
        qb.row_sum = &sums[i * group];
        AttendKvHead(&piece.span, 1, qb, nullptr);
      }
    });
    for (int h = 0; h < hkv; ++h) {
      std::vector<const float*> o, m, l;
      for (int i = first_piece[h]; i < first_piece[h + 1]; ++i) {
        o.push_back(&outs[static_cast<size_t>(i) * group * d]);
        m.push_back(&maxes[static_cast<size_t>(i) * group]);
        l.push_back(&sums[static_cast<size_t>(i) * group]);
      }
      MergeSplits(static_cast<int>(o.size()), o.data(), m.data(), l.data(), group, group, d,
                  out + static_cast<size_t>(h) * group * d, q_stride);
    }
  }

  bool byte_budget() const { return config_.budget.unit == Budget::Unit::kBytes; }

  // Per-token bytes of one layer (all KV heads) in each state.
  int64_t OriginalTokenBytes() const {
    return static_cast<int64_t>(SlotBytes(OriginalFormat(config_.original), shape_.head_dim)) *
           shape_.n_kv_heads;
  }
  int64_t QuantizedTokenBytes() const {
    return static_cast<int64_t>(SlotBytes(QuantizedFormat(config_.quant), shape_.head_dim)) *
           shape_.n_kv_heads;
  }

  // The Original past tokens a layer of capacity c may hold under a byte budget.
  int64_t OriginCap(const Layer& L, int64_t c) const {
    const int64_t w = config_.window;
    const double r = policy_->OriginRatio(L.ratio);
    int64_t ob = static_cast<int64_t>(std::nearbyint(r * static_cast<double>(c - w)));
    int64_t hi = c - w;
    if (L.oq_chunks > 0) hi = std::min(hi, std::max<int64_t>(prompt_tokens_ - w, 0));
    return std::clamp<int64_t>(ob, 0, std::max<int64_t>(hi, 0));
  }

  // Worst-case bytes of a layer of capacity c: at most W + OriginCap Original.
  int64_t LayerBytesBound(const Layer& L, int64_t c) const {
    const int64_t orig = config_.window + OriginCap(L, c);
    return orig * OriginalTokenBytes() + (c - orig) * QuantizedTokenBytes();
  }

  // Token budgets: C for every layer. Byte budgets: every layer holds its
  // window; the bytes beyond the windows are shared in proportion to the
  // layers' OQ ratios (equally before the prompt is scored), so the layers the
  // OQ score marks as sensitive get more tokens as well as more Original ones.
  // A layer's capacity is the largest whose worst case (W + OriginCap
  // Original, the rest Quantized) fits its share; what the shares leave unused
  // goes, one token at a time, to the layers whose next token costs least.
  // The total never exceeds the budget.
  void ResetBudgets() {
    const int64_t w = config_.window;
    for (Layer& L : layers_) {
      L.capacity = 0;
      L.original_cap = -1;
      L.origin_budget = 0;
    }
    if (config_.policy == PolicyKind::kFull) return;
    if (config_.budget.unit == Budget::Unit::kTokens) {
      for (Layer& L : layers_) {
        L.capacity = config_.budget.value;
        if (L.oq_chunks == 0) L.origin_budget = L.capacity - w;
      }
      return;
    }
    const int64_t budget = config_.budget.value;
    const int64_t n_layers = static_cast<int64_t>(layers_.size());
    const int64_t window_bytes = w * OriginalTokenBytes();  // LayerBytesBound(L, w), every L
    if (window_bytes * n_layers > budget) {
      Fail("KV budget of {} bytes cannot hold the window of {} tokens in {} layers ({} bytes)",
           budget, w, shape_.n_layers, window_bytes * n_layers);
    }
    double ratio_sum = 0.0;
    for (const Layer& L : layers_) ratio_sum += L.ratio;
    const int64_t spare = budget - window_bytes * n_layers;
    int64_t used = 0;
    for (Layer& L : layers_) {
      const double weight = ratio_sum > 0.0 ? L.ratio / ratio_sum : 1.0 / n_layers;
      const int64_t share = window_bytes + static_cast<int64_t>(weight * static_cast<double>(spare));
      int64_t lo = w;                                                            // fits
      int64_t hi = w + share / std::max<int64_t>(1, QuantizedTokenBytes()) + 1;  // does not fit
      while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        (LayerBytesBound(L, mid) <= share ? lo : hi) = mid;
      }
      L.capacity = lo;
      used += LayerBytesBound(L, lo);
    }
    for (;;) {
      Layer* cheapest = nullptr;
      int64_t cheapest_cost = 0;
      for (Layer& L : layers_) {
        const int64_t cost = LayerBytesBound(L, L.capacity + 1) - LayerBytesBound(L, L.capacity);
        if (used + cost <= budget && (cheapest == nullptr || cost < cheapest_cost)) {
          cheapest = &L;
          cheapest_cost = cost;
        }
      }
      if (cheapest == nullptr) break;
      ++cheapest->capacity;
      used += cheapest_cost;
    }
    const bool quantizes = policy_->OriginRatio(0.5) < 1.0;
    for (Layer& L : layers_) {
      L.origin_budget = OriginCap(L, L.capacity);
      L.original_cap = quantizes ? L.origin_budget : -1;
    }
  }

  // Folds the prompt batch's OQ scores into the running means and recomputes
  // ratios, Original budgets and (byte budgets) capacities.
  void UpdateRatios() {
    std::vector<double> means(layers_.size(), 0.0);
    bool any = false;
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& L = layers_[l];
      if (L.oq_batch_valid) {
        L.oq_sum += L.oq_batch.score;
        ++L.oq_chunks;
        any = true;
      }
      means[l] = L.oq_chunks > 0 ? L.oq_sum / L.oq_chunks : 0.0;
    }
    if (!any) return;
    const int64_t w = config_.window;
    const int64_t c = config_.budget.unit == Budget::Unit::kTokens ? config_.budget.value : w;
    const std::vector<LayerBudget> budgets = ComputeOriginBudgets(
        means, static_cast<size_t>(c), static_cast<size_t>(w), static_cast<size_t>(prompt_tokens_));
    for (size_t l = 0; l < layers_.size(); ++l) {
      layers_[l].ratio = budgets[l].ratio;
      if (!byte_budget()) layers_[l].origin_budget = static_cast<int64_t>(budgets[l].origin_budget);
    }
    if (byte_budget()) ResetBudgets();
  }

  // Heavy-hitter scores (and OQ components) of a layer from the captured
  // probabilities, per KV head, over the past tokens in position order.
  void ScoreLayer(Layer& L, const std::vector<std::vector<float>>& probs, int n_tokens, int w_obs,
                  ThreadPool& threads) {
    const int hkv = shape_.n_kv_heads;
    const int group = shape_.n_heads / hkv;
    std::vector<OqScore> oq(hkv);
    const OqTemperatures taus{config_.tau1, config_.tau2, config_.tau3};
    threads.ParallelFor(hkv, 1, [&](int64_t b, int64_t e) {
      for (int64_t h = b; h < e; ++h) {
        const Stream& s = L.heads[h];
        const std::vector<int> order = PositionOrder(s);
        const size_t n = order.size();
        const size_t past = n - std::min(n, static_cast<size_t>(config_.window));
        std::vector<float> sorted(static_cast<size_t>(group) * w_obs * past);
        for (int row = 0; row < group * w_obs; ++row) {
          // Pointer arithmetic, not operator[]: with no past, `sorted` is empty.
          const float* src = probs[h].data() + static_cast<size_t>(row) * n;
          float* dst = sorted.data() + static_cast<size_t>(row) * past;
          for (size_t j = 0; j < past; ++j) dst[j] = src[order[j]];
        }
        AttentionView<float> view{
            sorted.data(), static_cast<size_t>(group),        static_cast<size_t>(w_obs),
            past,          static_cast<size_t>(w_obs) * past, past};
        if (n_tokens > 1 && policy_->UsesOqScores()) oq[h] = ComputeOqScore(view, taus);
        L.scores[h].past.assign(past, 0.0);
        if (past > 0) {
          ComputePrefillHeavyHitter(view, 1, L.scores[h].past, config_.gamma,
                                    static_cast<size_t>(config_.pool_kernel));
        }
      }
    });
    L.scored = true;
    if (n_tokens > 1 && policy_->UsesOqScores()) {
      OqScore sum;
      for (const OqScore& x : oq) {
        sum.entropy += x.entropy;
        sum.variance += x.variance;
        sum.kurtosis += x.kurtosis;
      }
      sum.score = std::pow(sum.entropy, 1.0 / taus.tau1) * std::pow(sum.variance, 1.0 / taus.tau2) *
                  std::pow(sum.kurtosis, 1.0 / taus.tau3);
      L.oq_batch = sum;
      L.oq_batch_valid = true;
    }
  }

  // Asks the policy for the next states of one KV head and carries them out.
  void CompressHead(Layer& L, int h, const LayerContext& ctx) {
    Stream& s = L.heads[h];
    const std::vector<int> order = PositionOrder(s);
    const int no = s.original.size();
    const size_t n = order.size();
    std::vector<int32_t> positions(n);
    std::vector<TokenState> states(n);
    for (size_t i = 0; i < n; ++i) {
      const int idx = order[i];
      positions[i] = idx < no ? s.original.positions()[idx] : s.quantized.positions()[idx - no];
      states[i] = idx < no ? TokenState::kOriginal : TokenState::kQuantized;
    }
    HeadTokens tokens;
    tokens.positions = positions;
    tokens.states = states;
    const size_t past = n - std::min(n, static_cast<size_t>(ctx.window));
    if (L.scored && L.scores[h].past.size() == past) tokens.past_scores = L.scores[h].past;
    std::vector<TokenState> next = states;
    policy_->Decide(ctx, tokens, next);
    EnforceOriginalCap(ctx, tokens, next);

    // Carry out: evict from both stores, move Original -> Quantized.
    std::vector<uint8_t> keep_o(no, 1), keep_q(s.quantized.size(), 1);
    std::vector<int> to_quantize;
    for (size_t i = 0; i < n; ++i) {
      const int idx = order[i];
      const TokenState now = states[i];
      const TokenState want = next[i];
      if (want == now) continue;
      ARKV_DASSERT(!(now == TokenState::kQuantized && want == TokenState::kOriginal));
      if (want == TokenState::kEvicted) {
        (idx < no ? keep_o[idx] : keep_q[idx - no]) = 0;
        ++L.evictions;
      } else if (now == TokenState::kOriginal && want == TokenState::kQuantized) {
        keep_o[idx] = 0;
        to_quantize.push_back(idx);
        ++L.quantizations;
      }
    }
    s.quantized.Compact(keep_q);
    const int d = shape_.head_dim;
    std::vector<float> kf(d), vf(d);
    for (int idx : to_quantize) {
      DecodeSlot(s.original.format(), s.original.slot(idx), d, kf.data(), vf.data());
      EncodeSlot(s.quantized.format(), kf.data(), vf.data(), d,
                 s.quantized.Append(s.original.positions()[idx]));
    }
    if (!to_quantize.empty()) {
      peak_bytes_ = std::max(peak_bytes_, static_cast<int64_t>(BytesHeld()));
    }
    s.original.Compact(keep_o);
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
      "total: {} Original + {} Quantized tokens, {} bytes (peak {}), {} evictions, "
      "{} quantizations, {} pages of {} bytes\n",
      st.original_tokens, st.quantized_tokens, st.bytes, st.peak_bytes, st.evictions,
      st.quantizations, st.pages_held, st.page_bytes);
  return s;
}

}  // namespace arkv::kv
