// Generated tokens turned into the text deltas a client receives: whole UTF-8
// characters only, and never the text of a stop string. Text that may be the
// start of a stop string is held back until the next tokens show it is not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace arkv::server {

// Stop strings over a stream of valid UTF-8 text.
class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops);

  // Appends `text`; returns what is now certain to be output. Once a stop
  // string is complete, returns the text before it and stopped() turns true;
  // later calls return "".
  std::string Push(std::string_view text);
  // The end of the stream: the held-back text (none after a stop).
  std::string Finish();

  bool stopped() const { return stopped_; }
  // Bytes returned so far.
  size_t emitted() const { return emitted_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  size_t emitted_ = 0;
  bool stopped_ = false;
};

// Tokens -> text deltas (StreamDecoder for the UTF-8, StopFilter for the stop
// strings), with the byte offset where each token's text starts, so that a
// token's logprob goes out with the delta that carries its text.
class TokenTextStream {
 public:
  TokenTextStream(const Tokenizer& tokenizer, std::vector<std::string> stops);

  // The text this token makes final. `offset` gets where the token's text
  // starts in the whole generated text.
  std::string Push(int32_t token, size_t* offset = nullptr);
  std::string Finish();

  bool stopped() const { return filter_.stopped(); }
  // Text bytes given out so far: tokens whose offset is below this have their
  // text (or its start) out; after a stop, tokens at or past it are cut.
  size_t emitted() const { return filter_.emitted(); }

 private:
  StreamDecoder decoder_;
  StopFilter filter_;
  size_t decoded_ = 0;
};

}  // namespace arkv::server
