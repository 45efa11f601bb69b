#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "arkv/kv_config.h"
#include "core/error.h"
#include "core/strings.h"

namespace arkv::kv {
namespace {

constexpr EnumName<PolicyKind> kPolicyNames[] = {
    {"full", PolicyKind::kFull},     {"window", PolicyKind::kWindow},
    {"snapkv", PolicyKind::kSnapKV}, {"evict", PolicyKind::kEvict},
    {"quant", PolicyKind::kQuant},   {"arkv", PolicyKind::kArkv},
    {"origin", PolicyKind::kEvict},  // the paper's name of evict
};
constexpr EnumName<QuantType> kQuantNames[] = {
    {"fp8", QuantType::kFp8E4M3},  {"int8", QuantType::kInt8},        {"int4", QuantType::kInt4},
    {"e4m3", QuantType::kFp8E4M3}, {"fp8_e4m3", QuantType::kFp8E4M3}, {"q8", QuantType::kInt8},
    {"q4", QuantType::kInt4},
};
constexpr EnumName<OriginalType> kOriginalNames[] = {
    {"f16", OriginalType::kF16},
    {"f32", OriginalType::kF32},
    {"fp16", OriginalType::kF16},
    {"fp32", OriginalType::kF32},
};

// Parses a whole string as a finite double (no trailing characters).
bool ParseDouble(std::string_view s, double& out) {
  s = Trim(s);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(out);
}

}  // namespace

Budget ParseBudget(std::string_view text) {
  const std::string_view s = Trim(text);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  const std::string_view number = s.substr(0, i);
  const std::string unit = ToLower(Trim(s.substr(i)));
  double value = 0;
  if (number.empty() || !ParseDouble(number, value)) {
    Fail("bad KV budget '{}': expected a token count (512) or a size (64MiB, 1.5GB)", text);
  }
  if (unit.empty()) {
    if (value != std::floor(value) || value < 1 || value > 1e12) {
      Fail("bad KV budget '{}': a token budget must be a positive whole number", text);
    }
    return Budget::Tokens(static_cast<int64_t>(value));
  }
  double mult = 0;
  if (unit == "b")
    mult = 1;
  else if (unit == "k" || unit == "kib")
    mult = 1024.0;
  else if (unit == "m" || unit == "mib")
    mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gib")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "kb")
    mult = 1e3;
  else if (unit == "mb")
    mult = 1e6;
  else if (unit == "gb")
    mult = 1e9;
  else
    Fail("bad KV budget '{}': unknown unit '{}' (use B, KiB, MiB, GiB, kB, MB or GB)", text, unit);
  const double bytes = std::floor(value * mult);
  if (bytes < 1 || bytes > 1e15) Fail("bad KV budget '{}': size out of range", text);
  return Budget::Bytes(static_cast<int64_t>(bytes));
}

PolicyKind ParsePolicyKind(std::string_view name) {
  if (const auto kind = ParseEnum<PolicyKind>(kPolicyNames, name)) return *kind;
  Fail("unknown KV policy '{}' (expected {})", name, NameList<PolicyKind>(kPolicyNames));
}

QuantType ParseQuantType(std::string_view name) {
  if (const auto type = ParseEnum<QuantType>(kQuantNames, name)) return *type;
  Fail("unknown KV quantization '{}' (expected {})", name, NameList<QuantType>(kQuantNames));
}

OriginalType ParseOriginalType(std::string_view name) {
  if (const auto type = ParseEnum<OriginalType>(kOriginalNames, name)) return *type;
  Fail("unknown KV storage type '{}' (expected {})", name, NameList<OriginalType>(kOriginalNames));
}

void ParseTaus(std::string_view text, CacheConfig& config) {
  double t[3];
  std::string_view rest = text;
  for (int i = 0; i < 3; ++i) {
    const size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    if (!ParseDouble(part, t[i]) || !(t[i] > 0)) {
      Fail("bad OQ temperatures '{}': expected three positive numbers t1,t2,t3", text);
    }
    if (i < 2 && comma == std::string_view::npos) {
      Fail("bad OQ temperatures '{}': expected three positive numbers t1,t2,t3", text);
    }
    if (i == 2 && comma != std::string_view::npos) {
      Fail("bad OQ temperatures '{}': expected three positive numbers t1,t2,t3", text);
    }
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  config.tau1 = t[0];
  config.tau2 = t[1];
  config.tau3 = t[2];
}

std::string_view PolicyName(PolicyKind kind) { return NameOf<PolicyKind>(kPolicyNames, kind); }
std::string_view QuantTypeName(QuantType type) { return NameOf<QuantType>(kQuantNames, type); }
std::string_view OriginalTypeName(OriginalType type) {
  return NameOf<OriginalType>(kOriginalNames, type);
}

std::string FormatBudget(const Budget& budget) {
  switch (budget.unit) {
    case Budget::Unit::kUnlimited:
      return "unlimited";
    case Budget::Unit::kTokens:
      return fmt::format("{} tokens", budget.value);
    case Budget::Unit::kBytes:
      return fmt::format("{} bytes", budget.value);
  }
  return "?";
}

std::optional<ConfigProblem> FindConfigProblem(const CacheConfig& c) {
  auto problem = [](std::string_view field, std::string message) {
    return std::optional<ConfigProblem>(ConfigProblem{std::string(field), std::move(message)});
  };
  if (static_cast<int>(c.policy) > static_cast<int>(PolicyKind::kArkv))
    return problem("policy", fmt::format("unknown value {}", static_cast<int>(c.policy)));
  if (static_cast<int>(c.original) > static_cast<int>(OriginalType::kF32))
    return problem("original", fmt::format("unknown value {}", static_cast<int>(c.original)));
  if (static_cast<int>(c.quant) > static_cast<int>(QuantType::kInt4))
    return problem("quant", fmt::format("unknown value {}", static_cast<int>(c.quant)));
  if (c.window < 1) return problem("window", fmt::format("must be at least 1, got {}", c.window));
  if (c.sinks < 0) return problem("sinks", fmt::format("must be >= 0, got {}", c.sinks));
  const std::pair<std::string_view, double> taus[] = {
      {"tau1", c.tau1}, {"tau2", c.tau2}, {"tau3", c.tau3}};
  for (const auto& [name, t] : taus) {
    if (!(t > 0) || !std::isfinite(t)) {
      return problem(name, fmt::format("must be a positive number, got {}", t));
    }
  }
  if (!(c.gamma >= 0) || !std::isfinite(c.gamma))
    return problem("gamma", fmt::format("must be a number >= 0, got {}", c.gamma));
  if (!(c.keep_fraction > 0 && c.keep_fraction <= 1))
    return problem("keep_fraction", fmt::format("must be in (0, 1], got {}", c.keep_fraction));
  if (c.pool_kernel < 1 || c.pool_kernel % 2 == 0)
    return problem("pool_kernel", fmt::format("must be odd and >= 1, got {}", c.pool_kernel));
  if (c.budget.unit != Budget::Unit::kUnlimited && c.budget.value < 1)
    return problem("budget", fmt::format("must be positive, got {}", c.budget.value));
  if (c.policy != PolicyKind::kFull && c.budget.unit == Budget::Unit::kUnlimited)
    return problem("budget", fmt::format("required by the KV policy '{}'", PolicyName(c.policy)));
  if (c.budget.unit == Budget::Unit::kTokens) {
    if (c.policy != PolicyKind::kFull && c.budget.value < c.window) {
      return problem("budget", fmt::format("{} tokens cannot hold the window of {} tokens",
                                           c.budget.value, c.window));
    }
    if (c.policy == PolicyKind::kWindow && c.budget.value < c.sinks + c.window) {
      return problem("budget",
                     fmt::format("{} tokens cannot hold {} sink tokens and the window of {}",
                                 c.budget.value, c.sinks, c.window));
    }
  }
  return std::nullopt;
}

void ValidateConfig(const CacheConfig& config) {
  if (const auto p = FindConfigProblem(config)) Fail("KV config {}: {}", p->field, p->message);
}

}  // namespace arkv::kv
