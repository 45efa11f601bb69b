#include "hub/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace arkv::hub {
namespace {

int TerminalWidth(std::FILE* out) {
  winsize size{};
  if (ioctl(fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

std::string FormatMegabytes(int64_t bytes) { return fmt::format("{:.1f}", bytes / 1e6); }

}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t already_have, int64_t total, bool enabled,
                         std::FILE* out)
    : label_(std::move(label)),
      already_have_(already_have),
      total_(total),
      enabled_(enabled),
      out_(out),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::Format(const std::string& label, int64_t done, int64_t total,
                                double bytes_per_second, int width) {
  std::string stats;
  if (total > 0) {
    const double fraction = std::clamp(static_cast<double>(done) / total, 0.0, 1.0);
    stats = fmt::format("{:3d}% {}/{} MB", static_cast<int>(fraction * 100), FormatMegabytes(done),
                        FormatMegabytes(total));
  } else {
    stats = fmt::format("{} MB", FormatMegabytes(done));
  }
  stats += fmt::format(" {:.1f} MB/s", bytes_per_second / 1e6);
  if (total > 0 && bytes_per_second > 0 && done < total) {
    const int64_t eta = static_cast<int64_t>(std::ceil((total - done) / bytes_per_second));
    stats += fmt::format(" ETA {}:{:02d}", eta / 60, eta % 60);
  }

  // "label [=====>    ] stats", the bar taking what is left of the line.
  std::string name = label;
  const int max_name = std::max(8, width / 3);
  if (static_cast<int>(name.size()) > max_name) {
    name = "..." + name.substr(name.size() - (max_name - 3));
  }
  const int bar_width = width - static_cast<int>(name.size() + stats.size()) - 5;
  if (total <= 0 || bar_width < 10) return name + " " + stats;
  const double fraction = std::clamp(static_cast<double>(done) / total, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * bar_width);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < bar_width) bar += '>';
  bar.resize(static_cast<size_t>(bar_width), ' ');
  return name + " [" + bar + "] " + stats;
}

void ProgressBar::Update(int64_t received) {
  if (!enabled_) return;
  received_ = received;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(false);
}

void ProgressBar::Finish() {
  if (!enabled_) return;
  Draw(true);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressBar::Draw(bool final_draw) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double speed = seconds > 0 ? received_ / seconds : 0.0;
  const int width = TerminalWidth(out_) - 1;  // never wrap onto a second line
  std::string line = Format(label_, already_have_ + received_, total_, speed, width);
  line.resize(std::max<size_t>(line.size(), static_cast<size_t>(std::max(width, 0))), ' ');
  std::fputc('\r', out_);
  std::fputs(line.c_str(), out_);
  if (!final_draw) std::fflush(out_);
  drawn_ = true;
}

}  // namespace arkv::hub
