#include "kv/token_store.h"

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kv/codecs.h"

namespace arkv::kv {
namespace {

constexpr size_t kScaleBytes = 2 * sizeof(float);

QuantType CodecOf(SlotFormat format) {
  switch (format) {
    case SlotFormat::kFp8:
      return QuantType::kFp8E4M3;
    case SlotFormat::kInt8:
      return QuantType::kInt8;
    case SlotFormat::kInt4:
      return QuantType::kInt4;
    default:
      Fail("slot format {} is not quantized", static_cast<int>(format));
  }
}

}  // namespace

SlotFormat OriginalFormat(OriginalType type) {
  return type == OriginalType::kF32 ? SlotFormat::kF32 : SlotFormat::kF16;
}

SlotFormat QuantizedFormat(QuantType type) {
  switch (type) {
    case QuantType::kFp8E4M3:
      return SlotFormat::kFp8;
    case QuantType::kInt8:
      return SlotFormat::kInt8;
    case QuantType::kInt4:
      return SlotFormat::kInt4;
  }
  Fail("unknown quant type {}", static_cast<int>(type));
}

size_t SlotBytes(SlotFormat format, int head_dim) {
  const size_t d = static_cast<size_t>(head_dim);
  switch (format) {
    case SlotFormat::kF16:
      return 2 * d * 2;
    case SlotFormat::kF32:
      return 2 * d * 4;
    default:
      return kScaleBytes + 2 * QuantRowBytes(CodecOf(format), head_dim);
  }
}

SlotStore::SlotStore(PagePool* pool, SlotFormat format, int head_dim)
    : pool_(pool), format_(format), head_dim_(head_dim), slot_bytes_(SlotBytes(format, head_dim)) {
  if (slot_bytes_ > pool->page_bytes()) {
    Fail("KV page of {} bytes cannot hold one token of {} bytes (head_dim {})", pool->page_bytes(),
         slot_bytes_, head_dim);
  }
  per_page_ = static_cast<int>(pool->page_bytes() / slot_bytes_);
}

SlotStore::SlotStore(SlotStore&& other) noexcept
    : pool_(other.pool_),
      format_(other.format_),
      head_dim_(other.head_dim_),
      slot_bytes_(other.slot_bytes_),
      per_page_(other.per_page_),
      pages_(std::move(other.pages_)),
      positions_(std::move(other.positions_)) {
  other.pages_.clear();
  other.positions_.clear();
}

SlotStore::~SlotStore() { Clear(); }

uint8_t* SlotStore::Append(int32_t position) {
  const size_t i = positions_.size();
  if (i / per_page_ >= pages_.size()) pages_.push_back(pool_->Acquire());
  positions_.push_back(position);
  return slot(static_cast<int>(i));
}

void SlotStore::Compact(std::span<const uint8_t> keep) {
  ARKV_DASSERT(keep.size() == positions_.size());
  size_t w = 0;
  for (size_t r = 0; r < positions_.size(); ++r) {
    if (!keep[r]) continue;
    if (w != r) {
      std::memcpy(slot(static_cast<int>(w)), slot(static_cast<int>(r)), slot_bytes_);
      positions_[w] = positions_[r];
    }
    ++w;
  }
  positions_.resize(w);
  ReleasePagesBeyond(w);
}

void SlotStore::ReleasePagesBeyond(size_t n_tokens) {
  const size_t needed = (n_tokens + per_page_ - 1) / per_page_;
  while (pages_.size() > needed) {
    pool_->Release(pages_.back());
    pages_.pop_back();
  }
}

void SlotStore::Clear() {
  positions_.clear();
  ReleasePagesBeyond(0);
}

SlotSpan SlotStore::View() const {
  SlotSpan s;
  s.pages = pages_.data();
  s.positions = positions_.data();
  s.n_tokens = size();
  s.tokens_per_page = per_page_;
  s.slot_bytes = slot_bytes_;
  s.format = format_;
  return s;
}

void EncodeSlot(SlotFormat format, const float* k, const float* v, int head_dim, uint8_t* slot) {
  const size_t d = static_cast<size_t>(head_dim);
  switch (format) {
    case SlotFormat::kF16: {
      uint16_t h[2];
      for (size_t c = 0; c < d; ++c) {
        h[0] = F32ToF16(k[c]);
        std::memcpy(slot + 2 * c, &h[0], 2);
      }
      for (size_t c = 0; c < d; ++c) {
        h[1] = F32ToF16(v[c]);
        std::memcpy(slot + 2 * (d + c), &h[1], 2);
      }
      return;
    }
    case SlotFormat::kF32:
      std::memcpy(slot, k, 4 * d);
      std::memcpy(slot + 4 * d, v, 4 * d);
      return;
    default: {
      const QuantType codec = CodecOf(format);
      const size_t row = QuantRowBytes(codec, head_dim);
      const float ks = QuantizeRow(codec, k, head_dim, slot + kScaleBytes);
      const float vs = QuantizeRow(codec, v, head_dim, slot + kScaleBytes + row);
      std::memcpy(slot, &ks, 4);
      std::memcpy(slot + 4, &vs, 4);
      return;
    }
  }
}

void DecodeSlot(SlotFormat format, const uint8_t* slot, int head_dim, float* k, float* v) {
  const size_t d = static_cast<size_t>(head_dim);
  switch (format) {
    case SlotFormat::kF16: {
      for (size_t c = 0; c < d; ++c) {
        uint16_t h;
        std::memcpy(&h, slot + 2 * c, 2);
        k[c] = F16ToF32(h);
        std::memcpy(&h, slot + 2 * (d + c), 2);
        v[c] = F16ToF32(h);
      }
      return;
    }
    case SlotFormat::kF32:
      std::memcpy(k, slot, 4 * d);
      std::memcpy(v, slot + 4 * d, 4 * d);
      return;
    default: {
      const QuantType codec = CodecOf(format);
      const size_t row = QuantRowBytes(codec, head_dim);
      float ks, vs;
      std::memcpy(&ks, slot, 4);
      std::memcpy(&vs, slot + 4, 4);
      DequantizeRow(codec, slot + kScaleBytes, ks, head_dim, k);
      DequantizeRow(codec, slot + kScaleBytes + row, vs, head_dim, v);
      return;
    }
  }
}

}  // namespace arkv::kv
