// A one-line download progress bar on stderr: name, percent, bytes, speed, ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace arkv::hub {

class ProgressBar {
 public:
  // `enabled` false makes every call a no-op. Bytes already on disk before
  // this transfer (a resumed download) count toward the total but not the speed.
  ProgressBar(std::string label, int64_t already_have, int64_t total, bool enabled,
              std::FILE* out = stderr);

  // `received` counts bytes of this transfer only. Redraws at most 10 times a second.
  void Update(int64_t received);
  // Draws the final state and ends the line.
  void Finish();

  // The bar's text for the given state, without the leading '\r'; exposed for tests.
  static std::string Format(const std::string& label, int64_t done, int64_t total,
                            double bytes_per_second, int width);

 private:
  void Draw(bool final_draw);

  std::string label_;
  int64_t already_have_;
  int64_t total_;
  int64_t received_ = 0;
  bool enabled_;
  bool drawn_ = false;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace arkv::hub
