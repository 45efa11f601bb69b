// The /metrics text: Prometheus 0.0.4 lines with the contract's names, and
// the tokens-per-second window.
#include "server/metrics.h"

#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace arkv::server {
namespace {

// "name{labels} value" lines -> value, checking every line's form on the way.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    EXPECT_EQ(line.find('#'), std::string::npos) << line;
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  EXPECT_EQ(text.back(), '\n');
  return out;
}

TEST(Metrics, RendersEveryContractName) {
  MetricsSnapshot s;
  s.engine.waiting = 2;
  s.engine.running = 3;
  s.engine.retained = 1;
  s.engine.prompt_tokens = 100;
  s.engine.generated_tokens = 40;
  s.engine.pages_in_use = 7;
  s.engine.max_pages = 64;
  s.engine.original_bytes = 1234;
  s.engine.quantized_bytes = 567;
  s.responses[{"/v1/chat/completions", 200}] = 5;
  s.responses[{"other", 404}] = 1;
  s.cancelled = 2;
  s.in_flight = 4;
  s.tokens_per_second = 12.5;
  s.kv_budget_bytes = 262144;
  const auto m = Samples(RenderMetrics(s));
  EXPECT_EQ(m.at(R"(arkv_requests_total{endpoint="/v1/chat/completions",code="200"})"), "5");
  EXPECT_EQ(m.at(R"(arkv_requests_total{endpoint="other",code="404"})"), "1");
  EXPECT_EQ(m.at("arkv_prompt_tokens_total"), "100");
  EXPECT_EQ(m.at("arkv_generated_tokens_total"), "40");
  EXPECT_EQ(m.at("arkv_generated_tokens_per_second"), "12.500");
  EXPECT_EQ(m.at("arkv_queue_length"), "2");
  EXPECT_EQ(m.at("arkv_live_sequences"), "3");
  EXPECT_EQ(m.at("arkv_retained_sequences"), "1");
  EXPECT_EQ(m.at(R"(arkv_kv_bytes{state="original"})"), "1234");
  EXPECT_EQ(m.at(R"(arkv_kv_bytes{state="quantized"})"), "567");
  EXPECT_EQ(m.at("arkv_kv_pool_pages"), "7");
  EXPECT_EQ(m.at("arkv_kv_pool_pages_max"), "64");
  EXPECT_EQ(m.at("arkv_kv_budget_bytes"), "262144");
  EXPECT_EQ(m.at("arkv_requests_cancelled_total"), "2");
  EXPECT_EQ(m.at("arkv_requests_in_flight"), "4");
}

TEST(Metrics, EachFamilyHasOneTypeLine) {
  const std::string text = RenderMetrics(MetricsSnapshot{});
  for (const char* family : {"arkv_requests_total counter", "arkv_kv_bytes gauge",
                             "arkv_generated_tokens_total counter", "arkv_queue_length gauge"}) {
    const std::string type = std::string("# TYPE ") + family + "\n";
    const size_t at = text.find(type);
    ASSERT_NE(at, std::string::npos) << family;
    EXPECT_EQ(text.find(type, at + 1), std::string::npos) << family;
  }
}

TEST(TokenRate, CountsTheLastTenWholeSeconds) {
  TokenRate rate;
  EXPECT_EQ(rate.PerSecond(100.0), 0.0);
  rate.Add(100.2, 30);
  rate.Add(100.9, 10);
  rate.Add(105.5, 20);
  EXPECT_EQ(rate.PerSecond(100.95), 0.0);  // the current second is still filling
  EXPECT_EQ(rate.PerSecond(106.0), 6.0);   // (30 + 10 + 20) / 10
  EXPECT_EQ(rate.PerSecond(110.5), 6.0);
  EXPECT_EQ(rate.PerSecond(111.0), 2.0);  // second 100 has left the window
  EXPECT_EQ(rate.PerSecond(200.0), 0.0);
  rate.Add(111.0, 5);  // reuses second 100's slot
  EXPECT_EQ(rate.PerSecond(112.0), 2.5);
}

}  // namespace
}  // namespace arkv::server
