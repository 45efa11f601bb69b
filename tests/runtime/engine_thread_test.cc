// The engine's own thread serving requests submitted and cancelled from
// other threads (the shape of a server); run under ThreadSanitizer by the
// tsan preset.
#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/engine.h"
#include "runtime/logit_scan.h"
#include "runtime/session.h"

namespace arkv {
namespace {

constexpr const char* kModel = ARKV_SHARED_DIR "/models/stories260K.gguf";

std::vector<int32_t> Prompt(int length, int seed) {
  std::vector<int32_t> p(length);
  for (int i = 0; i < length; ++i) p[i] = 1 + (seed * 131 + i * 17) % 500;
  return p;
}

std::vector<int32_t> Alone(const Model& model, const std::vector<int32_t>& prompt, int n,
                           ThreadPool& threads) {
  kv::CacheConfig c;
  c.policy = kv::PolicyKind::kArkv;
  c.budget = kv::Budget::Tokens(32);
  c.window = 8;
  Session s(model, kv::CreateSequenceCache(model.cache_shape(), c), threads, 16);
  std::span<const float> logits = s.Prefill(prompt);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(Argmax(logits.data(), model.config().n_vocab));
    if (i + 1 < n) logits = s.Decode(out.back());
  }
  return out;
}

TEST(EngineThreads, ClientsOnOtherThreadsSubmitStreamAndCancel) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "../shared/models/stories260K.gguf absent";
  auto model = Model::Load(kModel);
  ThreadPool threads(2);
  EngineConfig ec;
  ec.max_sequences = 4;
  ec.prefill_chunk = 16;
  ec.kv_budget_bytes = 512 * 4096;
  ec.cache.policy = kv::PolicyKind::kArkv;
  ec.cache.budget = kv::Budget::Tokens(32);
  ec.cache.window = 8;
  Engine engine(*model, threads, ec);
  engine.Start();

  constexpr int kClients = 6;
  constexpr int kTokens = 12;
  std::vector<std::vector<int32_t>> got(kClients);
  std::vector<std::thread> clients;
  std::atomic<int> cancelled{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int round = 0; round < 3; ++round) {
        auto done = std::make_shared<std::promise<FinishReason>>();
        std::vector<int32_t> tokens;
        GenerationRequest r;
        r.prompt = Prompt(10 + 7 * c, c);
        r.max_tokens = kTokens;
        r.sampler.temperature = 0;
        r.on_event = [&tokens, done](const StreamEvent& ev) {
          if (ev.finished) {
            done->set_value(ev.reason);
          } else {
            tokens.push_back(ev.token);
          }
        };
        const RequestId id = engine.Submit(std::move(r));
        if (round == 1 && c % 2 == 0) engine.Cancel(id);
        const FinishReason reason = done->get_future().get();
        if (reason == FinishReason::kCancelled) {
          ++cancelled;
        } else {
          EXPECT_EQ(reason, FinishReason::kLength);
          got[c] = tokens;
        }
        (void)engine.Stats();
      }
    });
  }
  for (std::thread& t : clients) t.join();
  engine.Stop();
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(got[c], Alone(*model, Prompt(10 + 7 * c, c), kTokens, threads)) << "client " << c;
  }
  EXPECT_LE(engine.pool().peak_pages_in_use(), engine.Stats().max_pages);
  std::printf("[ engine ] %d of %d requests cancelled before they finished\n", cancelled.load(),
              kClients / 2);
}

}  // namespace
}  // namespace arkv
