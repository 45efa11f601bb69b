#include "kv_flags.h"

#include <string_view>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"
#include "common.h"
#include "core/error.h"

namespace arkv::cli {
namespace {

// The table: every KV flag, the CacheConfig field it sets (what library
// errors name) and its help text, defaults read from CacheConfig{}.
struct KvFlag {
  std::string_view name;
  std::string_view field;
  std::string help;
};

const std::vector<KvFlag>& KvFlagTable() {
  static const std::vector<KvFlag> table = [] {
    const kv::CacheConfig d;
    return std::vector<KvFlag>{
        {"--kv-policy", "policy",
         fmt::format("KV cache policy: full, window, snapkv, evict, quant, arkv (default {})",
                     kv::PolicyName(d.policy))},
        {"--kv-budget", "budget",
         "KV budget: tokens per layer and KV head (512) or bytes for the whole cache (64MiB)"},
        {"--kv-window", "window",
         fmt::format("recent tokens always kept at full precision, also ARKV's observation "
                     "window (default {})",
                     d.window)},
        {"--kv-sinks", "sinks",
         fmt::format("window policy: first tokens always kept (default {})", d.sinks)},
        {"--arkv-tau", "tau1",
         fmt::format("OQ score temperatures tau1,tau2,tau3 (default {},{},{})", d.tau1, d.tau2,
                     d.tau3)},
        {"--arkv-tau", "tau2", ""},
        {"--arkv-tau", "tau3", ""},
        {"--arkv-gamma", "gamma",
         fmt::format("heavy-hitter variance weight (default {})", d.gamma)},
        {"--arkv-keep", "keep_fraction",
         fmt::format("share of the past kept at each decode compression (default {})",
                     d.keep_fraction)},
        {"--kv-quant", "quant",
         fmt::format("codec of quantized tokens: fp8, int8, int4 (default {})",
                     kv::QuantTypeName(d.quant))},
        {"--kv-original", "original",
         fmt::format("storage of full-precision tokens: f16, f32 (default {})",
                     kv::OriginalTypeName(d.original))},
    };
  }();
  return table;
}

const KvFlag& Flag(std::string_view name) {
  for (const KvFlag& f : KvFlagTable()) {
    if (f.name == name) return f;
  }
  Fail("internal: no KV flag {}", name);
}

template <typename T>
CLI::Option* Add(CLI::App& cmd, std::string_view name, T& target) {
  const KvFlag& f = Flag(name);
  return cmd.add_option(std::string(f.name), target, f.help);
}

// Every flag but the policy and the budget.
void AddParameterFlags(CLI::App& cmd, KvFlags& flags) {
  Add(cmd, "--kv-window", flags.config.window)->check(AtLeast(1));
  Add(cmd, "--kv-sinks", flags.config.sinks)->check(AtLeast(0));
  Add(cmd, "--arkv-tau", flags.taus);
  Add(cmd, "--arkv-gamma", flags.config.gamma)->check(AtLeast(0));
  Add(cmd, "--arkv-keep", flags.config.keep_fraction);
  Add(cmd, "--kv-quant", flags.quant);
  Add(cmd, "--kv-original", flags.original);
  cmd.add_option("--prefill-chunk", flags.prefill_chunk,
                 fmt::format("prompt tokens per batch; the cache compresses after each "
                             "(default {})",
                             flags.prefill_chunk))
      ->check(AtLeast(1));
}

std::string Join(const std::vector<std::string>& items) {
  std::string s;
  for (const std::string& item : items) s += (s.empty() ? "" : ",") + item;
  return s;
}

// Runs parse(); an arkv::Error from it is rethrown naming the flag.
template <typename Parse>
auto ForFlag(std::string_view flag, Parse&& parse) {
  try {
    return parse();
  } catch (const Error& e) {
    Fail("{}: {}", flag, e.what());
  }
}

kv::CacheConfig Checked(const kv::CacheConfig& c) {
  if (const auto problem = kv::FindConfigProblem(c)) {
    Fail("{}: {}", FlagOfField(problem->field), problem->message);
  }
  return c;
}

}  // namespace

void AddKvFlags(CLI::App& cmd, KvFlags& flags) {
  Add(cmd, "--kv-policy", flags.policy);
  Add(cmd, "--kv-budget", flags.budget);
  AddParameterFlags(cmd, flags);
  cmd.add_flag("--kv-stats", flags.print_stats, "print a per-layer KV cache table at the end");
}

void AddKvFlags(CLI::App& cmd, KvFlags& flags, const KvFlagLists& lists) {
  cmd.add_option("--policies", *lists.policies,
                 fmt::format("policies to compare (default {})", Join(*lists.policies)))
      ->delimiter(',');
  cmd.add_option("--kv-budget", *lists.budgets,
                 fmt::format("budgets, each tokens per layer and KV head (128) or bytes for the "
                             "whole cache (48KiB); every non-full policy runs once per budget "
                             "(default {})",
                             Join(*lists.budgets)))
      ->delimiter(',');
  AddParameterFlags(cmd, flags);
}

std::string FlagOfField(const std::string& field) {
  for (const KvFlag& f : KvFlagTable()) {
    if (f.field == field) return std::string(f.name);
  }
  return field;
}

kv::CacheConfig KvFlags::BaseConfig() const {
  kv::CacheConfig c = config;
  if (!taus.empty()) ForFlag("--arkv-tau", [&] { kv::ParseTaus(taus, c); });
  if (!quant.empty()) c.quant = ForFlag("--kv-quant", [&] { return kv::ParseQuantType(quant); });
  if (!original.empty()) {
    c.original = ForFlag("--kv-original", [&] { return kv::ParseOriginalType(original); });
  }
  return Checked(c);
}

kv::CacheConfig KvFlags::ToConfig() const {
  kv::CacheConfig c = BaseConfig();
  if (!policy.empty()) {
    c.policy = ForFlag("--kv-policy", [&] { return kv::ParsePolicyKind(policy); });
  }
  if (!budget.empty()) c.budget = ForFlag("--kv-budget", [&] { return kv::ParseBudget(budget); });
  return Checked(c);
}

std::string KvFlags::Describe() const {
  const kv::CacheConfig c = ToConfig();
  std::string s(kv::PolicyName(c.policy));
  if (c.policy != kv::PolicyKind::kFull) s += ", budget " + kv::FormatBudget(c.budget);
  if (c.policy == kv::PolicyKind::kArkv || c.policy == kv::PolicyKind::kQuant) {
    s += ", " + std::string(kv::QuantTypeName(c.quant));
  }
  return s;
}

void PrintKvStats(const kv::SequenceCache& cache, std::FILE* out) {
  std::fputs(kv::FormatStats(cache.Stats()).c_str(), out);
}

}  // namespace arkv::cli
