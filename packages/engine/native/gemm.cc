// gemm(transA, transB, M, N, K, alpha, A, B, beta, C, lda, ldb, ldc, aOffset, bOffset, cOffset)
// -> cblas_sgemm(CblasRowMajor, ...). Transposes are passed as flags, never materialised.
#include <cblas.h>

#include "args.h"
#include "bindings.h"
#include "gemm_plan.h"
#include "matrix_check.h"

namespace tk {

static Napi::Value Gemm(const Napi::CallbackInfo& info) {
  const bool transA = boolean(info, 0, "transA");
  const bool transB = boolean(info, 1, "transB");
  const int64_t M = count(info, 2, "M"), N = count(info, 3, "N"), K = count(info, 4, "K");
  const double alpha = number(info, 5, "alpha");
  View<float> A = f32(info, 6, "A"), B = f32(info, 7, "B");
  const double beta = number(info, 8, "beta");
  View<float> C = f32(info, 9, "C");
  const int64_t lda = count(info, 10, "lda"), ldb = count(info, 11, "ldb"), ldc = count(info, 12, "ldc");
  const int64_t ao = count(info, 13, "aOffset"), bo = count(info, 14, "bOffset"), co = count(info, 15, "cOffset");
  requireMatrix(A, transA ? K : M, transA ? M : K, lda, ao, "A");
  requireMatrix(B, transB ? N : K, transB ? K : N, ldb, bo, "B");
  requireMatrix(C, M, N, ldc, co, "C");
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX || ldc > INT32_MAX) {
    throwRange("gemm dimensions exceed the 32-bit BLAS interface");
  }
  if (M == 0 || N == 0) return info.Env().Undefined();
  sgemmPlanned(transA, transB, M, N, K, static_cast<float>(alpha), A.data + ao, lda, B.data + bo, ldb, static_cast<float>(beta),
               C.data + co, ldc);
  return info.Env().Undefined();
}

// gemmStrategy(name?) -> the strategy in effect; "planned" (default), "blas" or "split" (for benchmarks).
static Napi::Value Strategy(const Napi::CallbackInfo& info) {
  static const char* const names[] = {"planned", "blas", "split"};
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString()) throwType("strategy must be a string");
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    int found = -1;
    for (int i = 0; i < 3; i++) {
      if (name == names[i]) found = i;
    }
    if (found < 0) throwRange("unknown GEMM strategy \"" + name + "\" (expected planned, blas or split)");
    gemmStrategySetting().store(found);
  }
  return Napi::String::New(info.Env(), names[gemmStrategySetting().load()]);
}

void registerGemm(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, guarded<Gemm>, "gemm"));
  exports.Set("gemmStrategy", Napi::Function::New(env, guarded<Strategy>, "gemmStrategy"));
}

}  // namespace tk
