// arkv serve: the OpenAI-compatible HTTP server over the batched engine.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "arkv/kv_memory.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "kv_flags.h"
#include "model_flags.h"
#include "runtime/engine.h"
#include "server/completion_service.h"
#include "server/http_server.h"
#include "tokenizer/chat_template.h"

namespace arkv::cli {
namespace {

struct ServeOptions {
  ModelFlags model;
  KvFlags kv;
  SamplerConfig sampler;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;
  int ctx_size = 0;
  std::string api_key;
  std::string chat_template;
  int queue_size = 64;
  bool no_cache_reuse = false;
  std::string alias;
};

// The model's id: --alias, else the file name without its .gguf.
std::string ModelId(const ServeOptions& o, const std::string& path) {
  if (!o.alias.empty()) return o.alias;
  std::string name = std::filesystem::path(path).filename().string();
  if (name.size() > 5 && name.ends_with(".gguf")) name.resize(name.size() - 5);
  return name;
}

ChatTemplate ChooseChatTemplate(const ServeOptions& o, const Model& model) {
  if (!o.chat_template.empty()) {
    try {
      return ChatTemplateByName(o.chat_template);
    } catch (const Error& e) {
      Fail("--chat-template: {}", e.what());
    }
  }
  const std::string text = model.file().GetString("tokenizer.chat_template", "");
  if (text.empty()) {
    std::fprintf(stderr,
                 "arkv serve: the model has no chat template (tokenizer.chat_template): chat "
                 "requests use chatml (--chat-template to choose another)\n");
    return ChatTemplateByName("chatml");
  }
  return DetectChatTemplate(text, "--chat-template");
}

// Blocks SIGINT and SIGTERM in every thread (threads inherit the mask) so
// that RunServe alone receives them with sigwait.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void RunServe(ServeOptions& o, bool seed_given) {
  if (o.parallel < 1) Fail("--parallel must be >= 1, got {}", o.parallel);
  if (o.queue_size < 0) Fail("--queue-size must be >= 0, got {}", o.queue_size);
  if (o.ctx_size < 0) Fail("--ctx-size must be >= 0, got {}", o.ctx_size);
  if (o.port < 0 || o.port > 65535) Fail("--port must be in [0, 65535], got {}", o.port);
  o.sampler.Validate();
  // --kv-budget is the whole pool's here; each sequence gets its share.
  int64_t budget_bytes = 0;
  if (!o.kv.budget.empty()) {
    kv::Budget b;
    try {
      b = kv::ParseBudget(o.kv.budget);
    } catch (const Error& e) {
      Fail("--kv-budget: {}", e.what());
    }
    if (b.unit != kv::Budget::Unit::kBytes) {
      Fail(
          "--kv-budget: the server's budget is the bytes of all caches together, with a unit "
          "(e.g. 2GiB), got '{}'; a request may name a token budget in 'kv_budget'",
          o.kv.budget);
    }
    budget_bytes = b.value;
  }
  // The default policy of a request, checked with a byte budget (the flags
  // demand one for a compressing policy); each sequence's own budget is its
  // share of the pool, set by the engine.
  KvFlags per_sequence = o.kv;
  if (per_sequence.budget.empty()) per_sequence.budget = "1GiB";
  kv::CacheConfig cache = per_sequence.ToConfig();
  cache.budget = kv::Budget::Unlimited();

  const LoadedModel loaded = LoadModel(o.model);
  const Model& model = *loaded.model;
  auto tokenizer = Tokenizer::FromGguf(model.file());
  server::ServerConfig sc;
  sc.model_id = ModelId(o, loaded.path);
  sc.chat_template = ChooseChatTemplate(o, model);
  sc.ctx_size = o.ctx_size > 0 ? o.ctx_size : model.config().n_ctx_train;
  if (sc.ctx_size <= 0) sc.ctx_size = 4096;
  sc.api_key = o.api_key;
  sc.queue_size = o.queue_size;
  sc.sampler = o.sampler;
  sc.random_seed = !seed_given;

  EngineConfig ec;
  ec.max_sequences = o.parallel;
  ec.prefill_chunk = o.kv.prefill_chunk;
  ec.cache = cache;
  ec.cache_reuse = !o.no_cache_reuse;
  if (budget_bytes == 0) {
    // As llama-server: room for --parallel full caches of --ctx-size tokens.
    kv::CacheConfig full;
    full.original = cache.original;
    const size_t pages =
        kv::MaxPagesHeld(model.cache_shape(), full, sc.ctx_size, ec.prefill_chunk, ec.page_bytes);
    budget_bytes = static_cast<int64_t>(pages * ec.page_bytes) * o.parallel;
  }
  ec.kv_budget_bytes = budget_bytes;
  sc.kv_budget_bytes = budget_bytes;

  const sigset_t stop_signals = BlockStopSignals();  // before any thread starts
  ThreadPool threads(ThreadCount(o.model));
  Engine engine(model, threads, ec);
  if (cache.policy != kv::PolicyKind::kFull && cache.budget.unit == kv::Budget::Unit::kUnlimited &&
      engine.SequenceShareBytes(cache) == 0) {
    Fail(
        "--kv-budget: {} shared by --parallel {} leaves a sequence of policy '{}' less than one "
        "prompt chunk of --prefill-chunk {} tokens; raise --kv-budget or lower --parallel or "
        "--prefill-chunk",
        FormatBytes(static_cast<double>(budget_bytes)), o.parallel, kv::PolicyName(cache.policy),
        ec.prefill_chunk);
  }
  server::CompletionService service(engine, model, *tokenizer, sc);
  server::HttpServer http(service);
  const int port = http.Bind(o.host, o.port);
  engine.Start();
  http.Start();
  std::fprintf(stderr,
               "arkv serve: model '%s' (%s), %d parallel, context %d, KV %s (%s per sequence "
               "without a budget of its own), chat template %s, %d threads\n",
               sc.model_id.c_str(), loaded.path.c_str(), o.parallel, sc.ctx_size,
               FormatBytes(static_cast<double>(budget_bytes)).c_str(),
               kv::PolicyName(cache.policy).data(), sc.chat_template.name.c_str(), threads.size());
  std::printf("arkv serve: listening on http://%s:%d\n", o.host.c_str(), port);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "arkv serve: %s: stopping\n",
               signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  http.Stop();
  engine.Stop();
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto opts = std::make_shared<ServeOptions>();
  ServeOptions& o = *opts;
  CLI::App* cmd = app.add_subcommand("serve", "serve the model over an OpenAI-compatible HTTP API");
  AddModelFlags(*cmd, o.model);
  cmd->add_option("--host", o.host, "address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", o.port, "port to listen on; 0 picks a free one (default 8080)");
  cmd->add_option("--parallel", o.parallel, "sequences decoded at once (default 4)");
  cmd->add_option("--ctx-size", o.ctx_size,
                  "tokens of prompt and completion of a full-policy request; also the default "
                  "max_tokens of a compressing policy (default: the model's training context)");
  cmd->add_option("--api-key", o.api_key,
                  "require 'Authorization: Bearer KEY' on every endpoint but /health");
  cmd->add_option("--chat-template", o.chat_template,
                  "force a chat template: llama3, llama3.1, chatml, qwen2, qwen2.5, qwen3 "
                  "(default: recognized from the model's tokenizer.chat_template)");
  cmd->add_option("--queue-size", o.queue_size,
                  "requests that may wait beyond --parallel; more get 503 (default 64)");
  cmd->add_flag("--no-cache-reuse", o.no_cache_reuse,
                "free a finished request's KV cache at once instead of keeping it for a "
                "request that continues the same tokens");
  cmd->add_option("--alias", o.alias, "the model id of the API (default: the GGUF file name)");
  AddSamplerFlags(*cmd, o.sampler);
  AddKvFlags(*cmd, o.kv);
  cmd->get_option("--kv-budget")
      ->description(
          "KV budget of all caches together, in bytes (2GiB); each request gets a --parallel "
          "share (default: --parallel full caches of --ctx-size tokens)");
  cmd->callback([opts, cmd] { RunServe(*opts, cmd->count("--seed") > 0); });
}

}  // namespace arkv::cli
