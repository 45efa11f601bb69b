#include "server/text_stream.h"

#include <algorithm>
#include <utility>

namespace arkv::server {

StopFilter::StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string StopFilter::Push(std::string_view text) {
  if (stopped_) return "";
  // A stop string can only complete in the new text: search from where the
  // longest stop string could have started.
  const size_t old = held_.size();
  held_ += text;
  size_t first = std::string::npos;
  for (const std::string& s : stops_) {
    const size_t from = old >= s.size() ? old - s.size() + 1 : 0;
    const size_t at = held_.find(s, from);
    if (at < first) first = at;
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    emitted_ += out.size();
    return out;
  }
  // Hold back the longest tail that is a proper prefix of a stop string. A
  // stop string starts with a whole character, so the cut is on a character
  // boundary of valid UTF-8 text.
  size_t keep = 0;
  for (const std::string& s : stops_) {
    for (size_t n = std::min(s.size() - 1, held_.size()); n > keep; --n) {
      if (std::string_view(held_).substr(held_.size() - n) == std::string_view(s).substr(0, n)) {
        keep = n;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  emitted_ += out.size();
  return out;
}

std::string StopFilter::Finish() {
  if (stopped_) return "";
  std::string out = std::move(held_);
  held_.clear();
  emitted_ += out.size();
  return out;
}

TokenTextStream::TokenTextStream(const Tokenizer& tokenizer, std::vector<std::string> stops)
    : decoder_(tokenizer, /*render_special=*/false, /*strip_leading_space=*/false),
      filter_(std::move(stops)) {}

std::string TokenTextStream::Push(int32_t token, size_t* offset) {
  if (offset != nullptr) *offset = decoded_;
  const std::string text = decoder_.Push(token);
  decoded_ += text.size();
  return filter_.Push(text);
}

std::string TokenTextStream::Finish() {
  const std::string text = decoder_.Flush();
  decoded_ += text.size();
  std::string out = filter_.Push(text);
  return out + filter_.Finish();
}

}  // namespace arkv::server
