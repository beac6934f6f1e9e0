// Runtime facts: which OpenBLAS kernels are active, its thread count, the level of the addon's
// own kernels, and the machine's measured FMA peak (the yardstick benchmarks report GEMM speed
// against, measured with the vectors of that level).
#include <cblas.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "fma_peak.h"
#include "kernel_level.h"

extern "C" char* openblas_get_corename(void);

namespace tk {

static Napi::Value CoreName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), openblas_get_corename());
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  const int64_t n = count(info, 0, "threads");
  if (n < 1 || n > 1024) throwRange("threads must be between 1 and 1024");
  openblas_set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

static Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), openblas_get_num_threads());
}

// kernelLevel() -> "avx512", "avx2" or "baseline": the level of the addon's own kernels picked at load.
static Napi::Value KernelLevelName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), kernelLevelName(kernelLevel()));
}

// peakGflops(threads, ms): each thread runs FMA chunks until `ms` elapse; returns total GFLOP/s.
static Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  const int64_t threads = count(info, 0, "threads");
  const double ms = number(info, 1, "ms");
  if (threads < 1 || threads > 256) throwRange("threads must be between 1 and 256");
  if (!(ms > 0) || ms > 60000) throwRange("ms must be in (0, 60000]");
  constexpr int64_t kChunk = 1 << 16;  // iterations between clock reads
  const FmaProbe& probe = activeFmaProbe;
  std::atomic<int64_t> totalIters{0};
  std::atomic<int> sink{0};
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::microseconds(static_cast<int64_t>(ms * 1000));
  auto worker = [&]() {
    int64_t iters = 0;
    double keep = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      keep += probe.chains(kChunk);
      iters += kChunk;
    }
    totalIters += iters;
    if (keep == 12345.0) sink++;  // keeps the result observable
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; t++) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double flops = static_cast<double>(totalIters.load()) * 12.0 * probe.lanes * 2.0;
  return Napi::Number::New(info.Env(), flops / seconds / 1e9);
}

void registerRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("coreName", Napi::Function::New(env, guarded<CoreName>, "coreName"));
  exports.Set("setNumThreads", Napi::Function::New(env, guarded<SetNumThreads>, "setNumThreads"));
  exports.Set("numThreads", Napi::Function::New(env, guarded<NumThreads>, "numThreads"));
  exports.Set("kernelLevel", Napi::Function::New(env, guarded<KernelLevelName>, "kernelLevel"));
  exports.Set("peakGflops", Napi::Function::New(env, guarded<PeakGflops>, "peakGflops"));
}

}  // namespace tk
