#include "core/thread_pool.h"

#include <algorithm>

namespace arkv {

int HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::DoChunks() {
  for (;;) {
    const int64_t b = next_.fetch_add(chunk_, std::memory_order_relaxed);
    if (b >= n_) return;
    thunk_(ctx_, b, std::min(n_, b + chunk_));
  }
}

void ThreadPool::Run(int64_t n, int64_t grain, Thunk thunk, void* ctx) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    thunk_ = thunk;
    ctx_ = ctx;
    n_ = n;
    // About four chunks per thread balances load without much overhead.
    const int64_t target = (n + 4 * n_threads_ - 1) / (4 * n_threads_);
    chunk_ = std::max(grain, target);
    next_.store(0, std::memory_order_relaxed);
    active_ = n_threads_ - 1;
    ++generation_;
  }
  wake_.notify_all();
  DoChunks();
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return active_ == 0; });
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    DoChunks();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--active_ == 0) done_.notify_one();
    }
  }
}

}  // namespace arkv
