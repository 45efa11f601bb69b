#include "common.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/thread_pool.h"
#include "hub/hub.h"

namespace arkv::cli {

void AddModelOptions(CLI::App& cmd, ModelOptions& opts) {
  cmd.add_option("-m,--model", opts.path, "GGUF model file");
  cmd.add_option("--hf", opts.hf_spec,
                 "download OWNER/REPO[:FILE.gguf] from Hugging Face (cached) instead of -m");
  cmd.add_option("-t,--threads", opts.threads, "threads (default: all hardware threads)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--matmul", opts.matmul,
                 "weight products: ggml (activations quantized as llama.cpp does; default) or "
                 "float (f32 activations, exactly dequantized weights)");
}

std::unique_ptr<Model> LoadModel(const ModelOptions& opts) {
  if (!opts.path.empty() && !opts.hf_spec.empty()) Fail("give either -m or --hf, not both");
  std::string path = opts.path;
  if (path.empty()) {
    if (opts.hf_spec.empty()) Fail("no model: give -m MODEL.gguf or --hf OWNER/REPO[:FILE.gguf]");
    path = hub::ResolveModel(opts.hf_spec, hub::DownloadOptions{});
  }
  arkv::ModelOptions options;
  if (opts.matmul == "float") {
    options.matmul_precision = MatMulPrecision::kFloat;
  } else if (opts.matmul != "ggml") {
    Fail("--matmul must be ggml or float (got '{}')", opts.matmul);
  }
  return Model::Load(path, options);
}

int ThreadCount(const ModelOptions& opts) {
  return opts.threads > 0 ? opts.threads : HardwareThreads();
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
