#include "eval/batch_bench.h"

#include <algorithm>
#include <chrono>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "arkv/kv_memory.h"
#include "core/error.h"

namespace arkv::eval {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

EngineConfig MakeEngineConfig(const BatchBenchOptions& o, const EvalConfig& config, int parallel) {
  EngineConfig ec;
  ec.max_sequences = parallel;
  ec.prefill_chunk = o.prefill_chunk;
  ec.kv_budget_bytes = o.kv_total_bytes;
  ec.cache = config.cache;
  ec.cache_reuse = o.warm;
  return ec;
}

// The engine's reservation for one request of the benchmark and how many
// such reservations the budget holds (what admission allows at once).
void PlanPoint(const Model& model, const BatchBenchOptions& o, const Engine& engine, int parallel,
               BatchBenchPoint& p) {
  kv::CacheConfig resolved = engine.config().cache;
  if (resolved.policy != kv::PolicyKind::kFull &&
      resolved.budget.unit == kv::Budget::Unit::kUnlimited) {
    // The engine's share with all P sequences live (0: it cannot hold the window).
    p.share_budget_bytes = engine.SequenceShareBytes(resolved, parallel);
    if (p.share_budget_bytes == 0) return;
    resolved.budget = kv::Budget::Bytes(p.share_budget_bytes);
  }
  p.pages_per_sequence = static_cast<int64_t>(
      kv::MaxPagesHeld(model.cache_shape(), resolved, o.context + o.decode_tokens, o.prefill_chunk,
                       engine.config().page_bytes));
  const size_t max_pages = engine.Stats().max_pages;
  if (max_pages != 0) p.sequences_that_fit = static_cast<int64_t>(max_pages) / p.pages_per_sequence;
}

BatchBenchPoint RunPoint(const Model& model, const BatchBenchOptions& o, const EvalConfig& config,
                         int parallel, ThreadPool& threads) {
  Engine engine(model, threads, MakeEngineConfig(o, config, parallel));
  BatchBenchPoint p;
  p.label = config.label;
  p.parallel = parallel;
  PlanPoint(model, o, engine, parallel, p);
  if (o.plan_only) return p;
  if (config.cache.policy != kv::PolicyKind::kFull &&
      config.cache.budget.unit == kv::Budget::Unit::kUnlimited && p.share_budget_bytes == 0) {
    Fail("{} x{}: a 1/{} share of --kv-total cannot hold the KV window", config.label, parallel,
         parallel);
  }

  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> id(0, model.config().n_vocab - 1);
  struct Timeline {
    double first = 0;
    std::vector<double> token_times;
    int64_t reused_tokens = 0;
  };
  std::vector<Timeline> timelines(parallel);
  std::vector<std::vector<int32_t>> prompts(parallel);
  for (std::vector<int32_t>& prompt : prompts) {
    prompt.resize(o.context);
    for (int32_t& t : prompt) t = id(rng);
  }
  if (o.warm) {
    // Every prompt first, one token each; the measured requests then continue
    // the kept caches (prompt + that token), so all P decode from the start.
    for (int i = 0; i < parallel; ++i) {
      GenerationRequest r;
      r.prompt = prompts[i];
      r.max_tokens = 1;
      r.sampler.temperature = 0;
      r.kv = config.cache;
      std::vector<int32_t>* prompt = &prompts[i];
      r.on_event = [prompt](const StreamEvent& ev) {
        if (!ev.finished) prompt->push_back(ev.token);
      };
      engine.Submit(std::move(r));
    }
    engine.RunUntilIdle();
  }
  const double t0 = Now();
  int64_t kv_bytes = 0;
  for (int i = 0; i < parallel; ++i) {
    GenerationRequest r;
    r.prompt = prompts[i];
    r.max_tokens = o.decode_tokens;
    r.sampler.temperature = 0;
    r.kv = config.cache;
    Timeline* tl = &timelines[i];
    r.on_event = [tl, &kv_bytes](const StreamEvent& ev) {
      if (ev.finished) {
        kv_bytes += static_cast<int64_t>(ev.stats.kv_bytes);
        tl->reused_tokens = ev.stats.reused_tokens;
        return;
      }
      const double t = Now();
      if (tl->token_times.empty()) tl->first = t;
      tl->token_times.push_back(t);
    };
    engine.Submit(std::move(r));
  }
  engine.RunUntilIdle();
  const double end = Now();

  p.seconds = end - t0;
  double all_started = 0, last = 0, ttft_sum = 0;
  for (const Timeline& tl : timelines) {
    all_started = std::max(all_started, tl.first);
    last = std::max(last, tl.token_times.back());
    ttft_sum += tl.first - t0;
    p.ttft_max_seconds = std::max(p.ttft_max_seconds, tl.first - t0);
  }
  p.ttft_mean_seconds = ttft_sum / parallel;
  int64_t decoded = 0;
  for (const Timeline& tl : timelines) {
    decoded += std::count_if(tl.token_times.begin(), tl.token_times.end(),
                             [&](double t) { return t > all_started; });
  }
  p.aggregate_decode_tps = last > all_started ? decoded / (last - all_started) : 0;
  p.per_sequence_decode_tps = p.aggregate_decode_tps / parallel;
  p.kv_bytes = kv_bytes;
  for (const Timeline& tl : timelines) p.reused_tokens += tl.reused_tokens;
  const EngineStats st = engine.Stats();
  p.kv_peak_pool_bytes = static_cast<int64_t>(st.peak_pages_in_use * st.page_bytes);
  return p;
}

}  // namespace

void BatchBenchOptions::Validate() const {
  if (parallel.empty()) Fail("--parallel: no sequence count given");
  for (int p : parallel) {
    if (p < 1) Fail("--parallel: sequence counts must be >= 1 (got {})", p);
  }
  if (context < 1) Fail("--ctx must be >= 1 (got {})", context);
  if (decode_tokens < 2) Fail("--decode-tokens must be >= 2 (got {})", decode_tokens);
  if (prefill_chunk < 1) Fail("--prefill-chunk must be >= 1 (got {})", prefill_chunk);
  if (kv_total_bytes < 0) Fail("--kv-total must be >= 0 (got {})", kv_total_bytes);
}

BatchBenchReport RunBatchBench(const Model& model, const BatchBenchOptions& options,
                               ThreadPool& threads,
                               const std::function<void(const std::string&)>& progress) {
  options.Validate();
  BatchBenchReport report;
  report.options = options;
  report.n_threads = threads.size();
  for (int parallel : options.parallel) {
    // Configurations alternate at each P, so load drifts hit them alike.
    for (const EvalConfig& config : options.configs) {
      if (progress) progress(fmt::format("{} x{}", config.label, parallel));
      report.points.push_back(RunPoint(model, options, config, parallel, threads));
    }
  }
  return report;
}

std::string FormatBatchBenchTable(const BatchBenchReport& r) {
  if (r.options.plan_only) {
    std::string s =
        "| config | parallel | share budget MiB | reserved MiB per request | requests the budget "
        "holds |\n|---|---:|---:|---:|---:|\n";
    for (const BatchBenchPoint& p : r.points) {
      s += fmt::format(
          "| {} | {} | {} | {:.2f} | {} |\n", p.label, p.parallel,
          p.share_budget_bytes > 0 ? fmt::format("{:.2f}", p.share_budget_bytes / 1048576.0) : "-",
          p.pages_per_sequence * static_cast<double>(kv::PagePool::kDefaultPageBytes) / 1048576.0,
          p.sequences_that_fit > 0 ? std::to_string(p.sequences_that_fit) : "-");
    }
    return s;
  }
  std::string s =
      "| config | parallel | aggregate decode tok/s | per-sequence tok/s | TTFT mean s | TTFT max "
      "s "
      "| KV MiB held | pool peak MiB | fit in budget "
      "|\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const BatchBenchPoint& p : r.points) {
    s += fmt::format("| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {} |\n",
                     p.label, p.parallel, p.aggregate_decode_tps, p.per_sequence_decode_tps,
                     p.ttft_mean_seconds, p.ttft_max_seconds, p.kv_bytes / 1048576.0,
                     p.kv_peak_pool_bytes / 1048576.0,
                     p.sequences_that_fit > 0 ? std::to_string(p.sequences_that_fit) : "-");
  }
  return s;
}

std::string BatchBenchJson(const BatchBenchReport& r, const Model& model,
                           const std::string& model_path, const std::string& command_line) {
  nlohmann::json j;
  j["command"] = command_line;
  j["model"] = {{"path", model_path}, {"params", model.n_params()}, {"arch", model.config().arch}};
  j["threads"] = r.n_threads;
  j["context"] = r.options.context;
  j["decode_tokens"] = r.options.decode_tokens;
  j["prefill_chunk"] = r.options.prefill_chunk;
  j["kv_total_bytes"] = r.options.kv_total_bytes;
  j["seed"] = r.options.seed;
  j["plan_only"] = r.options.plan_only;
  j["warm"] = r.options.warm;
  for (const BatchBenchPoint& p : r.points) {
    j["points"].push_back({{"config", p.label},
                           {"parallel", p.parallel},
                           {"aggregate_decode_tps", p.aggregate_decode_tps},
                           {"per_sequence_decode_tps", p.per_sequence_decode_tps},
                           {"ttft_mean_seconds", p.ttft_mean_seconds},
                           {"ttft_max_seconds", p.ttft_max_seconds},
                           {"seconds", p.seconds},
                           {"kv_bytes", p.kv_bytes},
                           {"kv_peak_pool_bytes", p.kv_peak_pool_bytes},
                           {"pages_per_sequence", p.pages_per_sequence},
                           {"share_budget_bytes", p.share_budget_bytes},
                           {"reused_tokens", p.reused_tokens},
                           {"sequences_that_fit", p.sequences_that_fit}});
  }
  return j.dump(2) + "\n";
}

std::vector<PlotPanel> BatchBenchPlotPanels(const BatchBenchReport& r) {
  PlotPanel agg{"aggregate decode throughput", "parallel sequences", "decode tokens/s", {}};
  PlotPanel per{
      "per-sequence decode throughput", "parallel sequences", "tokens/s per sequence", {}};
  for (const BatchBenchPoint& p : r.points) {
    for (PlotPanel* panel : {&agg, &per}) {
      auto it = std::find_if(panel->series.begin(), panel->series.end(),
                             [&](const PlotSeries& s) { return s.name == p.label; });
      if (it == panel->series.end()) {
        panel->series.push_back({p.label, {}});
        it = panel->series.end() - 1;
      }
      it->points.emplace_back(p.parallel,
                              panel == &agg ? p.aggregate_decode_tps : p.per_sequence_decode_tps);
    }
  }
  return {agg, per};
}

}  // namespace arkv::eval
