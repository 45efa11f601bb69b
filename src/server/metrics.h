// The server's counters and the Prometheus text (format 0.0.4) of /metrics:
// the engine's statistics plus what only the HTTP side knows.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "runtime/engine.h"

namespace arkv::server {

// Tokens per second over the last `kSeconds` whole seconds, from events
// stamped with a time in seconds (any clock, increasing).
class TokenRate {
 public:
  static constexpr int kSeconds = 10;
  void Add(double now, int64_t tokens);
  double PerSecond(double now) const;

 private:
  mutable std::mutex mu_;
  std::array<int64_t, kSeconds + 1> buckets_{};  // by whole second, modulo
  std::array<int64_t, kSeconds + 1> stamps_{};   // the second each bucket counts
};

// Counters of the HTTP side; every member is thread-safe.
class ServerCounters {
 public:
  void CountResponse(const std::string& endpoint, int status);
  void CountCancelled() { ++cancelled_; }

  std::map<std::pair<std::string, int>, int64_t> Responses() const;
  int64_t cancelled() const { return cancelled_; }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> responses_;  // (endpoint, code)
  std::atomic<int64_t> cancelled_{0};
};

struct MetricsSnapshot {
  EngineStats engine;
  std::map<std::pair<std::string, int>, int64_t> responses;
  int64_t cancelled = 0;  // requests cancelled because their client went away
  int64_t in_flight = 0;  // requests the server holds (waiting or running)
  double tokens_per_second = 0;
  int64_t kv_budget_bytes = 0;
};

std::string RenderMetrics(const MetricsSnapshot& s);

}  // namespace arkv::server
