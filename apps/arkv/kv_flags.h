// The KV cache flags of every command that runs a model, from one table
// (kv_flags.cc): each flag's name, the CacheConfig field it sets and its help
// text, whose defaults are read from kv::CacheConfig{} (the only place they
// are written). Errors name the flag: the library names the field, the table
// turns it into the flag.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"

namespace arkv::cli {

struct KvFlags {
  kv::CacheConfig config;  // the numeric fields are set by their flags directly
  std::string policy;      // --kv-policy (one cache); empty: CacheConfig{}'s
  std::string budget;      // --kv-budget (one cache); empty: unlimited
  std::string taus;        // --arkv-tau "t1,t2,t3"; empty: CacheConfig{}'s
  std::string quant;       // --kv-quant; empty: CacheConfig{}'s
  std::string original;    // --kv-original; empty: CacheConfig{}'s
  int prefill_chunk = 512;
  bool print_stats = false;

  // The configuration of one cache. Throws arkv::Error naming the flag.
  kv::CacheConfig ToConfig() const;
  // Every parameter but the policy and the budget (comparisons vary those).
  kv::CacheConfig BaseConfig() const;
  std::string Describe() const;  // "arkv, budget 512 tokens, fp8"
};

// Commands that run one cache: every KV flag, --kv-policy and --kv-budget
// single-valued, and --kv-stats.
void AddKvFlags(CLI::App& cmd, KvFlags& flags);

// Commands that compare caches (eval, bench): --policies and --kv-budget are
// lists into `policies` and `budgets`, whose contents are the defaults.
struct KvFlagLists {
  std::vector<std::string>* policies = nullptr;
  std::vector<std::string>* budgets = nullptr;
};
void AddKvFlags(CLI::App& cmd, KvFlags& flags, const KvFlagLists& lists);

// The flag that sets a CacheConfig field ("window" -> "--kv-window"), or the
// field itself when no flag sets it.
std::string FlagOfField(const std::string& field);

// The per-layer table of --kv-stats.
void PrintKvStats(const kv::SequenceCache& cache, std::FILE* out);

}  // namespace arkv::cli
