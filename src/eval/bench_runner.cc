#include "eval/bench_runner.h"

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/eval_report.h"
#include "runtime/logit_scan.h"
#include "runtime/session.h"

namespace arkv::eval {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void BenchOptions::Validate() const {
  if (contexts.empty()) {
    Fail("no context length to benchmark");
  }
  for (int c : contexts) {
    if (c < 1) {
      Fail("context length must be >= 1 (got {})", c);
    }
  }
  if (decode_tokens < 1) {
    Fail("decode tokens must be >= 1 (got {})", decode_tokens);
  }
  if (repetitions < 1) {
    Fail("repetitions must be >= 1 (got {})", repetitions);
  }
  if (prefill_chunk < 1) {
    Fail("prefill chunk must be >= 1 (got {})", prefill_chunk);
  }
}

int64_t PeakRssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream ss(line.substr(6));
      int64_t kib = 0;
      ss >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) {
    return false;
  }
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

BenchReport RunBench(const Model& model, const BenchOptions& o, ThreadPool& pool,
                     const BenchProgress& progress) {
  o.Validate();
  const double t0 = Now();
  BenchReport report;
  report.options = o;
  report.n_threads = pool.size();
  const std::vector<EvalConfig> configs = ExpandPolicyBudgets(o.policies, o.budgets, o.base, false);
  const int n_vocab = model.config().n_vocab;
  const int total = static_cast<int>(o.contexts.size() * configs.size());
  int done = 0;
  for (int context : o.contexts) {
    // The same synthetic prompt for every configuration at this context.
    std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(context));
    std::vector<int32_t> prompt(context);
    for (int32_t& t : prompt) {
      t = static_cast<int32_t>(rng() % static_cast<uint64_t>(n_vocab));
    }
    for (const EvalConfig& c : configs) {
      BenchPoint pt;
      pt.label = c.label;
      pt.budget = c.budget;
      pt.cache = c.cache;
      pt.context = context;
      pt.rss_reset = ResetPeakRss();
      Session session(model, kv::CreateSequenceCache(model.cache_shape(), c.cache), pool,
                      o.prefill_chunk);
      for (int rep = 0; rep < o.repetitions; ++rep) {
        session.Reset();
        double t = Now();
        std::span<const float> logits = session.Prefill(prompt);
        pt.prefill_tps.push_back(context / (Now() - t));
        int32_t token = Argmax(logits.data(), n_vocab);
        t = Now();
        for (int i = 0; i < o.decode_tokens; ++i) {
          logits = session.Decode(token);
          token = Argmax(logits.data(), n_vocab);
        }
        pt.decode_tps.push_back(o.decode_tokens / (Now() - t));
        const kv::CacheStats st = session.cache().Stats();
        pt.kv_bytes = st.bytes;
        pt.kv_pool_bytes = st.pool_bytes;
        pt.kv_peak_bytes = std::max(pt.kv_peak_bytes, st.peak_bytes);
      }
      pt.prefill = SpreadOf(pt.prefill_tps);
      pt.decode = SpreadOf(pt.decode_tps);
      pt.peak_rss_bytes = PeakRssBytes();
      report.points.push_back(pt);
      ++done;
      if (progress) {
        progress(fmt::format("bench {}/{}: {} at {} tokens: decode {:.2f} tok/s", done, total,
                             c.label, context, pt.decode.median));
      }
    }
  }
  report.seconds = Now() - t0;
  return report;
}

std::string FormatBenchTable(const BenchReport& r) {
  std::string head = fmt::format("{:<16} {:>7} {:>24} {:>24} {:>10} {:>10} {:>10} {:>10}", "config",
                                 "context", "prefill tok/s (min-max)", "decode tok/s (min-max)",
                                 "KV KiB", "pool KiB", "peak KiB", "RSS MiB");
  std::string out = head + "\n" + std::string(head.size(), '-') + "\n";
  for (const BenchPoint& p : r.points) {
    out += fmt::format(
        "{:<16} {:>7} {:>24} {:>24} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.1f}\n", p.label, p.context,
        fmt::format("{:.1f} ({:.1f}-{:.1f})", p.prefill.median, p.prefill.min, p.prefill.max),
        fmt::format("{:.2f} ({:.2f}-{:.2f})", p.decode.median, p.decode.min, p.decode.max),
        p.kv_bytes / 1024.0, p.kv_pool_bytes / 1024.0, p.kv_peak_bytes / 1024.0,
        p.peak_rss_bytes / 1048576.0);
  }
  out += fmt::format(
      "\n{} repetitions, median (min-max); decode: {} tokens after the prompt; {} threads; RSS: "
      "process peak {}\n",
      r.options.repetitions, r.options.decode_tokens, r.n_threads,
      r.points.empty() || r.points[0].rss_reset ? "since the start of each row"
                                                : "since the start of the process");
  return out;
}

std::string BenchReportJson(const BenchReport& r, const Model& model, const std::string& model_path,
                            const std::string& model_sha256, const std::string& command_line) {
  using nlohmann::json;
  const ModelConfig& mc = model.config();
  json doc;
  doc["command_line"] = command_line;
  doc["model"] = {{"path", model_path},      {"sha256", model_sha256},
                  {"arch", mc.arch},         {"n_params", model.n_params()},
                  {"n_layers", mc.n_layers}, {"n_kv_heads", mc.n_kv_heads},
                  {"head_dim", mc.head_dim}};
  doc["config"] = {{"contexts", r.options.contexts},
                   {"policies", r.options.policies},
                   {"budgets", r.options.budgets},
                   {"decode_tokens", r.options.decode_tokens},
                   {"repetitions", r.options.repetitions},
                   {"prefill_chunk", r.options.prefill_chunk},
                   {"seed", r.options.seed},
                   {"threads", r.n_threads},
                   {"base_cache", json::parse(CacheConfigJson(r.options.base))}};
  json points = json::array();
  for (const BenchPoint& p : r.points) {
    auto spread = [](const Spread& s, const std::vector<double>& v) {
      return json{{"median", s.median}, {"min", s.min}, {"max", s.max}, {"samples", v}};
    };
    points.push_back({{"label", p.label},
                      {"budget", p.budget},
                      {"cache", json::parse(CacheConfigJson(p.cache))},
                      {"context", p.context},
                      {"prefill_tokens_per_s", spread(p.prefill, p.prefill_tps)},
                      {"decode_tokens_per_s", spread(p.decode, p.decode_tps)},
                      {"kv_bytes", p.kv_bytes},
                      {"kv_peak_bytes", p.kv_peak_bytes},
                      {"kv_pool_bytes", p.kv_pool_bytes},
                      {"peak_rss_bytes", p.peak_rss_bytes},
                      {"peak_rss_per_point", p.rss_reset}});
  }
  doc["points"] = points;
  doc["seconds"] = r.seconds;
  return doc.dump(2) + "\n";
}

std::vector<PlotPanel> BenchPlotPanels(const BenchReport& r) {
  PlotPanel decode{"decode throughput", "context length (tokens)", "decode tokens/s", {}};
  PlotPanel kv{"KV cache held after decoding", "context length (tokens)", "KV MiB", {}};
  for (const BenchPoint& p : r.points) {
    auto find = [&](PlotPanel& panel) -> PlotSeries& {
      for (PlotSeries& s : panel.series) {
        if (s.name == p.label) {
          return s;
        }
      }
      panel.series.push_back({p.label, {}});
      return panel.series.back();
    };
    find(decode).points.emplace_back(p.context, p.decode.median);
    find(kv).points.emplace_back(p.context, p.kv_bytes / 1048576.0);
  }
  return {decode, kv};
}

}  // namespace arkv::eval
