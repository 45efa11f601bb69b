// arkv eval: several KV policies and budgets compared on identical inputs
// (perplexity in decode mode, KL and top-1 against the full cache, retrieval,
// greedy agreement); see docs/EVAL.md.
#include <algorithm>
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "eval/eval_report.h"
#include "eval/eval_runner.h"
#include "eval/retrieval.h"
#include "eval/svg_plot.h"
#include "eval_cli.h"
#include "eval_longbench.h"
#include "kv_flags.h"
#include "model_flags.h"

namespace arkv::cli {
namespace {

struct EvalCommandOptions {
  ModelFlags model;
  KvFlags kv;
  eval::EvalOptions eval;
  std::string text_file;
  std::string haystack_file;
  std::string rule = "decode";
  std::string json_file;
  std::string plot_file;
  bool no_hash = false;
  int samples = -1;  // --samples as given; < 0: the task's default
  LongBenchCommandOptions longbench;
};

void RunEvalCommand(EvalCommandOptions& o) {
  if (o.eval.HasTask("longbench")) {
    if (o.eval.tasks.size() != 1) {
      Fail("--tasks longbench runs alone (give it without ppl, kld, retrieval or agree)");
    }
    RunLongBenchCommand(o.model, o.kv, o.eval.policies, o.eval.budgets, o.samples, o.longbench,
                        o.json_file, o.plot_file, o.no_hash);
    return;
  }
  if (o.samples >= 0) {
    o.eval.retrieval_samples = o.samples;
  }
  o.eval.base = o.kv.BaseConfig();
  o.eval.prefill_chunk = o.kv.prefill_chunk;
  o.eval.rule = eval::ParsePplRule(o.rule);
  o.eval.Validate();
  eval::ExpandConfigs(o.eval);  // reject bad policies and budgets before loading anything
  const bool needs_text = o.eval.HasTask("ppl") || o.eval.HasTask("kld") || o.eval.HasTask("agree");
  if (needs_text && o.text_file.empty()) {
    Fail("tasks ppl, kld and agree need a text: give -f FILE");
  }

  const LoadedModel loaded = LoadModel(o.model, !o.no_hash);
  const Model& model = *loaded.model;
  auto tokenizer = Tokenizer::FromGguf(model.file());
  std::vector<int32_t> tokens;
  if (!o.text_file.empty()) {
    tokens = tokenizer->Encode(ReadTextFile(o.text_file), /*add_special=*/true, false);
  }
  std::vector<std::string> haystack;
  const std::string haystack_source = o.haystack_file.empty() ? o.text_file : o.haystack_file;
  if (o.eval.HasTask("retrieval") && !haystack_source.empty()) {
    haystack = eval::SplitSentences(ReadTextFile(haystack_source), 20000);
  }
  const int n_ctx_train = model.config().n_ctx_train;
  const int longest = std::max(o.eval.HasTask("retrieval") ? o.eval.retrieval_ctx : 0,
                               needs_text ? o.eval.n_ctx : 0);
  if (n_ctx_train > 0 && longest > n_ctx_train) {
    std::fprintf(stderr, "arkv eval: warning: context %d exceeds the model's training context %d\n",
                 longest, n_ctx_train);
  }
  ThreadPool pool(ThreadCount(o.model));
  std::fprintf(stderr, "arkv eval: %s, %zu text tokens, %zu configs, %d threads\n",
               loaded.path.c_str(), tokens.size(), eval::ExpandConfigs(o.eval).size(), pool.size());
  ProgressLine progress("arkv eval: ");
  const eval::EvalReport report =
      eval::RunEval(model, *tokenizer, tokens, haystack, o.eval, pool,
                    [&](const std::string& line) { progress.Update(line); });
  progress.Finish();
  std::fputs(eval::FormatEvalTable(report).c_str(), stdout);
  std::printf("(%.1f s)\n", report.seconds);

  if (!o.json_file.empty()) {
    eval::RunInfo info{loaded.path, loaded.sha256, o.text_file, ProcessCommandLine(), "arkv 0.1.0"};
    WriteTextFile(o.json_file, eval::EvalReportJson(report, model, info));
    std::fprintf(stderr, "arkv eval: wrote %s\n", o.json_file.c_str());
  }
  if (!o.plot_file.empty()) {
    const std::vector<eval::PlotPanel> panels = eval::EvalPlotPanels(report);
    if (panels.empty()) {
      Fail("--plot needs the ppl or kld task (quality against KV bytes)");
    }
    WriteTextFile(o.plot_file, eval::RenderSvg(panels));
    std::fprintf(stderr, "arkv eval: wrote %s\n", o.plot_file.c_str());
  }
}

}  // namespace

void AddEvalCommand(CLI::App& app) {
  auto opts = std::make_shared<EvalCommandOptions>();
  EvalCommandOptions& o = *opts;
  CLI::App* cmd = app.add_subcommand(
      "eval", "compare KV policies and budgets on identical inputs (ppl, kld, retrieval, agree)");
  AddModelFlags(*cmd, o.model);
  cmd->add_option("-f,--file", o.text_file,
                  "text file (ppl, kld, agree; haystack of needle tasks)");
  cmd->add_option("--tasks", o.eval.tasks,
                  "ppl,kld,retrieval,agree (default ppl,kld), or longbench alone")
      ->delimiter(',');
  AddKvFlags(*cmd, o.kv, KvFlagLists{&o.eval.policies, &o.eval.budgets});
  cmd->add_option("-c,--ctx-size", o.eval.n_ctx, "tokens per evaluation window (default 512)")
      ->check(InRange(4, 1 << 20));
  cmd->add_option("--prefix", o.eval.prefix,
                  "tokens prefilled before decode-mode scoring (default ctx/2+1: llama.cpp's "
                  "scored tokens)")
      ->check(AtLeast(0));
  cmd->add_option("--windows", o.eval.windows, "windows of the text to score, 0 = all (default 8)")
      ->check(AtLeast(0));
  cmd->add_option("--rule", o.rule,
                  "perplexity rule: decode (through the cache), chunked (llama-perplexity's "
                  "batched rule) or both (default decode)");
  cmd->add_option("--retrieval", o.eval.retrieval_tasks,
                  "retrieval tasks: passkey,needle,multikey (default all)")
      ->delimiter(',');
  cmd->add_option("--retrieval-ctx", o.eval.retrieval_ctx,
                  "retrieval prompt length in tokens (default 512)");
  cmd->add_option("--depths", o.eval.depths, "needle depths in [0,1] (default 0,0.25,0.5,0.75,1)")
      ->delimiter(',');
  cmd->add_option("--samples", o.samples,
                  "retrieval prompts per task and depth (default 2); longbench: samples per "
                  "dataset (default all)");
  cmd->add_option("--longbench", o.longbench.data,
                  "longbench: folder of LongBench's .jsonl files (default: download "
                  "THUDM/LongBench's data.zip once into the cache)");
  cmd->add_option("--datasets", o.longbench.datasets,
                  "longbench: datasets (default all 21; 'e' for LongBench-E; qasper_e style "
                  "names for single LongBench-E sets)")
      ->delimiter(',');
  cmd->add_option("--max-prompt", o.longbench.max_prompt,
                  "longbench: prompt tokens before middle truncation (default LongBench's for the "
                  "model's context: 3500 at 4k, 7500 at 8k, 15500 at 16k, 31500 at 32k, 120000 "
                  "beyond)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--chat-template", o.longbench.chat_template,
                  "longbench: llama3, llama3.1, chatml, qwen2, qwen2.5, qwen3 or none (default: "
                  "recognized from the model's tokenizer.chat_template)");
  cmd->add_option("--keys", o.eval.n_keys, "multikey: needles per prompt (default 4)");
  cmd->add_option("--haystack", o.haystack_file,
                  "text whose sentences form the needle haystack (default -f, else filler)");
  cmd->add_option("--agree-prompts", o.eval.agree_prompts, "agree: prompts (default 4)");
  cmd->add_option("--agree-tokens", o.eval.agree_tokens,
                  "agree: greedy tokens per prompt (default 64; prompt = ctx - this)");
  cmd->add_option("-s,--seed", o.eval.seed, "seed of the retrieval prompts (default 0)");
  cmd->add_option("--json", o.json_file, "write every number and the configuration as JSON");
  cmd->add_option("--plot", o.plot_file, "write quality against KV bytes as an SVG plot");
  cmd->add_flag("--no-hash", o.no_hash, "do not compute the model's SHA-256 for the JSON");
  cmd->callback([opts] { RunEvalCommand(*opts); });
}

}  // namespace arkv::cli
