// A fixed pool of worker threads for data-parallel loops (ParallelFor, from
// the Parallel interface the KV library takes). The calling thread
// takes part, so ThreadPool(1) runs everything inline with no threads at all.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "arkv/parallel.h"

namespace arkv {

class ThreadPool final : public Parallel {
 public:
  // n_threads >= 1 counts the caller; n_threads - 1 workers are started.
  explicit ThreadPool(int n_threads = 1);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const override { return n_threads_; }

 private:
  void Run(int64_t n, int64_t grain, Thunk thunk, void* ctx) override;
  void WorkerLoop();
  void DoChunks();

  int n_threads_;
  std::vector<std::thread> workers_;
  // Workers and the caller spin briefly before sleeping: a decode step issues
  // hundreds of short parallel loops, and a condition-variable wake-up costs
  // more than many of them take. generation_ is bumped (under mu_, so a
  // sleeper cannot miss it) to publish each job; pending_ counts the workers
  // still inside it.
  // The counters that threads write while others read the job description
  // sit on cache lines of their own (no false sharing with thunk_ .. chunk_).
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  int sleepers_ = 0;             // guarded by mu_
  bool caller_waiting_ = false;  // guarded by mu_
  // The current job, published by the release store of generation_.
  alignas(64) Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 1;
  alignas(64) std::atomic<int64_t> next_{0};
};

// fn(row) for each of n rows of `width` values, over the pool in chunks of
// at least `chunk_values` values: a row-wise step of a prompt batch spreads
// over the threads, one of a decode step (a row or a few) runs inline.
template <class Fn>
void ForEachRow(ThreadPool& pool, int64_t n, int64_t width, int64_t chunk_values, Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, chunk_values / std::max<int64_t>(width, 1));
  pool.ParallelFor(n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) fn(row);
  });
}

// Number of hardware threads, at least 1.
int HardwareThreads();

}  // namespace arkv
