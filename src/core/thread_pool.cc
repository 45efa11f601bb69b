#include "core/thread_pool.h"

#include <algorithm>

namespace arkv {
namespace {

// Polls before blocking: about 10-100 microseconds depending on the CPU's
// pause latency, longer than a typical gap between a decode step's loops.
constexpr int kSpinIterations = 1 << 12;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

int HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
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
  if (n_threads_ == 1 || n <= grain) {
    thunk(ctx, 0, n);
    return;
  }
  thunk_ = thunk;
  ctx_ = ctx;
  n_ = n;
  // About four chunks per thread balances load without much overhead.
  const int64_t target = (n + 4 * n_threads_ - 1) / (4 * n_threads_);
  chunk_ = std::max(grain, target);
  next_.store(0, std::memory_order_relaxed);
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
    if (sleepers_ > 0) wake_.notify_all();
  }
  DoChunks();
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0;) {
    if (++spins < kSpinIterations) {
      CpuRelax();
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    caller_waiting_ = true;
    done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    caller_waiting_ = false;
    break;
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = 0;
    for (int spins = 0; (g = generation_.load(std::memory_order_acquire)) == seen;) {
      if (stop_.load(std::memory_order_acquire)) return;
      if (++spins < kSpinIterations) {
        CpuRelax();
        continue;
      }
      std::unique_lock<std::mutex> lock(mu_);
      ++sleepers_;
      wake_.wait(lock, [&] {
        return generation_.load(std::memory_order_acquire) != seen ||
               stop_.load(std::memory_order_acquire);
      });
      --sleepers_;
      spins = 0;
    }
    seen = g;
    DoChunks();
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      if (caller_waiting_) done_.notify_one();
    }
  }
}

}  // namespace arkv
