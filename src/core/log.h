// Minimal leveled logging to stderr.
#pragma once

#include <cstdio>
#include <utility>

#include <fmt/format.h>

namespace arkv {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

LogLevel GetLogLevel();
void SetLogLevel(LogLevel level);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level > GetLogLevel()) return;
  std::fputs(fmt::format(fmt, std::forward<Args>(args)...).c_str(), stderr);
  std::fputc('\n', stderr);
}

}  // namespace arkv
