// arkv bench: prefill and decode throughput per KV policy at chosen context
// lengths on synthetic prompts, with KV bytes and process peak RSS.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "eval/bench_runner.h"
#include "eval/svg_plot.h"
#include "eval_cli.h"
#include "kv_flags.h"
#include "model_flags.h"

namespace arkv::cli {
namespace {

struct BenchCommandOptions {
  ModelFlags model;
  KvFlags kv;
  eval::BenchOptions bench;
  std::string json_file;
  std::string plot_file;
  bool hash = false;
};

void RunBenchCommand(BenchCommandOptions& o) {
  o.bench.base = o.kv.BaseConfig();
  o.bench.prefill_chunk = o.kv.prefill_chunk;
  o.bench.Validate();
  eval::ExpandPolicyBudgets(o.bench.policies, o.bench.budgets, o.bench.base, false);
  const LoadedModel loaded = LoadModel(o.model, o.hash);
  ThreadPool pool(ThreadCount(o.model));
  std::fprintf(stderr, "arkv bench: %s (%.2fB parameters), %d threads\n", loaded.path.c_str(),
               loaded.model->n_params() / 1e9, pool.size());
  ProgressLine progress("arkv bench: ");
  const eval::BenchReport report = eval::RunBench(
      *loaded.model, o.bench, pool, [&](const std::string& line) { progress.Update(line); });
  progress.Finish();
  std::fputs(eval::FormatBenchTable(report).c_str(), stdout);
  if (!o.json_file.empty()) {
    WriteTextFile(o.json_file, eval::BenchReportJson(report, *loaded.model, loaded.path,
                                                     loaded.sha256, ProcessCommandLine()));
    std::fprintf(stderr, "arkv bench: wrote %s\n", o.json_file.c_str());
  }
  if (!o.plot_file.empty()) {
    WriteTextFile(o.plot_file, eval::RenderSvg(eval::BenchPlotPanels(report)));
    std::fprintf(stderr, "arkv bench: wrote %s\n", o.plot_file.c_str());
  }
}

}  // namespace

void AddBenchCommand(CLI::App& app) {
  auto opts = std::make_shared<BenchCommandOptions>();
  BenchCommandOptions& o = *opts;
  CLI::App* cmd = app.add_subcommand(
      "bench", "prefill and decode tokens/s per KV policy at chosen context lengths");
  AddModelFlags(*cmd, o.model);
  cmd->add_option("--ctx", o.bench.contexts, "prompt lengths in tokens (default 512)")
      ->delimiter(',');
  AddKvFlags(*cmd, o.kv, KvFlagLists{&o.bench.policies, &o.bench.budgets});
  cmd->add_option("-n,--decode-tokens", o.bench.decode_tokens,
                  "tokens decoded after each prompt (default 32)");
  cmd->add_option("-r,--repetitions", o.bench.repetitions, "repetitions (default 3)");
  cmd->add_option("-s,--seed", o.bench.seed, "seed of the synthetic prompts (default 0)");
  cmd->add_option("--json", o.json_file, "write every measurement and the configuration as JSON");
  cmd->add_option("--plot", o.plot_file, "write decode tokens/s against context as SVG");
  cmd->add_flag("--hash", o.hash, "record the model's SHA-256 in the JSON");
  cmd->callback([opts] { RunBenchCommand(*opts); });
}

}  // namespace arkv::cli
