#include "kv_options.h"

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"
#include "core/error.h"

namespace arkv::cli {

void AddKvOptions(CLI::App& cmd, KvOptions& o) {
  cmd.add_option("--kv-policy", o.policy,
                 "KV cache policy: full, window, snapkv, evict, quant, arkv (default full)");
  cmd.add_option("--kv-budget", o.budget,
                 "KV budget: tokens per layer (512) or bytes for the whole cache (64MiB)");
  cmd.add_option("--kv-window", o.window, "recent tokens always kept at full precision (default 32)");
  cmd.add_option("--kv-sinks", o.sinks, "window policy: first tokens always kept (default 4)");
  cmd.add_option("--snapkv-decode", o.snapkv_decode,
                 "snapkv while decoding: evict (keep the budget) or none (SnapKV's prefill-only "
                 "compression; token budgets only) (default evict)");
  cmd.add_option("--arkv-tau", o.taus, "OQ score temperatures tau1,tau2,tau3 (ARKV.md defaults)");
  cmd.add_option("--arkv-gamma", o.gamma, "heavy-hitter variance weight (default 263.81)");
  cmd.add_option("--arkv-keep", o.keep, "share of the past kept per decode compression (default 0.75)");
  cmd.add_option("--kv-quant", o.quant, "codec of quantized tokens: fp8, int8, int4 (default fp8)");
  cmd.add_option("--kv-original", o.original, "storage of full-precision tokens: f16, f32 (default f16)");
  cmd.add_option("--prefill-chunk", o.prefill_chunk,
                 "prompt tokens per batch; the cache compresses after each (default 512)")
      ->check(CLI::PositiveNumber);
  cmd.add_flag("--kv-stats", o.print_stats, "print a per-layer KV cache table at the end");
}

kv::CacheConfig KvOptions::ToConfig() const {
  kv::CacheConfig c;
  c.policy = kv::ParsePolicyKind(policy);
  if (!budget.empty()) c.budget = kv::ParseBudget(budget);
  c.window = window;
  c.sinks = sinks;
  c.snapkv_decode = kv::ParseSnapKvDecode(snapkv_decode);
  if (!taus.empty()) kv::ParseTaus(taus, c);
  if (gamma >= 0.0) c.gamma = gamma;
  if (keep >= 0.0) c.keep_fraction = keep;
  c.quant = kv::ParseQuantType(quant);
  c.original = kv::ParseOriginalType(original);
  kv::ValidateConfig(c);
  return c;
}

std::string KvOptions::Describe() const {
  const kv::CacheConfig c = ToConfig();
  std::string s(kv::PolicyName(c.policy));
  if (c.policy != kv::PolicyKind::kFull) s += ", budget " + kv::FormatBudget(c.budget);
  if (c.policy == kv::PolicyKind::kArkv || c.policy == kv::PolicyKind::kQuant) {
    s += ", " + std::string(kv::QuantTypeName(c.quant));
  }
  return s;
}

std::unique_ptr<kv::SequenceCache> CreateCache(const Model& model, const KvOptions& opts) {
  return kv::CreateSequenceCache(model.cache_shape(), opts.ToConfig());
}

void PrintKvStats(const kv::SequenceCache& cache, std::FILE* out) {
  std::fputs(kv::FormatStats(cache.Stats()).c_str(), out);
}

}  // namespace arkv::cli
