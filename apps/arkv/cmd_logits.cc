// arkv logits: evaluate a token sequence in one batch and write the logits of
// every position as raw float32 [n_tokens][n_vocab] (the golden files' layout).
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "kv_options.h"
#include "runtime/session.h"

namespace arkv::cli {
namespace {

struct LogitsOptions {
  ModelOptions model;
  KvOptions kv;
  std::string ids_file;
  std::string out;
};

void RunLogits(const LogitsOptions& o) {
  const std::vector<int32_t> ids = ReadIdFile(o.ids_file);
  if (ids.empty()) Fail("{} holds no token ids", o.ids_file);
  std::unique_ptr<Model> model = LoadModel(o.model);
  ThreadPool pool(ThreadCount(o.model));
  Session session(*model, CreateCache(*model, o.kv), pool, static_cast<int>(ids.size()));
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
  AddModelOptions(*cmd, opts->model);
  cmd->add_option("--ids", opts->ids_file, "file of token ids (whitespace or comma separated)")
      ->required();
  cmd->add_option("--out", opts->out, "output file: raw float32 [n_tokens][n_vocab]")->required();
  AddKvOptions(*cmd, opts->kv);
  cmd->callback([opts] { RunLogits(*opts); });
}

}  // namespace arkv::cli
