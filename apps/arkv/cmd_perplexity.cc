// arkv perplexity: llama-perplexity's chunked rule (see eval/perplexity.h).
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "eval/perplexity.h"
#include "kv_flags.h"
#include "model_flags.h"

namespace arkv::cli {
namespace {

struct PerplexityOptions {
  ModelFlags model;
  KvFlags kv;
  std::string text_file;
  int n_ctx = 512;
  int chunks = 0;
};

void RunPerplexity(const PerplexityOptions& o) {
  const kv::CacheConfig kv_config = o.kv.ToConfig();  // bad flags fail before loading
  const LoadedModel loaded = LoadModel(o.model);
  const std::unique_ptr<Model>& model = loaded.model;
  auto tokenizer = Tokenizer::FromGguf(model->file());
  const std::string text = ReadTextFile(o.text_file);
  const std::vector<int32_t> tokens = tokenizer->Encode(text, /*add_special=*/true, false);
  ThreadPool pool(ThreadCount(o.model));
  Session session(*model, kv::CreateSequenceCache(model->cache_shape(), kv_config), pool, o.n_ctx);
  const int32_t bos = tokenizer->add_bos() ? tokenizer->bos_id() : -1;
  std::fprintf(stderr, "arkv: %zu tokens, context %d\n", tokens.size(), o.n_ctx);
  const PerplexityResult r =
      ChunkedPerplexity(session, tokens, o.n_ctx, o.chunks, bos, [](int k, double ppl) {
        std::fprintf(stderr, "[%d]%.4f,", k + 1, ppl);
        std::fflush(stderr);
      });
  std::fprintf(stderr, "\n");
  std::printf("Final estimate: PPL = %.4f +/- %.5f (%d chunks of %d, %lld scored tokens)\n", r.ppl,
              r.ppl_stderr, r.n_chunks, o.n_ctx, static_cast<long long>(r.n_scored));
}

}  // namespace

void AddPerplexityCommand(CLI::App& app) {
  auto opts = std::make_shared<PerplexityOptions>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "perplexity of a text file with llama-perplexity's chunked rule");
  AddModelFlags(*cmd, opts->model);
  cmd->add_option("-f,--file", opts->text_file, "text file")->required();
  cmd->add_option("-c,--ctx-size", opts->n_ctx, "chunk length in tokens (default 512)")
      ->check(InRange(4, 1 << 20));
  cmd->add_option("--chunks", opts->chunks, "at most this many chunks (default: all)")
      ->check(AtLeast(0));
  AddKvFlags(*cmd, opts->kv);
  cmd->callback([opts] { RunPerplexity(*opts); });
}

}  // namespace arkv::cli
