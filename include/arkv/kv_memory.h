// Worst-case pool pages of a sequence cache, for an engine that shares one
// bounded PagePool among many sequences: it admits a sequence only when the
// pages it may ever hold fit, so that PagePool::Acquire never fails mid-batch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"

namespace arkv::kv {

// The most pages of `page_bytes` a cache of `shape` and `config` (its budget
// included) can hold at any moment, also inside a batch, while its sequence
// has at most `max_tokens` tokens in all and its batches at most `max_batch`.
// Built on the cache's guarantees: after EndBatch it holds at most its budget
// (C tokens per layer and KV head, or the bytes of a byte budget); a batch
// appends its tokens Original before compression; Apply quantizes one KV head
// at a time, writing the Quantized copies before freeing the Originals; each
// slot store holds at most one partly used page.
size_t MaxPagesHeld(const CacheShape& shape, const CacheConfig& config, int64_t max_tokens,
                    int max_batch, size_t page_bytes);

// The smallest byte budget a cache of `shape` and `config` (a compressing
// policy) accepts in a pool of `page_bytes` pages: the window of every layer
// in whole pages. Less is refused by CreateSequenceCache and SetBudget.
int64_t MinByteBudget(const CacheShape& shape, const CacheConfig& config, size_t page_bytes);

}  // namespace arkv::kv
