#include <algorithm>

#include "arkv/kv_memory.h"
#include "core/error.h"
#include "kv/codecs.h"
#include "kv/token_store.h"

namespace arkv::kv {

size_t MaxPagesHeld(const CacheShape& shape, const CacheConfig& config, int64_t max_tokens,
                    int max_batch, size_t page_bytes) {
  if (max_tokens < 1 || max_batch < 1) {
    Fail("KV page bound: max_tokens ({}) and max_batch ({}) must be >= 1", max_tokens, max_batch);
  }
  const int64_t heads = int64_t{shape.n_layers} * shape.n_kv_heads;
  const auto page = static_cast<int64_t>(page_bytes);
  const auto original =
      static_cast<int64_t>(TokenStride(OriginalFormat(config.original), shape.head_dim));
  const auto quantized =
      static_cast<int64_t>(TokenStride(QuantizedFormat(config.quant), shape.head_dim));
  if (original > page || quantized > page) {
    Fail("KV page of {} bytes cannot hold one token of {} bytes", page_bytes,
         std::max(original, quantized));
  }
  // Bytes of whole pages per byte of tokens: the worse of the two stores.
  const int64_t used_per_page = std::min(page / original * original, page / quantized * quantized);
  const int64_t batch = std::min<int64_t>(max_batch, max_tokens);

  // Tokens per KV head at the peak of a batch, and the bytes of all heads.
  int64_t head_tokens = max_tokens;
  const Budget& budget = config.budget;
  if (config.policy != PolicyKind::kFull && budget.unit == Budget::Unit::kTokens) {
    head_tokens = std::min(max_tokens, budget.value + batch);
  }
  int64_t peak_bytes = heads * head_tokens * original;
  if (config.policy != PolicyKind::kFull && budget.unit == Budget::Unit::kBytes) {
    peak_bytes = std::min(peak_bytes, budget.value + heads * batch * original);
    // Every KV head of a layer holds as many tokens as the others, so one
    // holds at most the bytes over n_kv_heads, at its cheaper slot.
    head_tokens = std::min(
        head_tokens, peak_bytes / (int64_t{shape.n_kv_heads} * std::min(original, quantized)));
  }
  int64_t pages = (peak_bytes + used_per_page - 1) / used_per_page + 2 * heads;
  // Apply's Quantized copies of one KV head before its Originals are freed.
  if (config.policy != PolicyKind::kFull) {
    const int64_t per_page = page / quantized;
    pages += (head_tokens + per_page - 1) / per_page + 1;
  }
  return static_cast<size_t>(pages);
}

}  // namespace arkv::kv
