// Flags and helpers shared by `arkv eval` and `arkv bench`: the KV parameters
// every compared policy shares, the model's path and hash, the progress line.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "arkv/kv_config.h"
#include "common.h"
#include "kv_options.h"

namespace arkv::cli {

// --kv-window, --kv-sinks, --snapkv-decode, --arkv-tau, --arkv-gamma, --arkv-keep, --kv-quant,
// --kv-original, --prefill-chunk (the policy and budget are lists elsewhere).
void AddSharedKvFlags(CLI::App& cmd, KvOptions& kv);
// The parameters of `kv` without policy or budget.
kv::CacheConfig BaseCacheConfig(const KvOptions& kv);

struct LoadedModel {
  std::string path;
  std::string sha256;  // empty when not computed
  std::unique_ptr<Model> model;
};
// Resolves -m / --hf, loads the model and (if hash) its SHA-256.
LoadedModel LoadModelWithHash(const ModelOptions& opts, bool hash);

// The program's arguments as one line (from /proc/self/cmdline).
std::string ProcessCommandLine();

// One progress line on stderr: rewritten in place on a terminal, one line
// each otherwise. Finish() ends the line.
class ProgressLine {
 public:
  explicit ProgressLine(std::string prefix);
  void Update(const std::string& text);
  void Finish();

 private:
  std::string prefix_;
  bool tty_;
  size_t last_width_ = 0;
};

void WriteTextFile(const std::string& path, const std::string& text);

}  // namespace arkv::cli
