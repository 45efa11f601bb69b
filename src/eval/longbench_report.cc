#include "eval/longbench_report.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/longbench_zh_words.h"

namespace arkv::eval {
namespace {

using nlohmann::json;

json Num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string_view LengthBucket(int64_t length) {
  return length < 4000 ? "0-4k" : length < 8000 ? "4-8k" : "8k+";
}

// eval.py rounds each dataset's score to 2 decimals.
double Round2(double v) { return std::round(v * 100.0) / 100.0; }

}  // namespace

LongBenchSummary SummarizeLongBench(const LongBenchRun& run) {
  LongBenchSummary s;
  for (const EvalConfig& c : run.configs) {
    s.configs.push_back(c.label);
  }
  struct Sum {
    int n = 0;
    double score = 0.0, bytes = 0.0;
  };
  std::map<std::string, std::map<std::string, Sum>> sums;
  std::map<std::string, std::map<std::string, std::map<std::string, Sum>>> bucket_sums;
  std::map<std::string, Sum> bytes;
  const std::set<std::string> selected(run.options.datasets.begin(), run.options.datasets.end());
  for (const LongBenchRecord& r : run.records) {
    // A resumed file may hold answers this invocation did not ask for.
    if (!selected.count(r.dataset) || (run.options.samples > 0 && r.index >= run.options.samples)) {
      continue;
    }
    Sum& cell = sums[r.config][r.dataset];
    ++cell.n;
    cell.score += r.score;
    cell.bytes += r.kv_bytes;
    ++bytes[r.config].n;
    bytes[r.config].bytes += r.kv_bytes;
    if (IsLongBenchE(r.dataset)) {
      Sum& b = bucket_sums[r.config][r.dataset][std::string(LengthBucket(r.length))];
      ++b.n;
      b.score += r.score;
    }
  }
  for (const std::string& d : run.options.datasets) {
    const bool any = std::any_of(s.configs.begin(), s.configs.end(),
                                 [&](const std::string& c) { return sums[c].count(d) != 0; });
    if (any) {
      s.datasets.push_back(d);
    }
  }
  for (const std::string& c : s.configs) {
    double total = 0.0;
    int n_datasets = 0;
    std::map<std::string, std::pair<double, int>> types;
    for (const std::string& d : s.datasets) {
      const auto it = sums[c].find(d);
      if (it == sums[c].end()) {
        continue;
      }
      LongBenchCell cell{it->second.n, Round2(100.0 * it->second.score / it->second.n),
                         it->second.bytes / it->second.n};
      s.cells[c][d] = cell;
      total += cell.score;
      ++n_datasets;
      auto& t = types[std::string(TaskTypeName(FindLongBenchDataset(d).task_type))];
      t.first += cell.score;
      ++t.second;
    }
    for (const auto& [type, sum] : types) {
      s.task_types[c][type] = sum.first / sum.second;
    }
    s.average[c] = n_datasets > 0 ? total / n_datasets : std::nan("");
    s.kv_bytes[c] = bytes[c].n > 0 ? bytes[c].bytes / bytes[c].n : std::nan("");
    for (const auto& [d, buckets] : bucket_sums[c]) {
      for (const auto& [name, sum] : buckets) {
        s.length_buckets[c][d][name] = LongBenchCell{sum.n, Round2(100.0 * sum.score / sum.n), 0.0};
      }
    }
  }
  return s;
}

std::string FormatLongBenchTable(const LongBenchRun& run) {
  const LongBenchSummary s = SummarizeLongBench(run);
  std::string out;
  std::string head = fmt::format("{:<22}", "dataset");
  for (const std::string& c : s.configs) {
    head += fmt::format(" {:>12}", c);
  }
  out += head + "\n" + std::string(head.size(), '-') + "\n";
  auto row = [&](const std::string& label, auto value) {
    std::string line = fmt::format("{:<22}", label);
    for (const std::string& c : s.configs) {
      const double v = value(c);
      line += std::isfinite(v) ? fmt::format(" {:>12.2f}", v) : fmt::format(" {:>12}", "-");
    }
    out += line + "\n";
  };
  bool any_zh = false;
  for (const std::string& d : s.datasets) {
    const LongBenchDataset& ds = FindLongBenchDataset(d);
    any_zh |= ds.metric == LongBenchMetric::kQaF1Zh || ds.metric == LongBenchMetric::kRougeZh;
    int n = 0;
    for (const std::string& c : s.configs) {
      if (s.cells.count(c) && s.cells.at(c).count(d)) {
        n = std::max(n, s.cells.at(c).at(d).n);
      }
    }
    row(fmt::format("{} (n={})", d, n), [&](const std::string& c) {
      const auto it = s.cells.find(c);
      return it != s.cells.end() && it->second.count(d) ? it->second.at(d).score : std::nan("");
    });
  }
  out += std::string(head.size(), '-') + "\n";
  for (LongBenchTaskType type : AllTaskTypes()) {
    const std::string name(TaskTypeName(type));
    const bool present = std::any_of(s.configs.begin(), s.configs.end(), [&](const auto& c) {
      return s.task_types.count(c) && s.task_types.at(c).count(name);
    });
    if (present) {
      row(name, [&](const std::string& c) {
        const auto it = s.task_types.find(c);
        return it != s.task_types.end() && it->second.count(name) ? it->second.at(name)
                                                                  : std::nan("");
      });
    }
  }
  row("average", [&](const std::string& c) { return s.average.at(c); });
  row("KV KiB held", [&](const std::string& c) { return s.kv_bytes.at(c) / 1024.0; });
  const auto full = std::find(s.configs.begin(), s.configs.end(), "full");
  if (full != s.configs.end()) {
    row("% of full score",
        [&](const std::string& c) { return 100.0 * s.average.at(c) / s.average.at(*full); });
    row("x less KV than full",
        [&](const std::string& c) { return s.kv_bytes.at(*full) / s.kv_bytes.at(c); });
  }
  for (const auto& [c, datasets] : s.length_buckets) {
    for (const auto& [d, buckets] : datasets) {
      std::string line = fmt::format("LongBench-E {} {}:", c, d);
      for (const auto& [name, cell] : buckets) {
        line += fmt::format(" {} {:.2f} (n={})", name, cell.score, cell.n);
      }
      out += line + "\n";
    }
  }
  int truncated = 0, answers = 0;
  for (const LongBenchRecord& r : run.records) {
    truncated += r.truncated ? 1 : 0;
    ++answers;
  }
  out += fmt::format(
      "\nscores: mean over samples x 100 (LongBench's metrics); KV KiB = mean bytes held after "
      "each answer; {} of {} answers had their prompt truncated in the middle\n",
      truncated, answers);
  if (any_zh) {
    out += std::string(ChineseSegmenterNote()) + "\n";
  }
  return out;
}

std::string LongBenchFingerprint(const LongBenchRun& run, const RunInfo& info) {
  const LongBenchOptions& o = run.options;
  json f = {{"model", info.model_sha256.empty() ? info.model_path : info.model_sha256},
            {"max_prompt", o.max_prompt},
            {"chat_template", o.chat ? o.chat->name : "none"},
            {"base_cache", json::parse(CacheConfigJson(o.base))},
            {"prefill_chunk", o.prefill_chunk}};
  return f.dump();
}

std::string LongBenchJson(const LongBenchRun& run, const Model& model, const RunInfo& info) {
  const LongBenchSummary s = SummarizeLongBench(run);
  const ModelConfig& mc = model.config();
  json doc;
  doc["arkv_version"] = info.version;
  doc["command_line"] = info.command_line;
  doc["task"] = "longbench";
  doc["fingerprint"] = json::parse(LongBenchFingerprint(run, info));
  doc["model"] = {
      {"path", info.model_path}, {"sha256", info.model_sha256},  {"arch", mc.arch},
      {"name", mc.name},         {"n_params", model.n_params()}, {"n_ctx_train", mc.n_ctx_train}};
  json configs = json::array();
  for (const EvalConfig& c : run.configs) {
    configs.push_back({{"label", c.label},
                       {"budget", c.budget},
                       {"cache", json::parse(CacheConfigJson(c.cache))}});
  }
  doc["config"] = {{"data", info.text_path},
                   {"datasets", run.options.datasets},
                   {"samples", run.options.samples},
                   {"max_prompt", run.options.max_prompt},
                   {"chat_template", run.options.chat ? run.options.chat->name : "none"},
                   {"policies", run.options.policies},
                   {"budgets", run.options.budgets},
                   {"prefill_chunk", run.options.prefill_chunk},
                   {"threads", run.n_threads},
                   {"configs", configs}};
  json results = json::array();
  for (const std::string& c : s.configs) {
    json datasets = json::object();
    if (s.cells.count(c)) {
      for (const auto& [d, cell] : s.cells.at(c)) {
        datasets[d] = {{"score", cell.score}, {"n", cell.n}, {"kv_bytes_mean", Num(cell.kv_bytes)}};
        if (s.length_buckets.count(c) && s.length_buckets.at(c).count(d)) {
          for (const auto& [name, b] : s.length_buckets.at(c).at(d)) {
            datasets[d]["length_buckets"][name] = {{"score", b.score}, {"n", b.n}};
          }
        }
      }
    }
    json types = json::object();
    if (s.task_types.count(c)) {
      for (const auto& [t, v] : s.task_types.at(c)) {
        types[t] = Num(v);
      }
    }
    results.push_back({{"label", c},
                       {"datasets", datasets},
                       {"task_types", types},
                       {"average", Num(s.average.at(c))},
                       {"kv_bytes_mean", Num(s.kv_bytes.at(c))}});
  }
  doc["results"] = results;
  json records = json::array();
  for (const LongBenchRecord& r : run.records) {
    records.push_back({{"config", r.config},
                       {"dataset", r.dataset},
                       {"index", r.index},
                       {"_id", r.id},
                       {"prediction", r.prediction},
                       {"score", r.score},
                       {"prompt_tokens", r.prompt_tokens},
                       {"raw_prompt_tokens", r.raw_prompt_tokens},
                       {"truncated", r.truncated},
                       {"generated_tokens", r.generated_tokens},
                       {"kv_bytes", r.kv_bytes},
                       {"seconds", r.seconds},
                       {"length", r.length}});
  }
  doc["samples"] = records;
  doc["seconds"] = run.seconds;
  // Predictions may hold bytes that are not UTF-8 (a model cut mid-character).
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::vector<LongBenchRecord> ReadLongBenchResume(const std::string& text,
                                                 const std::string& fingerprint,
                                                 const std::string& path) {
  const json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || doc.value("task", "") != "longbench" || !doc.contains("samples") ||
      !doc["samples"].is_array()) {
    Fail("{} is not the JSON of an arkv LongBench run; give another --json file to start afresh",
         path);
  }
  const json expected = json::parse(fingerprint);
  const json found = doc.value("fingerprint", json::object());
  for (const auto& [key, value] : expected.items()) {
    if (!found.contains(key) || found[key] != value) {
      Fail(
          "{} holds a run with a different {} ({} there, {} now); remove it or give another "
          "--json file",
          path, key, found.contains(key) ? found[key].dump() : "none", value.dump());
    }
  }
  std::vector<LongBenchRecord> records;
  try {
    for (const json& e : doc["samples"]) {
      LongBenchRecord r;
      r.config = e.at("config").get<std::string>();
      r.dataset = e.at("dataset").get<std::string>();
      r.index = e.at("index").get<int>();
      r.id = e.at("_id").get<std::string>();
      r.prediction = e.at("prediction").get<std::string>();
      r.score = e.at("score").get<double>();
      r.prompt_tokens = e.at("prompt_tokens").get<int>();
      r.raw_prompt_tokens = e.at("raw_prompt_tokens").get<int>();
      r.truncated = e.at("truncated").get<bool>();
      r.generated_tokens = e.at("generated_tokens").get<int>();
      r.kv_bytes = e.at("kv_bytes").get<double>();
      r.seconds = e.at("seconds").get<double>();
      r.length = e.at("length").get<int64_t>();
      records.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    Fail("{}: malformed sample record: {}", path, e.what());
  }
  return records;
}

std::vector<PlotPanel> LongBenchPlotPanels(const LongBenchRun& run) {
  const LongBenchSummary s = SummarizeLongBench(run);
  std::vector<std::string> order;
  std::map<std::string, PlotSeries> series;
  for (const EvalConfig& c : run.configs) {
    const std::string policy(kv::PolicyName(c.cache.policy));
    if (!series.count(policy)) {
      order.push_back(policy);
      series[policy].name = policy;
    }
    series[policy].points.emplace_back(s.kv_bytes.at(c.label) / 1024.0, s.average.at(c.label));
  }
  PlotPanel panel{"LongBench average score", "KV cache held (KiB)", "average score", {}};
  for (const std::string& p : order) {
    panel.series.push_back(series[p]);
  }
  return {panel};
}

}  // namespace arkv::eval
