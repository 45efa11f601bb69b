#include "model_flags.h"

#include "common.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "hub/checksum.h"
#include "hub/hub.h"

namespace arkv::cli {

void AddModelFlags(CLI::App& cmd, ModelFlags& flags) {
  cmd.add_option("-m,--model", flags.path, "GGUF model file");
  cmd.add_option("--hf", flags.hf_spec,
                 "download OWNER/REPO[:FILE.gguf] from Hugging Face (cached) instead of -m");
  cmd.add_option("-t,--threads", flags.threads, "threads (default: all hardware threads)")
      ->check(AtLeast(0));
  cmd.add_option("--matmul", flags.matmul,
                 "weight products: ggml (activations quantized as llama.cpp does; default) or "
                 "float (f32 activations, exactly dequantized weights)");
}

LoadedModel LoadModel(const ModelFlags& flags, bool hash) {
  if (!flags.path.empty() && !flags.hf_spec.empty()) Fail("give either -m or --hf, not both");
  ModelOptions options;
  if (flags.matmul == "float") {
    options.matmul_precision = MatMulPrecision::kFloat;
  } else if (flags.matmul != "ggml") {
    Fail("--matmul must be ggml or float (got '{}')", flags.matmul);
  }
  LoadedModel loaded;
  loaded.path = flags.path;
  if (loaded.path.empty()) {
    if (flags.hf_spec.empty()) Fail("no model: give -m MODEL.gguf or --hf OWNER/REPO[:FILE.gguf]");
    loaded.path = hub::ResolveModel(flags.hf_spec, hub::DownloadOptions{});
  }
  loaded.model = Model::Load(loaded.path, options);
  if (hash) loaded.sha256 = hub::Sha256File(loaded.path);
  return loaded;
}

int ThreadCount(const ModelFlags& flags) {
  return flags.threads > 0 ? flags.threads : HardwareThreads();
}

}  // namespace arkv::cli
