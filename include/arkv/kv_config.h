// Configuration of an ARKV KV cache: the policy, its parameters and the budget.
//
// The defaults below are the only ones: the arkv program's flags and help
// texts are built from CacheConfig{} (apps/arkv/kv_flags.cc maps each flag to
// its field), and ARKV.md's reference values are these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace arkv::kv {

enum class PolicyKind : uint8_t {
  kFull,    // everything, Original
  kWindow,  // StreamingLLM: `sinks` first tokens + the most recent ones
  kSnapKV,  // prompt-end top-k by pooled window attention
  kEvict,   // the paper's Origin: ARKV scores and budget, no Quantized state
  kQuant,   // the paper's Quant: every kept past token Quantized, window Original
  kArkv,    // the tri-state method of ARKV.md
};

// Storage of Original tokens. f16 matches llama.cpp's default F16 KV cache.
enum class OriginalType : uint8_t { kF16, kF32 };

// Codec of Quantized tokens (per-token scale per KV head, K and V separately).
enum class QuantType : uint8_t { kFp8E4M3, kInt8, kInt4 };

struct Budget {
  enum class Unit : uint8_t { kUnlimited, kTokens, kBytes };
  Unit unit = Unit::kUnlimited;
  int64_t value = 0;  // tokens per layer and KV head (the paper's C), or bytes

  static Budget Unlimited() { return {}; }
  static Budget Tokens(int64_t n) { return {Unit::kTokens, n}; }
  static Budget Bytes(int64_t n) { return {Unit::kBytes, n}; }
};

struct CacheConfig {
  PolicyKind policy = PolicyKind::kFull;
  // Required for every policy but `full` (which ignores it).
  Budget budget;
  // W: recent tokens always Original; also the observation window.
  int window = 32;
  // `window` policy: first tokens always kept (attention sinks).
  int sinks = 4;
  // OQ score temperatures and heavy-hitter variance weight (ARKV.md defaults).
  double tau1 = 7.774380648611771;
  double tau2 = 5.407015096778621;
  double tau3 = 5.527702582901318;
  double gamma = 263.8108280337562;
  // Share of the past kept at each decode compression, in (0, 1].
  double keep_fraction = 0.75;
  // Odd width of the average pooling of scores along the cache.
  int pool_kernel = 5;
  OriginalType original = OriginalType::kF16;
  QuantType quant = QuantType::kFp8E4M3;
};

// A problem with a configuration: the CacheConfig field ("window", "budget",
// "tau1", ...) and what is wrong with its value ("must be at least 1, got 0").
struct ConfigProblem {
  std::string field;
  std::string message;
};
// The first problem of `config`, if any.
std::optional<ConfigProblem> FindConfigProblem(const CacheConfig& config);
// Throws arkv::Error "KV config <field>: <message>" on the first problem.
void ValidateConfig(const CacheConfig& config);

// "512" -> 512 tokens; "64MiB", "48KiB", "1.5GB", "100kB", "4096B" -> bytes
// (KiB/MiB/GiB powers of 1024, kB/MB/GB powers of 1000, case-insensitive unit;
// "K", "M", "G" alone mean KiB, MiB, GiB). Throws arkv::Error on anything else.
Budget ParseBudget(std::string_view text);
PolicyKind ParsePolicyKind(std::string_view name);
QuantType ParseQuantType(std::string_view name);
OriginalType ParseOriginalType(std::string_view name);
// "t1,t2,t3": three positive numbers.
void ParseTaus(std::string_view text, CacheConfig& config);

std::string_view PolicyName(PolicyKind kind);
std::string_view QuantTypeName(QuantType type);
std::string_view OriginalTypeName(OriginalType type);
std::string FormatBudget(const Budget& budget);

}  // namespace arkv::kv
