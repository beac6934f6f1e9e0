// gemmBf16(transB, M, N, K, alpha, A, B, beta, C, lda, ldb, ldc, aOffset, bOffset, cOffset): the
// GEMMs over frozen bf16 weights (bf16_gemm.h), and the two kernels' drivers: how each splits
// its work over the cores and where its buffers live.
#include <algorithm>
#include <vector>

#include "args.h"
#include "bf16.h"
#include "bf16_gemm.h"
#include "bindings.h"
#include "gemm_plan.h"
#include "matrix_check.h"
#include "parallel.h"

namespace tk {

namespace {

/** Floats of B widened per sgemm by the tile kernel (4 MB: a tile stays in L3 while sgemm packs it). */
constexpr int64_t kTileFloats = int64_t{1} << 20;
/** Output columns per task of the few-row dot kernel. */
constexpr int64_t kBf16FewRowsColumnsPerTask = 64;
/** Panels per task of the packed dot kernel, at most (a group of panels shares each load of a strip of A). */
constexpr int64_t kMaxPanelsPerTask = 4;

}  // namespace

void gemmBf16Tiles(bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const uint16_t* B,
                   int64_t ldb, float beta, float* C, int64_t ldc) {
  // A rounded to bf16 as the dot kernel rounds it, so both kernels compute the same products.
  thread_local std::vector<float> a, tile;
  a.resize(static_cast<size_t>(M * K));
  for (int64_t m = 0; m < M; m++) {
    for (int64_t k = 0; k < K; k++) a[m * K + k] = roundToBf16(A[m * lda + k]);
  }
  if (transB) {
    // Rows [n0, n1) of B ([N, K]) give columns [n0, n1) of C.
    const int64_t rowsPerTile = std::max<int64_t>(1, kTileFloats / K);
    tile.resize(static_cast<size_t>(std::min(rowsPerTile, N) * K));
    for (int64_t n0 = 0; n0 < N; n0 += rowsPerTile) {
      const int64_t n1 = std::min(N, n0 + rowsPerTile);
      for (int64_t n = n0; n < n1; n++) {
        for (int64_t k = 0; k < K; k++) tile[(n - n0) * K + k] = bf16ToFloat(B[n * ldb + k]);
      }
      sgemmPlanned(false, true, M, n1 - n0, K, alpha, a.data(), K, tile.data(), K, beta, C + n0, ldc);
    }
    return;
  }
  // Rows [k0, k1) of B ([K, N]) add their share of the sum over K to all of C.
  const int64_t rowsPerTile = std::max<int64_t>(1, kTileFloats / N);
  tile.resize(static_cast<size_t>(std::min(rowsPerTile, K) * N));
  for (int64_t k0 = 0; k0 < K; k0 += rowsPerTile) {
    const int64_t k1 = std::min(K, k0 + rowsPerTile);
    for (int64_t k = k0; k < k1; k++) {
      for (int64_t n = 0; n < N; n++) tile[(k - k0) * N + n] = bf16ToFloat(B[k * ldb + n]);
    }
    sgemmPlanned(false, false, M, N, k1 - k0, alpha, a.data() + k0, K, tile.data(), N, k0 == 0 ? beta : 1.f, C, ldc);
  }
}

#if defined(__x86_64__) || defined(_M_X64)
void gemmBf16Dot(bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const uint16_t* B,
                 int64_t ldb, float beta, float* C, int64_t ldc) {
  const bool threaded = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) >= kMinParallelFlops;
  if (transB && M <= kBf16FewRowsMaxM) {
    // Decoding: a few rows against the weight, read once in place; A's rows as zero-padded bf16.
    const int64_t stride = (K + 31) / 32 * 32;
    thread_local std::vector<uint16_t> rows;
    rows.assign(static_cast<size_t>(M * stride), 0);
    for (int64_t m = 0; m < M; m++) {
      for (int64_t k = 0; k < K; k++) rows[m * stride + k] = floatToBf16(A[m * lda + k]);
    }
    // A thread_local names another buffer on each helper thread: the tasks get this thread's by pointer.
    const uint16_t* a = rows.data();
    const int64_t tasks = (N + kBf16FewRowsColumnsPerTask - 1) / kBf16FewRowsColumnsPerTask;
    parallelTasks(tasks, [&](int64_t t, int) {
      const int64_t n0 = t * kBf16FewRowsColumnsPerTask, n1 = std::min(N, n0 + kBf16FewRowsColumnsPerTask);
      avx512bf16::fewRowsTransB(M, n0, n1, K, alpha, a, stride, B, ldb, beta, C, ldc);
    }, threaded);
    return;
  }
  const int64_t Kp = (K + 1) / 2;
  const int64_t strips = (M + kBf16DotRows - 1) / kBf16DotRows;
  thread_local std::vector<uint32_t> packedA;
  packedA.resize(static_cast<size_t>(strips * Kp * kBf16DotRows));
  uint32_t* packed = packedA.data();
  const int64_t packTasks = std::min<int64_t>(strips, 8);
  parallelTasks(packTasks, [&](int64_t t, int) {
    avx512bf16::packAStrips(strips * t / packTasks, strips * (t + 1) / packTasks, M, K, A, lda, packed);
  }, threaded);
  // Enough tasks (about 8) that a helper which wakes late still finds work.
  const int64_t panelCount = (N + kBf16DotCols - 1) / kBf16DotCols;
  const int64_t perTask = std::clamp<int64_t>((panelCount + 7) / 8, 1, kMaxPanelsPerTask);
  const int64_t tasks = (panelCount + perTask - 1) / perTask;
  parallelTasks(tasks, [&](int64_t t, int) {
    thread_local std::vector<uint32_t> panelBuffer;
    panelBuffer.resize(static_cast<size_t>(perTask * Kp * kBf16DotCols));
    avx512bf16::panels(transB, t * perTask, std::min(panelCount, (t + 1) * perTask), M, N, K, alpha, packed, B, ldb, beta, C,
                       ldc, panelBuffer.data());
  }, threaded);
}
#endif

static Napi::Value GemmBf16(const Napi::CallbackInfo& info) {
  const bool transB = boolean(info, 0, "transB");
  const int64_t M = count(info, 1, "M"), N = count(info, 2, "N"), K = count(info, 3, "K");
  const double alpha = number(info, 4, "alpha");
  View<float> A = f32(info, 5, "A");
  View<uint16_t> B = u16(info, 6, "B");
  const double beta = number(info, 7, "beta");
  View<float> C = f32(info, 8, "C");
  const int64_t lda = count(info, 9, "lda"), ldb = count(info, 10, "ldb"), ldc = count(info, 11, "ldc");
  const int64_t ao = count(info, 12, "aOffset"), bo = count(info, 13, "bOffset"), co = count(info, 14, "cOffset");
  requireMatrix(A, M, K, lda, ao, "A");
  requireMatrix(B, transB ? N : K, transB ? K : N, ldb, bo, "B");
  requireMatrix(C, M, N, ldc, co, "C");
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX || ldc > INT32_MAX) {
    throwRange("gemmBf16 dimensions exceed the 32-bit BLAS interface");
  }
  if (M == 0 || N == 0) return info.Env().Undefined();
  float* c = C.data + co;
  if (K == 0) {
    // An empty sum: C = beta C (beta = 0 clears C without reading it).
    for (int64_t m = 0; m < M; m++) {
      for (int64_t n = 0; n < N; n++) c[m * ldc + n] = beta == 0 ? 0.f : static_cast<float>(beta) * c[m * ldc + n];
    }
    return info.Env().Undefined();
  }
  bf16Gemm(transB, M, N, K, static_cast<float>(alpha), A.data + ao, lda, B.data + bo, ldb, static_cast<float>(beta), c, ldc);
  return info.Env().Undefined();
}

static Napi::Value Bf16GemmKernel(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), bf16GemmName); }

void registerGemmBf16(Napi::Env env, Napi::Object exports) {
  exports.Set("gemmBf16", Napi::Function::New(env, guarded<GemmBf16>, "gemmBf16"));
  exports.Set("bf16GemmKernel", Napi::Function::New(env, guarded<Bf16GemmKernel>, "bf16GemmKernel"));
}

}  // namespace tk
