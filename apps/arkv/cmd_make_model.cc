// arkv make-model: write a synthetic GGUF model with random weights.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "model/synthetic.h"

namespace arkv::cli {
namespace {

struct MakeModelOptions {
  std::string preset = "tiny";
  std::string out;
  std::string type = "f32";
  std::string arch;
  int layers = 0, embd = 0, ff = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0, ctx = 0;
  uint64_t seed = 1;
  bool tied = false;
  int threads = 0;
};

void RunMakeModel(const MakeModelOptions& o) {
  SyntheticModelSpec s = SyntheticPreset(o.preset);
  if (!o.arch.empty()) s.arch = o.arch;
  if (o.layers) s.n_layers = o.layers;
  if (o.embd) s.n_embd = o.embd;
  if (o.ff) s.n_ff = o.ff;
  if (o.heads) s.n_heads = o.heads;
  if (o.kv_heads) s.n_kv_heads = o.kv_heads;
  if (o.head_dim) s.head_dim = o.head_dim;
  if (o.vocab) s.n_vocab = o.vocab;
  if (o.ctx) s.n_ctx = o.ctx;
  s.type = ParseWeightType(o.type);
  s.seed = o.seed;
  s.tied_output = o.tied;
  s.Validate();
  ThreadPool pool(o.threads > 0 ? o.threads : HardwareThreads());
  std::fprintf(
      stderr, "arkv: writing %s: %s, %d layers, n_embd %d, %.3fB parameters, %s (random weights)\n",
      o.out.c_str(), s.arch.c_str(), s.n_layers, s.n_embd, s.n_params() / 1e9,
      std::string(GetTypeTraits(s.type).name).c_str());
  WriteSyntheticModel(s, o.out, pool);
}

}  // namespace

void AddMakeModelCommand(CLI::App& app) {
  auto o = std::make_shared<MakeModelOptions>();
  CLI::App* cmd = app.add_subcommand(
      "make-model", "write a synthetic GGUF model with random weights (tests, benchmarks)");
  cmd->add_option("-o,--out", o->out, "output GGUF file")->required();
  cmd->add_option("--preset", o->preset, "starting shapes: tiny (default) or 1b");
  cmd->add_option("--arch", o->arch, "llama (default), qwen2 or qwen3");
  cmd->add_option("--type", o->type,
                  "weight type: f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k (default f32)");
  cmd->add_option("--layers", o->layers, "layers");
  cmd->add_option("--embd", o->embd, "embedding width");
  cmd->add_option("--ff", o->ff, "feed-forward width");
  cmd->add_option("--heads", o->heads, "query heads");
  cmd->add_option("--kv-heads", o->kv_heads, "KV heads");
  cmd->add_option("--head-dim", o->head_dim, "head dim (default embd / heads)");
  cmd->add_option("--vocab", o->vocab, "vocabulary size (>= 258)");
  cmd->add_option("--ctx", o->ctx, "context_length metadata");
  cmd->add_option("--seed", o->seed, "random seed (default 1)");
  cmd->add_flag("--tied", o->tied, "tie the output matrix to the embeddings");
  cmd->add_option("-t,--threads", o->threads, "threads for quantization");
  cmd->callback([o] { RunMakeModel(*o); });
}

}  // namespace arkv::cli
