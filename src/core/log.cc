#include "core/log.h"

#include <atomic>

namespace arkv {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kWarn};
}
LogLevel GetLogLevel() { return g_level.load(std::memory_order_relaxed); }
void SetLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }
}  // namespace arkv
