// The threads the KV library runs its work on: the engine's own pool behind a
// small interface (arkv's ThreadPool implements it), so that the library's
// public headers stand alone and another engine can bring its own threads.
#pragma once

#include <cstdint>
#include <type_traits>

namespace arkv {

class Parallel {
 public:
  virtual ~Parallel() = default;

  // Threads that run work, the caller included (>= 1).
  virtual int size() const = 0;

  // Calls fn(begin, end) over [0, n) split into chunks of at least `grain`
  // items, on all threads; returns when every chunk is done. fn must not throw.
  template <typename Fn>
  void ParallelFor(int64_t n, int64_t grain, Fn&& fn) {
    if (n <= 0) return;
    using F = std::remove_reference_t<Fn>;
    auto thunk = [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); };
    Run(n, grain < 1 ? 1 : grain, thunk, const_cast<void*>(static_cast<const void*>(&fn)));
  }

 protected:
  using Thunk = void (*)(void* ctx, int64_t begin, int64_t end);
  // thunk(ctx, begin, end) over the chunks of [0, n); n >= 1, grain >= 1.
  virtual void Run(int64_t n, int64_t grain, Thunk thunk, void* ctx) = 0;
};

}  // namespace arkv
