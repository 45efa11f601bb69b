#include "eval_longbench.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "common.h"
#include "core/error.h"
#include "eval/longbench_data.h"
#include "eval/longbench_datasets.h"
#include "eval/longbench_report.h"
#include "eval/longbench_runner.h"
#include "eval/svg_plot.h"
#include "eval_cli.h"
#include "gguf/gguf.h"
#include "hub/hub.h"
#include "tokenizer/chat_template.h"

namespace arkv::cli {

void RunLongBenchCommand(const ModelFlags& model_opts, const KvFlags& kv,
                         const std::vector<std::string>& policies,
                         const std::vector<std::string>& budgets, int samples,
                         const LongBenchCommandOptions& lb, const std::string& json_file,
                         const std::string& plot_file, bool no_hash) {
  eval::LongBenchOptions o;
  o.policies = policies;
  o.budgets = budgets;
  o.base = kv.BaseConfig();
  o.prefill_chunk = kv.prefill_chunk;
  o.samples = samples;
  o.max_prompt = lb.max_prompt;
  if (lb.datasets.empty() || (lb.datasets.size() == 1 && lb.datasets[0] == "all")) {
    o.datasets = eval::LongBenchDatasetNames(false);
  } else if (lb.datasets.size() == 1 && lb.datasets[0] == "e") {
    o.datasets = eval::LongBenchDatasetNames(true);
  } else {
    o.datasets = lb.datasets;
  }
  for (const std::string& d : o.datasets) {
    eval::FindLongBenchDataset(d);  // unknown names fail before anything loads
  }
  eval::ExpandPolicyBudgets(o.policies, o.budgets, o.base, false);
  if (!lb.chat_template.empty() && lb.chat_template != "none") {
    o.chat = ChatTemplateByName(lb.chat_template);
  }

  const std::string data_dir =
      lb.data.empty() ? eval::EnsureLongBenchData(eval::kLongBenchRepo, hub::DownloadOptions{})
                      : lb.data;
  if (!std::filesystem::is_directory(data_dir)) {
    Fail("--longbench {}: not a folder (it must hold the LongBench .jsonl files)", data_dir);
  }
  eval::LongBenchSamples data;
  for (const std::string& d : o.datasets) {
    data[d] = eval::ReadLongBenchJsonl(eval::LongBenchFilePath(data_dir, d), samples);
  }

  LoadedModel loaded = LoadModel(model_opts, !no_hash);
  const Model& model = *loaded.model;
  auto tokenizer = Tokenizer::FromGguf(model.file());
  if (lb.chat_template.empty()) {
    const std::string text = model.file().GetString("tokenizer.chat_template", "");
    if (text.empty()) {
      std::fprintf(stderr,
                   "arkv eval: the model has no chat template: prompts are given raw (as "
                   "LongBench does for base models; --chat-template to force one)\n");
    } else {
      o.chat = DetectChatTemplate(text, "--chat-template");
    }
  }

  eval::RunInfo info{loaded.path, loaded.sha256, data_dir, ProcessCommandLine(), "arkv 0.1.0"};
  std::vector<eval::LongBenchRecord> resumed;
  {
    eval::LongBenchRun probe;
    probe.options = o;
    const std::string fingerprint = eval::LongBenchFingerprint(probe, info);
    if (!json_file.empty() && std::filesystem::exists(json_file)) {
      resumed = eval::ReadLongBenchResume(ReadTextFile(json_file), fingerprint, json_file);
      std::fprintf(stderr, "arkv eval: resuming from %s (%zu answers done)\n", json_file.c_str(),
                   resumed.size());
    }
  }
  ThreadPool pool(ThreadCount(model_opts));
  std::fprintf(stderr, "arkv eval: LongBench, %zu datasets, chat template %s, %d threads\n",
               o.datasets.size(), o.chat ? o.chat->name.c_str() : "none", pool.size());
  ProgressLine progress("arkv eval: ");
  // Saved at most every 10 s (the document grows with every answer) and at the end.
  auto last_save = std::chrono::steady_clock::now() - std::chrono::hours(1);
  auto save = [&](const eval::LongBenchRun& run) {
    const auto now = std::chrono::steady_clock::now();
    if (json_file.empty() || now - last_save < std::chrono::seconds(10)) {
      return;
    }
    last_save = now;
    // Written beside and renamed, so an interruption never leaves half a file.
    const std::string tmp = json_file + ".tmp";
    WriteTextFile(tmp, eval::LongBenchJson(run, model, info));
    std::filesystem::rename(tmp, json_file);
  };
  const eval::LongBenchRun run = eval::RunLongBench(
      model, *tokenizer, data, o, pool, std::move(resumed),
      [&](const eval::LongBenchProgress& p) { progress.Update(eval::FormatLongBenchProgress(p)); },
      save);
  progress.Finish();
  std::fputs(eval::FormatLongBenchTable(run).c_str(), stdout);
  std::printf("(%.1f s)\n", run.seconds);
  if (!json_file.empty()) {
    last_save = {};
    save(run);
    std::fprintf(stderr, "arkv eval: wrote %s\n", json_file.c_str());
  }
  if (!plot_file.empty()) {
    WriteTextFile(plot_file, eval::RenderSvg(eval::LongBenchPlotPanels(run)));
    std::fprintf(stderr, "arkv eval: wrote %s\n", plot_file.c_str());
  }
}

}  // namespace arkv::cli
