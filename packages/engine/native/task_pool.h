// Helper threads that stay alive between kernel calls. Starting a std::thread for every split
// kernel cost ~20 µs, and decoding one token runs several split kernels per layer; a parked
// helper costs one futex wake instead. After a job a helper watches for the next one for 50 µs
// (back-to-back decode kernels then skip the wake), then blocks on a condition variable, so an
// idle pool takes no core from OpenBLAS's threads or from other processes.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

#if defined(__linux__)
#include <pthread.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tk {

class TaskPool {
 public:
  /** One task of a job: `context` is the caller's callable, `worker` says whose scratch to use. */
  using TaskFn = void (*)(void* context, int64_t task, int worker);

  /** The process-wide pool. */
  static TaskPool& instance() {
    // Never destroyed: parked helpers are simply dropped at exit, so no static destructor has to
    // join threads while OpenBLAS or the C++ runtime are being torn down.
    static TaskPool* pool = new TaskPool();
    return *pool;
  }

  /**
   * Runs fn(context, t, worker) for every t in [0, nTasks): the calling thread is worker 0 and up
   * to `helpers` pool threads are workers 1..helpers. Tasks are claimed one at a time, so a helper
   * that wakes late simply takes fewer. The first exception a task throws is rethrown here once
   * every running task has returned (tasks not yet started are skipped).
   * Returns false, running nothing, when the pool is already running a job (a call from inside a
   * task, or from another JS thread): the caller then runs the tasks itself.
   */
  bool run(int64_t nTasks, int helpers, TaskFn fn, void* context) {
    bool idle = false;
    if (!busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) return false;
    struct Release {
      std::atomic<bool>& busy;
      ~Release() { busy.store(false, std::memory_order_release); }
    } release{busy_};

    helpers = startHelpers(helpers);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = fn;
      context_ = context;
      nTasks_ = nTasks;
      next_.store(0, std::memory_order_relaxed);
      error_ = nullptr;
      wanted_ = helpers;
      joined_ = 0;
      open_ = helpers > 0;
      generation_++;
      published_.store(generation_, std::memory_order_release);
    }
    if (helpers > 0) wake_.notify_all();
    work(0);
    {
      // Helpers that have not woken yet must not join a finished job.
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = false;
    }
    waitForHelpers();
    if (error_) std::rethrow_exception(error_);
    return true;
  }

  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

 private:
  TaskPool() = default;

  /** Makes sure `wanted` helpers exist; returns how many do (thread creation may fail). */
  int startHelpers(int wanted) {
    while (helperCount_ < wanted) {
      try {
        std::thread([this] {
#if defined(__linux__)
          pthread_setname_np(pthread_self(), "tk-task-pool");  // tells the helpers apart in top and perf
#endif
          helperLoop();
        }).detach();
        helperCount_++;
      } catch (const std::system_error&) {
        break;
      }
    }
    return std::min(wanted, helperCount_);
  }

  void work(int worker) {
    for (int64_t t = next_.fetch_add(1, std::memory_order_relaxed); t < nTasks_; t = next_.fetch_add(1, std::memory_order_relaxed)) {
      try {
        fn_(context_, t, worker);
      } catch (...) {
        next_.store(nTasks_, std::memory_order_relaxed);  // skip the tasks nobody has started
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  void helperLoop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      lock.unlock();
      spinForNextJob(seen);
      lock.lock();
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (!open_ || joined_ >= wanted_) continue;
      const int worker = ++joined_;
      running_.fetch_add(1, std::memory_order_relaxed);
      lock.unlock();
      work(worker);
      lock.lock();
      if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_one();
    }
  }

  /**
   * Watches for the next job for a short while before parking. Decoding a token runs a split
   * kernel every few microseconds, and waking a parked helper takes 5–20 µs (a futex wake, and on
   * a VM the host has to resume the idle vCPU), which is a large share of a 50 µs kernel. A
   * helper that has been idle longer than the spin parks, so an idle process holds no core.
   */
  void spinForNextJob(uint64_t seen) {
    const auto spinUntil = std::chrono::steady_clock::now() + kSpinBeforePark;
    for (int i = 0;; i++) {
      if (published_.load(std::memory_order_acquire) != seen) return;
#if defined(__x86_64__) || defined(__i386__)
      _mm_pause();
#endif
      if (i % 64 == 63 && std::chrono::steady_clock::now() > spinUntil) return;
    }
  }

  /**
   * Waits until no helper runs a task of the current job. A helper that joined is at most one
   * task from done, so a short spin usually ends the wait without a sleep and a wake.
   */
  void waitForHelpers() {
    const auto spinUntil = std::chrono::steady_clock::now() + kSpinBeforeSleep;
    for (int i = 0;; i++) {
      if (running_.load(std::memory_order_acquire) == 0) return;
#if defined(__x86_64__) || defined(__i386__)
      _mm_pause();
#endif
      if (i % 64 == 63 && std::chrono::steady_clock::now() > spinUntil) break;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return running_.load(std::memory_order_acquire) == 0; });
  }

  static constexpr std::chrono::microseconds kSpinBeforeSleep{20};
  static constexpr std::chrono::microseconds kSpinBeforePark{50};

  std::atomic<bool> busy_{false};
  int helperCount_ = 0;  // only touched by the thread holding busy_

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // Guarded by mutex_:
  uint64_t generation_ = 0;  // counts jobs, so a helper takes part in each at most once
  std::atomic<uint64_t> published_{0};  // generation_, readable without the mutex by spinning helpers
  bool open_ = false;        // helpers may still join the current job
  int wanted_ = 0;
  int joined_ = 0;
  std::exception_ptr error_;
  // Written before the job opens (under mutex_), read by the workers that joined it:
  TaskFn fn_ = nullptr;
  void* context_ = nullptr;
  int64_t nTasks_ = 0;

  std::atomic<int64_t> next_{0};
  std::atomic<int> running_{0};
};

}  // namespace tk
