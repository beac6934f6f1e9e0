// taskPoolProbe(runs, workers, throwAtTask, nestedTasks): runs runs.length tasks through
// parallelTasks so tests can check the pool from JS. Task t adds 1 to runs[t] and stores its
// worker index in workers[t]; with nestedTasks > 0 it first runs that many tasks of a nested
// parallelTasks call and adds their count as well (runs[t] = 1 + nestedTasks when all ran);
// task throwAtTask (when < runs.length) throws a RangeError instead of running.
#include <atomic>

#include "args.h"
#include "bindings.h"
#include "parallel.h"

namespace tk {

static Napi::Value TaskPoolProbe(const Napi::CallbackInfo& info) {
  View<int32_t> runs = i32(info, 0, "runs"), workers = i32(info, 1, "workers");
  const int64_t throwAt = count(info, 2, "throwAtTask"), nested = count(info, 3, "nestedTasks");
  requireLength(workers, runs.length, "workers");
  parallelTasks(runs.length, [&](int64_t t, int worker) {
    if (t == throwAt) throwRange("task " + std::to_string(t) + " failed on purpose");
    std::atomic<int32_t> nestedRuns{0};
    if (nested > 0) parallelTasks(nested, [&](int64_t, int) { nestedRuns++; });
    runs.data[t] += 1 + nestedRuns.load();
    workers.data[t] = worker;
  });
  return info.Env().Undefined();
}

void registerTaskPoolProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("taskPoolProbe", Napi::Function::New(env, guarded<TaskPoolProbe>, "taskPoolProbe"));
}

}  // namespace tk
