#include "common.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace arkv::cli {

namespace {

// An error message when the flag's value is not a number in [min, max].
std::string CheckNumber(const std::string& text, double min, double max) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return fmt::format("'{}' is not a number", text);
  }
  if (value < min) return fmt::format("must be >= {}, got {}", min, text);
  if (value > max) return fmt::format("must be <= {}, got {}", max, text);
  return {};
}

}  // namespace

CLI::Validator AtLeast(double min) {
  return CLI::Validator(
      [min](std::string& text) {
        return CheckNumber(text, min, std::numeric_limits<double>::infinity());
      },
      fmt::format(">= {}", min));
}

CLI::Validator InRange(double min, double max) {
  return CLI::Validator([min, max](std::string& text) { return CheckNumber(text, min, max); },
                        fmt::format("in [{}, {}]", min, max));
}

void AddSamplerFlags(CLI::App& cmd, SamplerConfig& config) {
  cmd.add_option("--temp", config.temperature,
                 fmt::format("temperature; 0 = greedy (default {})", config.temperature));
  cmd.add_option("--top-k", config.top_k,
                 fmt::format("top-k filter; 0 = off (default {})", config.top_k));
  cmd.add_option("--top-p", config.top_p,
                 fmt::format("top-p filter; 1 = off (default {})", config.top_p));
  cmd.add_option("--min-p", config.min_p,
                 fmt::format("min-p filter; 0 = off (default {})", config.min_p));
  cmd.add_option("-s,--seed", config.seed, fmt::format("sampling seed (default {})", config.seed));
}

std::vector<int32_t> ParseIdList(const std::string& text) {
  std::vector<int32_t> ids;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    if (*p == ',' || std::isspace(static_cast<unsigned char>(*p))) {
      ++p;
      continue;
    }
    int32_t v = 0;
    const auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || v < 0) {
      const char* stop = p;
      while (stop < end && *stop != ',' && !std::isspace(static_cast<unsigned char>(*stop))) ++stop;
      Fail("'{}' is not a token id (a non-negative integer)", std::string(p, stop));
    }
    ids.push_back(v);
    p = next;
  }
  return ids;
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot open {}: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<int32_t> ReadIdFile(const std::string& path) { return ParseIdList(ReadTextFile(path)); }

std::string FormatBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.2f} {}", bytes, units[u]);
}

}  // namespace arkv::cli
