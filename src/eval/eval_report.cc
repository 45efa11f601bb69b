#include "eval/eval_report.h"

#include <cmath>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/model.h"

namespace arkv::eval {
namespace {

using nlohmann::json;

std::string Kib(double bytes) { return fmt::format("{:.1f}", bytes / 1024.0); }

// NaN and infinities are not JSON numbers: null instead.
json Num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json CacheConfigObject(const kv::CacheConfig& c) {
  return {
      {"policy", kv::PolicyName(c.policy)},
      {"budget",
       {{"unit", c.budget.unit == kv::Budget::Unit::kTokens  ? "tokens"
                 : c.budget.unit == kv::Budget::Unit::kBytes ? "bytes"
                                                             : "unlimited"},
        {"value", c.budget.value},
        {"text", kv::FormatBudget(c.budget)}}},
      {"window", c.window},
      {"sinks", c.sinks},
      {"tau1", c.tau1},
      {"tau2", c.tau2},
      {"tau3", c.tau3},
      {"gamma", c.gamma},
      {"keep_fraction", c.keep_fraction},
      {"pool_kernel", c.pool_kernel},
      {"original", c.original == kv::OriginalType::kF16 ? "f16" : "f32"},
      {"quant", kv::QuantTypeName(c.quant)},
  };
}

json SummaryObject(const Summary& s) {
  return {{"n", s.n}, {"mean", Num(s.mean)}, {"p99", Num(s.p99)}, {"max", Num(s.max)}};
}

}  // namespace

std::string CacheConfigJson(const kv::CacheConfig& config) {
  return CacheConfigObject(config).dump();
}

std::string FormatEvalTable(const EvalReport& r) {
  const PolicyResult* ref = r.reference >= 0 ? &r.results[r.reference] : nullptr;
  const bool has_decode = !r.results.empty() && r.results[0].decode.has_value();
  const bool has_kl = has_decode && ref != nullptr && r.options.HasTask("kld");
  const bool has_ppl = has_decode && r.options.HasTask("ppl");
  const bool has_chunked = !r.results.empty() && r.results[0].chunked.has_value();
  const bool has_retrieval = !r.results.empty() && !r.results[0].retrieval.empty();
  const bool has_agree = !r.results.empty() && r.results[0].agree.has_value();

  std::string out;
  std::string head = fmt::format("{:<16} {:>10} {:>6}", "config", "KV KiB", "x full");
  if (has_decode) {
    head += fmt::format(" {:>8} {:>8} {:>8} {:>10}", "pool KiB", "O tok", "Q tok", "peak KiB");
  }
  if (has_ppl) {
    head += fmt::format(" {:>9} {:>8}", "ppl", "dppl %");
  }
  if (has_kl) {
    head += fmt::format(" {:>9} {:>9} {:>9} {:>7}", "KL mean", "KL p99", "KL max", "top1 %");
  }
  if (has_chunked) {
    head += fmt::format(" {:>11}", "chunked ppl");
  }
  if (has_retrieval) {
    head += fmt::format(" {:>7}", "retr %");
  }
  if (has_agree) {
    head += fmt::format(" {:>8} {:>8}", "agree", "exact %");
  }
  out += head + "\n" + std::string(head.size(), '-') + "\n";
  for (const PolicyResult& p : r.results) {
    std::string line = fmt::format("{:<16}", p.config.label);
    const double bytes = p.MeanKvBytes();
    const double ratio = ref != nullptr && bytes > 0 ? ref->MeanKvBytes() / bytes : std::nan("");
    line += fmt::format(" {:>10} {:>6.2f}", Kib(bytes), ratio);
    if (has_decode) {
      const PolicyScore& d = *p.decode;
      line += fmt::format(" {:>8} {:>8.0f} {:>8.0f} {:>10}", Kib(d.mean_final_pool_bytes),
                          d.mean_original_tokens, d.mean_quantized_tokens,
                          Kib(static_cast<double>(d.peak_bytes)));
      if (has_ppl) {
        const double rel = ref != nullptr ? 100.0 * (d.ppl / ref->decode->ppl - 1.0) : std::nan("");
        line += fmt::format(" {:>9.4f} {:>+8.2f}", d.ppl, rel);
      }
      if (has_kl) {
        line += fmt::format(" {:>9.5f} {:>9.5f} {:>9.5f} {:>7.2f}", d.kl.mean, d.kl.p99, d.kl.max,
                            100.0 * d.top1_agreement);
      }
    }
    if (has_chunked) {
      line += fmt::format(" {:>11.4f}", p.chunked->ppl);
    }
    if (has_retrieval) {
      line += fmt::format(" {:>7.1f}", 100.0 * p.RetrievalAccuracy());
    }
    if (has_agree) {
      line += fmt::format(" {:>8.1f} {:>8.1f}", p.agree->mean_prefix, 100.0 * p.agree->exact_rate);
    }
    out += line + "\n";
  }
  if (has_retrieval) {
    out += "\nretrieval exact match (correct/n) by task and depth:\n";
    std::string h = fmt::format("{:<16}", "config");
    for (const RetrievalCell& c : r.results[0].retrieval) {
      h += fmt::format(" {:>12}", fmt::format("{}@{:g}", c.task, c.depth));
    }
    out += h + "\n";
    for (const PolicyResult& p : r.results) {
      std::string line = fmt::format("{:<16}", p.config.label);
      for (const RetrievalCell& c : p.retrieval) {
        line += fmt::format(" {:>12}", fmt::format("{}/{}", c.correct, c.n));
      }
      out += line + "\n";
    }
  }
  if (has_decode) {
    const PolicyScore& d = *r.results[0].decode;
    out += fmt::format(
        "\n{} scored tokens per config (decode mode: context {}, prefix {}); KV KiB = mean bytes "
        "held after each window's last token (K/V, scales, positions), pool KiB = the pages "
        "behind them; KL = KL(full || config) in nats per token\n",
        d.n_scored, r.options.n_ctx, ResolvePrefix({r.options.n_ctx, r.options.prefix, 0, -1}));
  }
  if (!has_decode && (has_agree || has_retrieval)) {
    out += fmt::format("\nKV KiB = mean bytes held at the end of each {}\n",
                       has_agree ? "agree generation" : "retrieval answer");
  }
  return out;
}

std::string EvalReportJson(const EvalReport& r, const Model& model, const RunInfo& info) {
  const EvalOptions& o = r.options;
  const ModelConfig& mc = model.config();
  json doc;
  doc["arkv_version"] = info.version;
  doc["command_line"] = info.command_line;
  doc["model"] = {
      {"path", info.model_path}, {"sha256", info.model_sha256},  {"arch", mc.arch},
      {"name", mc.name},         {"n_params", model.n_params()}, {"n_layers", mc.n_layers},
      {"n_heads", mc.n_heads},   {"n_kv_heads", mc.n_kv_heads},  {"head_dim", mc.head_dim},
      {"n_vocab", mc.n_vocab}};
  json configs = json::array();
  for (const PolicyResult& p : r.results) {
    configs.push_back({{"label", p.config.label},
                       {"budget", p.config.budget},
                       {"cache", CacheConfigObject(p.config.cache)}});
  }
  json retrieval_depths = json::array();
  for (double d : o.depths) {
    retrieval_depths.push_back(d);
  }
  doc["config"] = {
      {"text", info.text_path},
      {"n_text_tokens", r.n_text_tokens},
      {"tasks", o.tasks},
      {"policies", o.policies},
      {"budgets", o.budgets},
      {"seed", o.seed},
      {"threads", r.n_threads},
      {"prefill_chunk", o.prefill_chunk},
      {"n_ctx", o.n_ctx},
      {"prefix", ResolvePrefix({o.n_ctx, o.prefix, 0, -1})},
      {"windows", o.windows},
      {"ppl_rule", PplRuleName(o.rule)},
      {"retrieval_tasks", o.retrieval_tasks},
      {"retrieval_ctx", o.retrieval_ctx},
      {"retrieval_depths", retrieval_depths},
      {"retrieval_samples", o.retrieval_samples},
      {"n_keys", o.n_keys},
      {"agree_prompts", o.agree_prompts},
      {"agree_tokens", o.agree_tokens},
      {"agree_prompt_tokens", o.agree_prompt_tokens},
      {"base_cache", CacheConfigObject(o.base)},
      {"configs", configs},
  };
  doc["reference"] = r.reference >= 0 ? json(r.results[r.reference].config.label) : json(nullptr);
  json results = json::array();
  for (const PolicyResult& p : r.results) {
    json e = {{"label", p.config.label},
              {"policy", kv::PolicyName(p.config.cache.policy)},
              {"budget", p.config.budget}};
    if (p.decode) {
      const PolicyScore& d = *p.decode;
      e["decode"] = {{"ppl", Num(d.ppl)},
                     {"ppl_stderr", Num(d.ppl_stderr)},
                     {"mean_nll", Num(d.mean_nll)},
                     {"n_scored", d.n_scored},
                     {"kl", SummaryObject(d.kl)},
                     {"top1_agreement", Num(d.top1_agreement)},
                     {"kv_bytes_mean", Num(d.mean_final_bytes)},
                     {"kv_bytes_max", d.max_final_bytes},
                     {"kv_bytes_peak", d.peak_bytes},
                     {"kv_pool_bytes_mean", Num(d.mean_final_pool_bytes)},
                     {"kv_pool_bytes_max", d.max_final_pool_bytes},
                     {"original_tokens_mean", Num(d.mean_original_tokens)},
                     {"quantized_tokens_mean", Num(d.mean_quantized_tokens)},
                     {"evictions", d.evictions},
                     {"quantizations", d.quantizations}};
    }
    if (p.chunked) {
      e["chunked"] = {{"ppl", Num(p.chunked->ppl)},
                      {"ppl_stderr", Num(p.chunked->ppl_stderr)},
                      {"n_chunks", p.chunked->n_chunks},
                      {"n_scored", p.chunked->n_scored}};
    }
    if (!p.retrieval.empty()) {
      json cells = json::array();
      for (const RetrievalCell& c : p.retrieval) {
        cells.push_back({{"task", c.task},
                         {"depth", c.depth},
                         {"achieved_depth_mean", Num(c.mean_achieved_depth)},
                         {"n", c.n},
                         {"correct", c.correct},
                         {"kv_bytes_mean", Num(c.mean_kv_bytes)},
                         {"outputs", c.outputs}});
      }
      e["retrieval"] = {{"accuracy", Num(p.RetrievalAccuracy())}, {"cells", cells}};
    }
    if (p.agree) {
      e["agree"] = {{"n_prompts", p.agree->n_prompts},
                    {"gen_tokens", p.agree->gen_tokens},
                    {"prompt_tokens", p.agree->prompt_tokens},
                    {"mean_prefix", p.agree->mean_prefix},
                    {"exact_rate", p.agree->exact_rate},
                    {"kv_bytes_mean", Num(p.agree->mean_kv_bytes)},
                    {"prefixes", p.agree->prefixes}};
    }
    results.push_back(e);
  }
  doc["results"] = results;
  doc["seconds"] = r.seconds;
  return doc.dump(2) + "\n";
}

std::vector<PlotPanel> EvalPlotPanels(const EvalReport& r) {
  // One series per policy, in order of first appearance.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const PolicyResult*>> by_policy;
  for (const PolicyResult& p : r.results) {
    const std::string name(kv::PolicyName(p.config.cache.policy));
    if (!by_policy.count(name)) {
      order.push_back(name);
    }
    by_policy[name].push_back(&p);
  }
  auto panel = [&](const std::string& title, const std::string& y_label, auto value) {
    PlotPanel pn{title, "KV cache held (KiB)", y_label, {}};
    for (const std::string& name : order) {
      PlotSeries s{name, {}};
      for (const PolicyResult* p : by_policy[name]) {
        if (p->decode) {
          s.points.emplace_back(p->decode->mean_final_bytes / 1024.0, value(*p));
        }
      }
      pn.series.push_back(s);
    }
    return pn;
  };
  std::vector<PlotPanel> panels;
  if (r.results.empty() || !r.results[0].decode) {
    return panels;
  }
  if (r.options.HasTask("ppl")) {
    panels.push_back(panel(fmt::format("decode-mode perplexity, context {}", r.options.n_ctx),
                           "perplexity", [](const PolicyResult& p) { return p.decode->ppl; }));
  }
  if (r.options.HasTask("kld") && r.reference >= 0) {
    panels.push_back(panel("KL divergence vs full cache", "mean KL (nats/token)",
                           [](const PolicyResult& p) { return p.decode->kl.mean; }));
    panels.push_back(panel("top-1 agreement with full cache", "top-1 agreement (%)",
                           [](const PolicyResult& p) { return 100.0 * p.decode->top1_agreement; }));
  }
  return panels;
}

}  // namespace arkv::eval
