// Splitting a kernel into independent tasks across the cores OpenBLAS would otherwise use.
// While the tasks run, OpenBLAS is switched to one thread so that each task's small GEMMs run
// in the calling thread: the process keeps one thread per core and no second spinning pool.
// The tasks run on the persistent TaskPool, so a split costs a futex wake, not a thread start.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "task_pool.h"

namespace tk {

/** Below this many FLOPs a kernel is not worth waking a pool helper. */
constexpr double kMinParallelFlops = 4e6;

/** Sets OpenBLAS to one thread for its lifetime, restoring the previous count (also on exceptions). */
class OneBlasThread {
 public:
  OneBlasThread() : previous_(openblas_get_num_threads()) {
    if (previous_ != 1) openblas_set_num_threads(1);
  }
  ~OneBlasThread() {
    if (previous_ != 1) openblas_set_num_threads(previous_);
  }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  const int previous_;
};

/**
 * Runs fn(task, worker) for every task in [0, nTasks) on up to OpenBLAS's thread count
 * (worker < openblas_get_num_threads()); `threaded` = false keeps it on the calling thread.
 * A call from inside a task runs serially (OpenBLAS is at one thread there), and so does a call
 * while another thread uses the pool. An exception from a task is rethrown here.
 */
template <typename F>
void parallelTasks(int64_t nTasks, F&& fn, bool threaded = true) {
  const int blasThreads = openblas_get_num_threads();
  const int workers = threaded ? static_cast<int>(std::min<int64_t>(blasThreads, nTasks)) : 1;
  if (workers <= 1) {
    for (int64_t t = 0; t < nTasks; t++) fn(t, 0);
    return;
  }
  using Fn = std::remove_reference_t<F>;
  const TaskPool::TaskFn trampoline = [](void* context, int64_t task, int worker) { (*static_cast<Fn*>(context))(task, worker); };
  OneBlasThread oneThread;
  if (!TaskPool::instance().run(nTasks, workers - 1, trampoline, const_cast<void*>(static_cast<const void*>(&fn)))) {
    for (int64_t t = 0; t < nTasks; t++) fn(t, 0);
  }
}

/**
 * Splits [0, n) into at most one contiguous range per core and runs fn(begin, end) on each;
 * below `grain` items per range the work stays on the calling thread.
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
