// Runtime facts: which OpenBLAS kernels are active, its thread count, and the machine's
// measured FMA peak (the yardstick benchmarks report GEMM speed against).
#include <cblas.h>
#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "args.h"
#include "bindings.h"

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

// 12 independent FMA chains hide the 4-cycle latency on two FMA pipes.
#if defined(__AVX512F__)
static constexpr int kLanes = 16;
static double fmaChains(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; it++) {
    for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float out[16];
  _mm512_store_ps(out, s);
  double t = 0;
  for (float f : out) t += f;
  return t;
}
#elif defined(__AVX2__) && defined(__FMA__)
static constexpr int kLanes = 8;
static double fmaChains(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; it++) {
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  double t = 0;
  for (float f : out) t += f;
  return t;
}
#else
static constexpr int kLanes = 1;
static double fmaChains(int64_t iters) {
  float acc[12];
  for (int i = 0; i < 12; i++) acc[i] = static_cast<float>(i) * 1e-3f;
  for (int64_t it = 0; it < iters; it++) {
    for (int i = 0; i < 12; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
  }
  double t = 0;
  for (float f : acc) t += f;
  return t;
}
#endif

static Napi::Value IsaName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), kLanes == 16 ? "avx512" : kLanes == 8 ? "avx2" : "scalar");
}

// peakGflops(threads, ms): each thread runs FMA chunks until `ms` elapse; returns total GFLOP/s.
static Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  const int64_t threads = count(info, 0, "threads");
  const double ms = number(info, 1, "ms");
  if (threads < 1 || threads > 256) throwRange("threads must be between 1 and 256");
  if (!(ms > 0) || ms > 60000) throwRange("ms must be in (0, 60000]");
  constexpr int64_t kChunk = 1 << 16;  // iterations between clock reads
  std::atomic<int64_t> totalIters{0};
  std::atomic<int> sink{0};
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::microseconds(static_cast<int64_t>(ms * 1000));
  auto worker = [&]() {
    int64_t iters = 0;
    double keep = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      keep += fmaChains(kChunk);
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
  const double flops = static_cast<double>(totalIters.load()) * 12.0 * kLanes * 2.0;
  return Napi::Number::New(info.Env(), flops / seconds / 1e9);
}

void registerRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("coreName", Napi::Function::New(env, guarded<CoreName>, "coreName"));
  exports.Set("setNumThreads", Napi::Function::New(env, guarded<SetNumThreads>, "setNumThreads"));
  exports.Set("numThreads", Napi::Function::New(env, guarded<NumThreads>, "numThreads"));
  exports.Set("peakIsa", Napi::Function::New(env, guarded<IsaName>, "peakIsa"));
  exports.Set("peakGflops", Napi::Function::New(env, guarded<PeakGflops>, "peakGflops"));
}

}  // namespace tk
