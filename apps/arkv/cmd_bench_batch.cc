// arkv bench-batch: the batched engine's decode throughput, time to first
// token and KV memory against the number of parallel sequences.
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "eval/batch_bench.h"
#include "eval/svg_plot.h"
#include "eval_cli.h"
#include "kv_flags.h"
#include "model_flags.h"

namespace arkv::cli {
namespace {

struct BenchBatchOptions {
  ModelFlags model;
  KvFlags kv;
  std::vector<std::string> policies = {"full", "arkv"};
  std::vector<std::string> budgets = {"256"};
  std::string kv_total;
  eval::BatchBenchOptions bench;
  std::string json_file;
  std::string plot_file;
};

void RunBenchBatch(BenchBatchOptions& o) {
  o.bench.prefill_chunk = o.kv.prefill_chunk;
  if (!o.kv_total.empty()) {
    const kv::Budget total = kv::ParseBudget(o.kv_total);
    if (total.unit != kv::Budget::Unit::kBytes) {
      Fail("--kv-total must be bytes with a unit (e.g. 2GiB), got '{}'", o.kv_total);
    }
    o.bench.kv_total_bytes = total.value;
  }
  // "share": the engine's share of --kv-total among the live sequences.
  std::vector<std::string> budgets;
  bool share = false;
  for (const std::string& b : o.budgets) {
    if (b == "share") {
      share = true;
    } else {
      budgets.push_back(b);
    }
  }
  std::vector<std::string> policies = o.policies;
  if (budgets.empty()) {
    std::erase_if(policies, [](const std::string& p) { return p != "full"; });
  }
  if (!policies.empty()) {
    o.bench.configs = eval::ExpandPolicyBudgets(policies, budgets, o.kv.BaseConfig(), false);
  }
  if (share) {
    if (o.bench.kv_total_bytes == 0) Fail("--kv-budget share needs --kv-total");
    for (const std::string& name : o.policies) {
      const kv::PolicyKind kind = kv::ParsePolicyKind(name);
      if (kind == kv::PolicyKind::kFull) continue;
      eval::EvalConfig c{std::string(kv::PolicyName(kind)) + "@share", "share", o.kv.BaseConfig()};
      c.cache.policy = kind;
      c.cache.budget = kv::Budget::Unlimited();
      o.bench.configs.push_back(c);
    }
  }
  o.bench.Validate();
  const LoadedModel loaded = LoadModel(o.model);
  ThreadPool threads(ThreadCount(o.model));
  std::fprintf(stderr, "arkv bench-batch: %s (%.2fB parameters), %d threads\n", loaded.path.c_str(),
               loaded.model->n_params() / 1e9, threads.size());
  ProgressLine progress("arkv bench-batch: ");
  const eval::BatchBenchReport report = eval::RunBatchBench(
      *loaded.model, o.bench, threads, [&](const std::string& line) { progress.Update(line); });
  progress.Finish();
  std::fputs(eval::FormatBatchBenchTable(report).c_str(), stdout);
  if (!o.json_file.empty()) {
    WriteTextFile(o.json_file,
                  eval::BatchBenchJson(report, *loaded.model, loaded.path, ProcessCommandLine()));
    std::fprintf(stderr, "arkv bench-batch: wrote %s\n", o.json_file.c_str());
  }
  if (!o.plot_file.empty()) {
    WriteTextFile(o.plot_file, eval::RenderSvg(eval::BatchBenchPlotPanels(report)));
    std::fprintf(stderr, "arkv bench-batch: wrote %s\n", o.plot_file.c_str());
  }
}

}  // namespace

void AddBenchBatchCommand(CLI::App& app) {
  auto opts = std::make_shared<BenchBatchOptions>();
  BenchBatchOptions& o = *opts;
  CLI::App* cmd = app.add_subcommand(
      "bench-batch",
      "batched engine: decode tokens/s and time to first token against parallel sequences");
  AddModelFlags(*cmd, o.model);
  cmd->add_option("--parallel", o.bench.parallel, "parallel sequences (default 1,2,4,8,16)")
      ->delimiter(',');
  cmd->add_option("--ctx", o.bench.context, "prompt tokens of each sequence (default 128)");
  AddKvFlags(*cmd, o.kv, KvFlagLists{&o.policies, &o.budgets});
  cmd->add_option(
      "--kv-total", o.kv_total,
      "the engine's KV budget in bytes for all sequences (e.g. 2GiB; default unlimited); "
      "--kv-budget share gives each compressing sequence the pool over the live ones");
  cmd->add_option("-n,--decode-tokens", o.bench.decode_tokens,
                  "tokens generated per sequence (default 32)");
  cmd->add_option("-s,--seed", o.bench.seed, "seed of the synthetic prompts (default 0)");
  cmd->add_flag("--warm", o.bench.warm,
                "prefill every prompt first, then time all sequences decoding at once from "
                "their kept caches");
  cmd->add_flag("--plan-only", o.bench.plan_only,
                "run nothing: print how many such requests the --kv-total budget admits at once");
  cmd->add_option("--json", o.json_file, "write every measurement and the configuration as JSON");
  cmd->add_option("--plot", o.plot_file, "write decode tokens/s against parallel sequences as SVG");
  cmd->callback([opts] { RunBenchBatch(*opts); });
}

}  // namespace arkv::cli
