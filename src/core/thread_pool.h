// A fixed pool of worker threads for data-parallel loops. The calling thread
// takes part, so ThreadPool(1) runs everything inline with no threads at all.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace arkv {

class ThreadPool {
 public:
  // n_threads >= 1 counts the caller; n_threads - 1 workers are started.
  explicit ThreadPool(int n_threads = 1);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end) over [0, n) split into chunks of at least `grain`
  // items, on all threads; returns when every chunk is done. fn must not throw.
  template <typename Fn>
  void ParallelFor(int64_t n, int64_t grain, Fn&& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n_threads_ == 1 || n <= grain) {
      fn(int64_t{0}, n);
      return;
    }
    auto thunk = [](void* ctx, int64_t b, int64_t e) { (*static_cast<Fn*>(ctx))(b, e); };
    Run(n, grain, thunk, &fn);
  }

 private:
  using Thunk = void (*)(void*, int64_t, int64_t);
  void Run(int64_t n, int64_t grain, Thunk thunk, void* ctx);
  void WorkerLoop();
  void DoChunks();

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  int active_ = 0;
  // The current job.
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 1;
  std::atomic<int64_t> next_{0};
};

// Number of hardware threads, at least 1.
int HardwareThreads();

}  // namespace arkv
