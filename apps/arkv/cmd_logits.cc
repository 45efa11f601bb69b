// arkv logits: evaluate a token sequence in one batch and write the logits of
// every position as raw float32 [n_tokens][n_vocab] (the golden files' layout).
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "kv_flags.h"
#include "model_flags.h"
#include "runtime/session.h"

namespace arkv::cli {
namespace {

struct LogitsOptions {
  ModelFlags model;
  KvFlags kv;
  std::string ids_file;
  std::string out;
};

void RunLogits(const LogitsOptions& o) {
  const std::vector<int32_t> ids = ReadIdFile(o.ids_file);
  const kv::CacheConfig kv_config = o.kv.ToConfig();  // bad flags fail before loading
  if (ids.empty()) Fail("{} holds no token ids", o.ids_file);
  const LoadedModel loaded = LoadModel(o.model);
  const std::unique_ptr<Model>& model = loaded.model;
  ThreadPool pool(ThreadCount(o.model));
  Session session(*model, kv::CreateSequenceCache(model->cache_shape(), kv_config), pool,
                  static_cast<int>(ids.size()));
  const std::span<const float> logits = session.EvaluateAll(ids);
  std::FILE* f = std::fopen(o.out.c_str(), "wb");
  if (f == nullptr) Fail("cannot create {}: {}", o.out, std::strerror(errno));
  const size_t written = std::fwrite(logits.data(), sizeof(float), logits.size(), f);
  const bool closed = std::fclose(f) == 0;
  if (written != logits.size() || !closed) Fail("cannot write {}: {}", o.out, std::strerror(errno));
  std::fprintf(stderr, "arkv: wrote %zu x %d float32 logits to %s\n", ids.size(),
               model->config().n_vocab, o.out.c_str());
}

}  // namespace

void AddLogitsCommand(CLI::App& app) {
  auto opts = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "logits", "write the logits of every position of a token sequence (one batch)");
  AddModelFlags(*cmd, opts->model);
  cmd->add_option("--ids", opts->ids_file, "file of token ids (whitespace or comma separated)")
      ->required();
  cmd->add_option("--out", opts->out, "output file: raw float32 [n_tokens][n_vocab]")->required();
  AddKvFlags(*cmd, opts->kv);
  cmd->callback([opts] { RunLogits(*opts); });
}

}  // namespace arkv::cli
