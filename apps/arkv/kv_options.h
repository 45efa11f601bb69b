// The KV cache flags shared by every command that runs a model.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "arkv/kv_cache.h"
#include "arkv/kv_config.h"
#include "model/model.h"

namespace arkv::cli {

struct KvOptions {
  std::string policy = "full";
  std::string budget;  // empty: unlimited
  int window = 32;
  int sinks = 4;
  std::string snapkv_decode = "evict";
  std::string taus;  // "t1,t2,t3"
  double gamma = -1.0;  // < 0: ARKV.md default
  double keep = -1.0;
  std::string quant = "fp8";
  std::string original = "f16";
  int prefill_chunk = 512;
  bool print_stats = false;

  kv::CacheConfig ToConfig() const;  // throws arkv::Error on bad values
  std::string Describe() const;      // "arkv, budget 512 tokens, fp8"
};

void AddKvOptions(CLI::App& cmd, KvOptions& opts);
std::unique_ptr<kv::SequenceCache> CreateCache(const Model& model, const KvOptions& opts);
// The per-layer table of --kv-stats.
void PrintKvStats(const kv::SequenceCache& cache, std::FILE* out);

}  // namespace arkv::cli
