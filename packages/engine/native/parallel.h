// Splitting a kernel into independent tasks across the cores OpenBLAS would otherwise use.
// While the tasks run, OpenBLAS is switched to one thread so that each task's small GEMMs run
// in the calling thread: the process keeps one thread per core and no second spinning pool.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace tk {

/** Below this many FLOPs a kernel is not worth a thread start (~20 µs). */
constexpr double kMinParallelFlops = 4e6;

/**
 * Runs fn(task, worker) for every task in [0, nTasks) on up to OpenBLAS's thread count
 * (worker < openblas_get_num_threads()); `threaded` = false keeps it on the calling thread.
 */
template <typename F>
void parallelTasks(int64_t nTasks, F&& fn, bool threaded = true) {
  const int blasThreads = openblas_get_num_threads();
  const int workers = threaded ? static_cast<int>(std::min<int64_t>(blasThreads, nTasks)) : 1;
  if (workers <= 1) {
    for (int64_t t = 0; t < nTasks; t++) fn(t, 0);
    return;
  }
  openblas_set_num_threads(1);
  std::atomic<int64_t> next{0};
  auto run = [&](int worker) {
    for (int64_t t = next++; t < nTasks; t = next++) fn(t, worker);
  };
  std::vector<std::thread> helpers;
  helpers.reserve(workers - 1);
  try {
    for (int w = 1; w < workers; w++) helpers.emplace_back(run, w);
  } catch (const std::system_error&) {
    // No thread available: the calling thread picks up every task left.
  }
  run(0);
  for (auto& h : helpers) h.join();
  openblas_set_num_threads(blasThreads);
}


/**
 * Splits [0, n) into at most one contiguous range per core and runs fn(begin, end) on each;
 * below `grain` items per range the work stays on the calling thread (threads cost ~20 µs).
 */
template <typename F>
void parallelRanges(int64_t n, int64_t grain, F&& fn) {
  const int64_t workers = std::min<int64_t>(openblas_get_num_threads(), grain > 0 ? n / grain : n);
  if (workers <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  parallelTasks(workers, [&](int64_t task, int) { fn(n * task / workers, n * (task + 1) / workers); });
}

}  // namespace tk
