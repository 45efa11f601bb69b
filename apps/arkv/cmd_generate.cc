// arkv generate: stream a completion of a prompt, then a one-line summary.
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/log.h"
#include "gguf/gguf.h"
#include "kv_flags.h"
#include "model_flags.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace arkv::cli {
namespace {

struct GenerateOptions {
  ModelFlags model;
  KvFlags kv;
  std::string prompt;
  std::string prompt_file;
  std::string prompt_ids;
  int n_predict = 128;
  bool ignore_eos = false;
  bool no_display_prompt = false;
  SamplerConfig sampler;
};

void RunGenerate(const GenerateOptions& o) {
  const int sources = !o.prompt.empty() + !o.prompt_file.empty() + !o.prompt_ids.empty();
  if (sources > 1) Fail("give only one of -p, -f and --prompt-ids");
  o.sampler.Validate();
  const kv::CacheConfig kv_config = o.kv.ToConfig();  // bad flags fail before loading
  const LoadedModel loaded = LoadModel(o.model);
  const std::unique_ptr<Model>& model = loaded.model;
  auto tokenizer = Tokenizer::FromGguf(model->file());
  std::vector<int32_t> prompt;
  if (!o.prompt_ids.empty()) {
    prompt = ParseIdList(o.prompt_ids);
  } else {
    const std::string text = o.prompt_file.empty() ? o.prompt : ReadTextFile(o.prompt_file);
    prompt = tokenizer->Encode(text, /*add_special=*/true, /*parse_special=*/true);
  }
  if (prompt.empty()) Fail("the prompt is empty: give -p TEXT, -f FILE or --prompt-ids IDS");
  for (int32_t id : prompt) {
    if (id < 0 || id >= model->config().n_vocab) {
      Fail("prompt token id {} is out of range (vocabulary size {})", id, model->config().n_vocab);
    }
  }
  const std::string description = model->file().GetString("general.description", "");
  if (description.find("RANDOM WEIGHTS") != std::string::npos) {
    std::fprintf(stderr,
                 "arkv: note: %s has random weights (arkv make-model); its text is meaningless\n",
                 loaded.path.c_str());
  }
  const int64_t n_total = static_cast<int64_t>(prompt.size()) + o.n_predict;
  if (n_total > model->config().n_ctx_train) {
    std::fprintf(stderr,
                 "arkv: warning: %lld positions exceed the model's training context of %d; "
                 "quality may degrade past it\n",
                 static_cast<long long>(n_total), model->config().n_ctx_train);
  }
  ThreadPool pool(ThreadCount(o.model));
  Session session(*model, kv::CreateSequenceCache(model->cache_shape(), kv_config), pool,
                  o.kv.prefill_chunk);
  Sampler sampler(o.sampler);

  StreamDecoder decoder(*tokenizer);
  if (!o.no_display_prompt) {
    for (int32_t id : prompt) std::fputs(decoder.Push(id).c_str(), stdout);
    std::fflush(stdout);
  }
  std::span<const float> logits = session.Prefill(prompt);
  const int n_vocab = model->config().n_vocab;
  int n_generated = 0;
  for (; n_generated < o.n_predict; ++n_generated) {
    const int32_t next = sampler.Sample(logits.data(), n_vocab);
    if (!o.ignore_eos && tokenizer->IsEndOfGeneration(next)) break;
    std::fputs(decoder.Push(next).c_str(), stdout);
    std::fflush(stdout);
    if (n_generated + 1 < o.n_predict) logits = session.Decode(next);
  }
  std::fputs(decoder.Flush().c_str(), stdout);
  std::fputs("\n", stdout);
  std::fflush(stdout);

  const SessionTimings& t = session.timings();
  std::fprintf(stderr,
               "arkv: prompt %lld tokens (%.1f tok/s) | generated %d tokens (%.1f tok/s) | "
               "KV %s (%s) | %d threads\n",
               static_cast<long long>(t.n_prompt),
               t.prompt_seconds > 0 ? t.n_prompt / t.prompt_seconds : 0.0, n_generated,
               t.decode_seconds > 0 ? t.n_decode / t.decode_seconds : 0.0,
               FormatBytes(static_cast<double>(session.cache().BytesHeld())).c_str(),
               o.kv.Describe().c_str(), pool.size());
  if (o.kv.print_stats) PrintKvStats(session.cache(), stderr);
}

}  // namespace

void AddGenerateCommand(CLI::App& app) {
  auto opts = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "generate text from a prompt (streamed)");
  AddModelFlags(*cmd, opts->model);
  cmd->add_option("-p,--prompt", opts->prompt, "prompt text");
  cmd->add_option("-f,--file", opts->prompt_file, "read the prompt from a file");
  cmd->add_option("--prompt-ids", opts->prompt_ids, "prompt as token ids: 1,2,3");
  cmd->add_option("-n,--n-predict", opts->n_predict, "tokens to generate (default 128)")
      ->check(AtLeast(0));
  cmd->add_flag("--ignore-eos", opts->ignore_eos, "do not stop at end-of-generation tokens");
  cmd->add_flag("--no-display-prompt", opts->no_display_prompt, "print only the generated text");
  AddSamplerFlags(*cmd, opts->sampler);
  AddKvFlags(*cmd, opts->kv);
  cmd->callback([opts] { RunGenerate(*opts); });
}

}  // namespace arkv::cli
