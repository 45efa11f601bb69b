#include "eval_cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "hub/checksum.h"
#include "hub/hub.h"

namespace arkv::cli {

void AddSharedKvFlags(CLI::App& cmd, KvOptions& o) {
  cmd.add_option("--kv-window", o.window,
                 "recent tokens always kept at full precision (default 32)");
  cmd.add_option("--kv-sinks", o.sinks, "window policy: first tokens always kept (default 4)");
  cmd.add_option("--snapkv-decode", o.snapkv_decode,
                 "snapkv while decoding: evict (keep the budget) or none (SnapKV's prefill-only "
                 "compression; token budgets only) (default evict)");
  cmd.add_option("--arkv-tau", o.taus, "OQ score temperatures tau1,tau2,tau3 (ARKV.md defaults)");
  cmd.add_option("--arkv-gamma", o.gamma, "heavy-hitter variance weight (default 263.81)");
  cmd.add_option("--arkv-keep", o.keep,
                 "share of the past kept per decode compression (default 0.75)");
  cmd.add_option("--kv-quant", o.quant, "codec of quantized tokens: fp8, int8, int4 (default fp8)");
  cmd.add_option("--kv-original", o.original,
                 "storage of full-precision tokens: f16, f32 (default f16)");
  cmd.add_option("--prefill-chunk", o.prefill_chunk,
                 "prompt tokens per batch; the cache compresses after each (default 512)")
      ->check(CLI::PositiveNumber);
}

kv::CacheConfig BaseCacheConfig(const KvOptions& kv) {
  KvOptions base = kv;
  base.policy = "full";
  base.budget.clear();
  return base.ToConfig();
}

LoadedModel LoadModelWithHash(const ModelOptions& opts, bool hash) {
  if (!opts.path.empty() && !opts.hf_spec.empty()) {
    Fail("give either -m or --hf, not both");
  }
  LoadedModel m;
  m.path = opts.path;
  if (m.path.empty()) {
    if (opts.hf_spec.empty()) {
      Fail("no model: give -m MODEL.gguf or --hf OWNER/REPO[:FILE.gguf]");
    }
    m.path = hub::ResolveModel(opts.hf_spec, hub::DownloadOptions{});
  }
  m.model = Model::Load(m.path);
  if (hash) {
    m.sha256 = hub::Sha256File(m.path);
  }
  return m;
}

std::string ProcessCommandLine() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string line;
  size_t begin = 0;
  while (begin < raw.size()) {
    size_t end = raw.find('\0', begin);
    if (end == std::string::npos) {
      end = raw.size();
    }
    std::string arg = raw.substr(begin, end - begin);
    if (!line.empty()) {
      line += ' ';
    }
    const bool quote = arg.empty() || arg.find_first_of(" \t\"'$\\") != std::string::npos;
    line += quote ? "'" + arg + "'" : arg;
    begin = end + 1;
  }
  return line;
}

ProgressLine::ProgressLine(std::string prefix)
    : prefix_(std::move(prefix)), tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressLine::Update(const std::string& text) {
  const std::string line = prefix_ + text;
  if (tty_) {
    const size_t pad = last_width_ > line.size() ? last_width_ - line.size() : 0;
    std::fprintf(stderr, "\r%s%*s", line.c_str(), static_cast<int>(pad), "");
    last_width_ = line.size();
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void ProgressLine::Finish() {
  if (tty_ && last_width_ > 0) {
    std::fputc('\n', stderr);
  }
  last_width_ = 0;
}

void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    Fail("cannot write {}: {}", path, std::strerror(errno));
  }
  out << text;
  if (!out.flush()) {
    Fail("cannot write {}: {}", path, std::strerror(errno));
  }
}

}  // namespace arkv::cli
