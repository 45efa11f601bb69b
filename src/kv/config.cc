#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

#include "arkv/kv_config.h"
#include "core/error.h"

namespace arkv::kv {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

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
  const std::string unit = Lower(Trim(s.substr(i)));
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
  const std::string n = Lower(Trim(name));
  if (n == "full") return PolicyKind::kFull;
  if (n == "window") return PolicyKind::kWindow;
  if (n == "snapkv") return PolicyKind::kSnapKV;
  if (n == "evict" || n == "origin") return PolicyKind::kEvict;
  if (n == "quant") return PolicyKind::kQuant;
  if (n == "arkv") return PolicyKind::kArkv;
  Fail("unknown KV policy '{}' (expected full, window, snapkv, evict, quant or arkv)", name);
}

QuantType ParseQuantType(std::string_view name) {
  const std::string n = Lower(Trim(name));
  if (n == "fp8" || n == "fp8_e4m3" || n == "e4m3") return QuantType::kFp8E4M3;
  if (n == "int8" || n == "q8") return QuantType::kInt8;
  if (n == "int4" || n == "q4") return QuantType::kInt4;
  Fail("unknown KV quantization '{}' (expected fp8, int8 or int4)", name);
}

OriginalType ParseOriginalType(std::string_view name) {
  const std::string n = Lower(Trim(name));
  if (n == "f16" || n == "fp16") return OriginalType::kF16;
  if (n == "f32" || n == "fp32") return OriginalType::kF32;
  Fail("unknown KV storage type '{}' (expected f16 or f32)", name);
}

SnapKvDecode ParseSnapKvDecode(std::string_view name) {
  const std::string n = Lower(Trim(name));
  if (n == "evict") return SnapKvDecode::kEvict;
  if (n == "none") return SnapKvDecode::kNone;
  Fail("unknown --snapkv-decode '{}' (expected evict or none)", name);
}

void ParseTaus(std::string_view text, CacheConfig& config) {
  double t[3];
  std::string_view rest = text;
  for (int i = 0; i < 3; ++i) {
    const size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    if (!ParseDouble(part, t[i]) || !(t[i] > 0)) {
      Fail("bad --arkv-tau '{}': expected three positive numbers t1,t2,t3", text);
    }
    if (i < 2 && comma == std::string_view::npos) {
      Fail("bad --arkv-tau '{}': expected three positive numbers t1,t2,t3", text);
    }
    if (i == 2 && comma != std::string_view::npos) {
      Fail("bad --arkv-tau '{}': expected three positive numbers t1,t2,t3", text);
    }
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  config.tau1 = t[0];
  config.tau2 = t[1];
  config.tau3 = t[2];
}

std::string_view PolicyName(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kFull:
      return "full";
    case PolicyKind::kWindow:
      return "window";
    case PolicyKind::kSnapKV:
      return "snapkv";
    case PolicyKind::kEvict:
      return "evict";
    case PolicyKind::kQuant:
      return "quant";
    case PolicyKind::kArkv:
      return "arkv";
  }
  return "?";
}

std::string_view QuantTypeName(QuantType type) {
  switch (type) {
    case QuantType::kFp8E4M3:
      return "fp8";
    case QuantType::kInt8:
      return "int8";
    case QuantType::kInt4:
      return "int4";
  }
  return "?";
}

std::string_view SnapKvDecodeName(SnapKvDecode mode) {
  switch (mode) {
    case SnapKvDecode::kEvict:
      return "evict";
    case SnapKvDecode::kNone:
      return "none";
  }
  return "?";
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

void ValidateConfig(const CacheConfig& c) {
  if (static_cast<int>(c.policy) > static_cast<int>(PolicyKind::kArkv))
    Fail("unknown KV policy value {}", static_cast<int>(c.policy));
  if (static_cast<int>(c.original) > static_cast<int>(OriginalType::kF32))
    Fail("unknown KV storage type value {}", static_cast<int>(c.original));
  if (static_cast<int>(c.quant) > static_cast<int>(QuantType::kInt4))
    Fail("unknown KV quantization value {}", static_cast<int>(c.quant));
  if (static_cast<int>(c.snapkv_decode) > static_cast<int>(SnapKvDecode::kNone))
    Fail("unknown snapkv decode mode value {}", static_cast<int>(c.snapkv_decode));
  if (c.policy == PolicyKind::kSnapKV && c.snapkv_decode == SnapKvDecode::kNone &&
      c.budget.unit == Budget::Unit::kBytes)
    Fail("--snapkv-decode none never compresses while decoding, so it cannot keep a byte "
         "budget ({}); use a token budget or --snapkv-decode evict",
         FormatBudget(c.budget));
  if (c.window < 1) Fail("KV window must be at least 1, got {}", c.window);
  if (c.sinks < 0) Fail("KV sinks must be >= 0, got {}", c.sinks);
  for (double t : {c.tau1, c.tau2, c.tau3}) {
    if (!(t > 0) || !std::isfinite(t)) Fail("ARKV temperatures must be positive, got {}", t);
  }
  if (!(c.gamma >= 0) || !std::isfinite(c.gamma)) Fail("ARKV gamma must be >= 0, got {}", c.gamma);
  if (!(c.keep_fraction > 0 && c.keep_fraction <= 1))
    Fail("KV keep fraction must be in (0, 1], got {}", c.keep_fraction);
  if (c.pool_kernel < 1 || c.pool_kernel % 2 == 0)
    Fail("KV pool kernel must be odd and >= 1, got {}", c.pool_kernel);
  if (c.budget.unit != Budget::Unit::kUnlimited && c.budget.value < 1)
    Fail("KV budget must be positive, got {}", c.budget.value);
  if (c.policy != PolicyKind::kFull && c.budget.unit == Budget::Unit::kUnlimited)
    Fail("KV policy '{}' needs a budget (--kv-budget)", PolicyName(c.policy));
  if (c.budget.unit == Budget::Unit::kTokens) {
    if (c.policy != PolicyKind::kFull && c.budget.value < c.window)
      Fail("KV budget of {} tokens cannot hold the window of {} tokens", c.budget.value, c.window);
    if (c.policy == PolicyKind::kWindow && c.budget.value < c.sinks + c.window)
      Fail("KV budget of {} tokens cannot hold {} sink tokens and the window of {}", c.budget.value,
           c.sinks, c.window);
  }
}

}  // namespace arkv::kv
