#include "server/metrics.h"

#include <cmath>

#include <fmt/format.h>

namespace arkv::server {
namespace {

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Sample(std::string& out, std::string_view name, int64_t value) {
  out += fmt::format("{} {}\n", name, value);
}

// Label values are our endpoint names; escape anyway as the format asks.
std::string Escape(std::string_view v) {
  std::string s;
  for (char c : v) {
    if (c == '\\' || c == '"') s += '\\';
    if (c == '\n') {
      s += "\\n";
      continue;
    }
    s += c;
  }
  return s;
}

}  // namespace

void TokenRate::Add(double now, int64_t tokens) {
  const auto second = static_cast<int64_t>(std::floor(now));
  const size_t slot = static_cast<size_t>(second % (kSeconds + 1));
  std::lock_guard<std::mutex> lock(mu_);
  if (stamps_[slot] != second) {
    stamps_[slot] = second;
    buckets_[slot] = 0;
  }
  buckets_[slot] += tokens;
}

double TokenRate::PerSecond(double now) const {
  // The kSeconds whole seconds before the current one (which is still filling).
  const auto second = static_cast<int64_t>(std::floor(now));
  int64_t total = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (stamps_[i] < second && stamps_[i] >= second - kSeconds) total += buckets_[i];
  }
  return static_cast<double>(total) / kSeconds;
}

void ServerCounters::CountResponse(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++responses_[{endpoint, status}];
}

std::map<std::pair<std::string, int>, int64_t> ServerCounters::Responses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return responses_;
}

std::string RenderMetrics(const MetricsSnapshot& s) {
  const EngineStats& e = s.engine;
  std::string out;
  Family(out, "arkv_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
  for (const auto& [key, count] : s.responses) {
    out += fmt::format("arkv_requests_total{{endpoint=\"{}\",code=\"{}\"}} {}\n", Escape(key.first),
                       key.second, count);
  }
  Family(out, "arkv_requests_cancelled_total", "counter",
         "Requests cancelled because their client disconnected.");
  Sample(out, "arkv_requests_cancelled_total", s.cancelled);
  Family(out, "arkv_requests_in_flight", "gauge",
         "Completion requests the server holds, waiting or running.");
  Sample(out, "arkv_requests_in_flight", s.in_flight);
  Family(out, "arkv_prompt_tokens_total", "counter",
         "Prompt tokens evaluated (tokens continued from a kept cache are not).");
  Sample(out, "arkv_prompt_tokens_total", e.prompt_tokens);
  Family(out, "arkv_generated_tokens_total", "counter", "Tokens generated.");
  Sample(out, "arkv_generated_tokens_total", e.generated_tokens);
  Family(out, "arkv_generated_tokens_per_second", "gauge",
         "Tokens generated per second over the last 10 seconds.");
  out += fmt::format("arkv_generated_tokens_per_second {:.3f}\n", s.tokens_per_second);
  Family(out, "arkv_engine_steps_total", "counter", "Batches the engine evaluated.");
  Sample(out, "arkv_engine_steps_total", e.steps);
  Family(out, "arkv_queue_length", "gauge", "Requests submitted to the engine, not yet admitted.");
  Sample(out, "arkv_queue_length", e.waiting);
  Family(out, "arkv_live_sequences", "gauge", "Sequences admitted and running.");
  Sample(out, "arkv_live_sequences", e.running);
  Family(out, "arkv_retained_sequences", "gauge",
         "Finished sequences whose cache is kept for reuse.");
  Sample(out, "arkv_retained_sequences", e.retained);
  Family(out, "arkv_kv_bytes", "gauge", "K/V bytes the caches hold, by token state.");
  out += fmt::format("arkv_kv_bytes{{state=\"original\"}} {}\n", e.original_bytes);
  out += fmt::format("arkv_kv_bytes{{state=\"quantized\"}} {}\n", e.quantized_bytes);
  Family(out, "arkv_kv_pool_pages", "gauge", "KV pool pages in use.");
  Sample(out, "arkv_kv_pool_pages", static_cast<int64_t>(e.pages_in_use));
  Family(out, "arkv_kv_pool_pages_peak", "gauge", "Most KV pool pages ever in use at once.");
  Sample(out, "arkv_kv_pool_pages_peak", static_cast<int64_t>(e.peak_pages_in_use));
  Family(out, "arkv_kv_pool_pages_max", "gauge", "KV pool pages the budget allows (0: unlimited).");
  Sample(out, "arkv_kv_pool_pages_max", static_cast<int64_t>(e.max_pages));
  Family(out, "arkv_kv_pool_page_bytes", "gauge", "Bytes of one KV pool page.");
  Sample(out, "arkv_kv_pool_page_bytes", static_cast<int64_t>(e.page_bytes));
  Family(out, "arkv_kv_budget_bytes", "gauge", "The server's KV budget in bytes (0: unlimited).");
  Sample(out, "arkv_kv_budget_bytes", s.kv_budget_bytes);
  return out;
}

}  // namespace arkv::server
