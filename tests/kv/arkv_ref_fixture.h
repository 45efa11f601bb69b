// Reading the parity fixtures of ../shared/golden/arkv-ref (format
// "arkv-ref-parity/1"): outputs of the official ARKV code on synthetic q/k/v.
// Field meanings are in that folder's README, section 5. Every file of the
// folder with that format is loaded, so fixtures dropped in later are tested
// too.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arkv/kv_cache.h"

namespace arkv::kv::testing {

struct RefHeadSets {
  std::vector<int32_t> original;   // sorted positions
  std::vector<int32_t> quantized;  // sorted positions
};

// One layer's decode compression as the reference scored it.
struct RefCompression {
  int n_cached = 0, past = 0, keep = 0, origin = 0;
  std::vector<std::vector<int32_t>> order_before;  // [kv head][past], reference cache order
  std::vector<std::vector<double>> scores;         // [kv head][past], same order
};

struct RefStepLayer {
  char event = 'a';                 // a: append, d: drop, c: compress, b: drop + compress
  std::vector<RefHeadSets> heads;   // [kv head], after the step
  std::optional<RefCompression> compression;
};

struct RefStep {
  int32_t position = 0;
  std::string events;                          // one letter per layer
  std::vector<std::array<int, 2>> counts;      // [layer] = {n_original, n_quantized} per KV head
  std::vector<RefStepLayer> layers;            // empty when every event is an append
};

struct RefPolicy {
  std::string name;  // arkv, evict, quant
  PolicyKind kind = PolicyKind::kArkv;
  bool prefill_compressed = false;
  std::vector<std::vector<RefHeadSets>> prefill;       // [layer][kv head]
  std::vector<std::vector<double>> attention_first_decode;  // [layer][n_heads * head_dim]
  std::vector<RefStep> steps;
};

struct RefPrefillLayer {
  double entropy = 0, variance = 0, kurtosis = 0, score = 0;
  std::optional<double> ratio;  // null when every layer scored 0
  int origin_budget = 0;
  std::vector<std::vector<double>> hh_scores;  // [kv head][past position]
};

struct RefFixture {
  std::string name;
  CacheShape shape;
  int cache_size = 0, window = 0, pool_kernel = 0;
  double tau1 = 0, tau2 = 0, tau3 = 0, gamma = 0, keep_fraction = 0, scale = 0;
  int prompt_len = 0, decode_steps = 0;
  // [layer][token][head][dim], the exact input values (integers times a power of 2).
  std::vector<std::vector<float>> q, k, v;
  std::vector<RefPrefillLayer> prefill;
  std::vector<std::vector<double>> attention_last_query;  // [layer][n_heads * head_dim]
  std::vector<RefPolicy> policies;

  const float* Q(int layer, int token) const {
    return q[layer].data() + static_cast<size_t>(token) * shape.n_heads * shape.head_dim;
  }
  const float* K(int layer, int token) const {
    return k[layer].data() + static_cast<size_t>(token) * shape.n_kv_heads * shape.head_dim;
  }
  const float* V(int layer, int token) const {
    return v[layer].data() + static_cast<size_t>(token) * shape.n_kv_heads * shape.head_dim;
  }
};

inline std::string ArkvRefDir() { return std::string(ARKV_SHARED_DIR) + "/golden/arkv-ref"; }

// The fixture files (sorted), or empty when the folder is absent.
inline std::vector<std::string> ListArkvRefFixtures() {
  std::vector<std::string> files;
  std::error_code ec;
  if (!std::filesystem::is_directory(ArkvRefDir(), ec)) return files;
  for (const auto& e : std::filesystem::directory_iterator(ArkvRefDir(), ec)) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

namespace detail {

inline std::vector<int32_t> Positions(const nlohmann::json& j) {
  return j.get<std::vector<int32_t>>();
}

inline RefHeadSets HeadSets(const nlohmann::json& j) {
  return {Positions(j.at("original")), Positions(j.at("quantized"))};
}

inline std::vector<double> Doubles(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

inline std::vector<float> Scaled(const nlohmann::json& ints, double quantum) {
  std::vector<float> out;
  out.reserve(ints.size());
  for (const auto& x : ints) out.push_back(static_cast<float>(x.get<double>() * quantum));
  return out;
}

inline PolicyKind KindOf(const std::string& name) {
  if (name == "arkv") return PolicyKind::kArkv;
  if (name == "evict") return PolicyKind::kEvict;
  if (name == "quant") return PolicyKind::kQuant;
  throw std::runtime_error("unknown policy in fixture: " + name);
}

inline RefStep Step(const nlohmann::json& j) {
  RefStep s;
  s.position = j.at("position").get<int32_t>();
  s.events = j.at("events").get<std::string>();
  for (const auto& c : j.at("counts")) s.counts.push_back({c.at(0).get<int>(), c.at(1).get<int>()});
  if (!j.contains("layers")) return s;
  for (size_t l = 0; l < j.at("layers").size(); ++l) {
    const auto& jl = j.at("layers")[l];
    RefStepLayer layer;
    layer.event = s.events.at(l);
    for (const auto& h : jl.at("heads")) layer.heads.push_back(HeadSets(h));
    if (layer.event == 'c' || layer.event == 'b') {
      RefCompression c;
      c.n_cached = jl.at("n_cached").get<int>();
      c.past = jl.at("past").get<int>();
      c.keep = jl.at("keep").get<int>();
      c.origin = jl.at("origin").get<int>();
      for (const auto& h : jl.at("heads")) {
        c.order_before.push_back(Positions(h.at("order_before")));
        c.scores.push_back(Doubles(h.at("scores")));
      }
      layer.compression = std::move(c);
    }
    s.layers.push_back(std::move(layer));
  }
  return s;
}

}  // namespace detail

inline RefFixture LoadArkvRefFixture(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  const nlohmann::json j = nlohmann::json::parse(in);
  if (j.at("format") != "arkv-ref-parity/1") throw std::runtime_error("unknown format in " + path);
  RefFixture f;
  f.name = j.at("name").get<std::string>();
  const auto& shape = j.at("shape");
  f.shape = {shape.at("n_layers").get<int>(), shape.at("n_heads").get<int>(),
             shape.at("n_kv_heads").get<int>(), shape.at("head_dim").get<int>()};
  const auto& cfg = j.at("config");
  f.cache_size = cfg.at("cache_size").get<int>();
  f.window = cfg.at("window").get<int>();
  f.tau1 = cfg.at("tau1").get<double>();
  f.tau2 = cfg.at("tau2").get<double>();
  f.tau3 = cfg.at("tau3").get<double>();
  f.gamma = cfg.at("gamma").get<double>();
  f.keep_fraction = cfg.at("keep_fraction").get<double>();
  f.pool_kernel = cfg.at("pool_kernel").get<int>();
  f.scale = cfg.at("attention_scale").get<double>();
  f.prompt_len = j.at("prompt_len").get<int>();
  f.decode_steps = j.at("decode_steps").get<int>();

  const auto& inputs = j.at("inputs");
  const double quantum = inputs.at("quantum").get<double>();
  for (const auto& layer : inputs.at("layers")) {
    f.q.push_back(detail::Scaled(layer.at("q"), quantum));
    f.k.push_back(detail::Scaled(layer.at("k"), quantum));
    f.v.push_back(detail::Scaled(layer.at("v"), quantum));
  }

  for (const auto& jl : j.at("prefill").at("layers")) {
    RefPrefillLayer l;
    l.entropy = jl.at("oq_entropy").get<double>();
    l.variance = jl.at("oq_variance").get<double>();
    l.kurtosis = jl.at("oq_kurtosis").get<double>();
    l.score = jl.at("oq_score").get<double>();
    if (!jl.at("oq_ratio").is_null()) l.ratio = jl.at("oq_ratio").get<double>();
    l.origin_budget = jl.at("origin_budget").get<int>();
    for (const auto& h : jl.at("hh_scores")) l.hh_scores.push_back(detail::Doubles(h));
    f.prefill.push_back(std::move(l));
  }
  for (const auto& a : j.at("prefill").at("attention_last_query")) {
    f.attention_last_query.push_back(detail::Doubles(a));
  }

  for (const auto& [name, jp] : j.at("policies").items()) {
    RefPolicy p;
    p.name = name;
    p.kind = detail::KindOf(name);
    p.prefill_compressed = jp.at("prefill").at("compressed").get<bool>();
    for (const auto& jl : jp.at("prefill").at("layers")) {
      std::vector<RefHeadSets> heads;
      for (const auto& h : jl.at("heads")) heads.push_back(detail::HeadSets(h));
      p.prefill.push_back(std::move(heads));
    }
    for (const auto& a : jp.at("attention_first_decode")) {
      p.attention_first_decode.push_back(detail::Doubles(a));
    }
    for (const auto& s : jp.at("steps")) p.steps.push_back(detail::Step(s));
    f.policies.push_back(std::move(p));
  }
  return f;
}

}  // namespace arkv::kv::testing
