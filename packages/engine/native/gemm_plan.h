// How one GEMM uses the cores. OpenBLAS's own threading synchronises its threads inside every
// call, which costs far more than the work for thin products (a LoRA rank of 8–64 on one side)
// and for small ones: measured 2–10× slower on 2 threads than on 1. Such GEMMs run on one
// OpenBLAS thread; thin ones big enough to pay for a thread (the LM head over one decoded row)
// are cut in two halves along the output's longer side, each an independent one-thread call.
// A few activation rows against a weight (decoding several sequences) run the packing-free
// few-row kernel on every core, split by columns. Large GEMMs keep OpenBLAS's threads.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "few_rows_gemm.h"
#include "matrix_check.h"
#include "parallel.h"

namespace tk {

/** A side of at most this many elements makes a GEMM "thin". */
constexpr int64_t kThinGemmSide = 64;
/** Below this many FLOPs a GEMM runs on one thread whatever its shape. */
constexpr double kMinThreadedGemmFlops = 4e6;
/**
 * Thin GEMMs below this many FLOPs stay on one thread too: they take well under a millisecond,
 * and starting a second thread costs tens of microseconds when the cores are idle and far more
 * when other processes keep them busy (measured: one thread 140 µs, two halves 400–770 µs for
 * 2048×8×256 at load 6).
 */
constexpr double kMinSplitThinGemmFlops = 64e6;
/**
 * Output columns per task of a split few-row GEMM: whole cache lines of C per task, ~0.5 MFLOP
 * for 16 rows at K = 256, and enough tasks (128 for an 8192-column head) that a helper which
 * wakes late still finds work.
 */
constexpr int64_t kFewRowsColumnsPerTask = 64;
/** Few-row GEMMs below this many FLOPs (~20 µs on one core) stay on the calling thread. */
constexpr double kMinSplitFewRowsFlops = 1e6;

enum class GemmStrategy : int {
  /** thin and small GEMMs on one thread or split in halves; large ones to OpenBLAS's threads */
  Planned = 0,
  /** every GEMM straight to OpenBLAS with its configured threads */
  Blas = 1,
  /** every GEMM large enough is split in halves, one OpenBLAS thread each */
  Split = 2,
};

/** Rows of A as the few-row kernel reads them: `data` with row stride `ld`. */
struct RowsView {
  const float* data;
  int64_t ld;
};

/**
 * A's M rows, each starting on a cache line, so that no load of A in the few-row kernel spans two
 * lines (A stays in L1, yet split loads cost 13% at 16×1024×256 on Zen 4). Unaligned rows are
 * copied (16 rows × 256 floats: 16 KB) into a per-thread buffer that lives until this thread's
 * next call; a few-row GEMM starts no other GEMM while it runs, so the copy is never overwritten
 * in use.
 */
inline RowsView lineAlignedRows(int64_t M, int64_t K, const float* A, int64_t lda) {
  if (lineOffset(A) == 0 && lda % kFloatsPerLine == 0) return {A, lda};
  thread_local std::vector<float> buffer;
  const int64_t ld = (K + kFloatsPerLine - 1) / kFloatsPerLine * kFloatsPerLine;
  buffer.resize(static_cast<size_t>(M * ld + kFloatsPerLine));
  float* rows = buffer.data() + (kFloatsPerLine - lineOffset(buffer.data())) % kFloatsPerLine;
  for (int64_t i = 0; i < M; i++) std::memcpy(rows + i * ld, A + i * lda, static_cast<size_t>(K) * sizeof(float));
  return {rows, ld};
}

inline std::atomic<int>& gemmStrategySetting() {
  static std::atomic<int> s{static_cast<int>(GemmStrategy::Planned)};
  return s;
}

/** A few activation rows against a weight stored [N, K]: the packing-free kernel's shape, when this CPU's level has it. */
inline bool usesFewRowsGemm(bool transA, bool transB, int64_t M, int64_t K) {
  return fewRowsGemm != nullptr && !transA && transB && M > 1 && M <= kFewRowsGemmMaxM && K >= kFewRowsGemmMinK;
}

/**
 * One GEMM on the calling configuration. A product with a single output row or column is a
 * matrix-vector product: OpenBLAS's sgemm would pack (copy) the whole matrix first, which
 * doubles the memory traffic of decoding one token, so it goes to sgemv instead.
 */
inline void sgemmLeaf(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if ((M == 1 || N == 1) && K > 0) {
    // sgemv may read y when beta = 0; zeroing first keeps stale NaNs out.
    if (beta == 0.f) {
      for (int64_t i = 0; i < (M == 1 ? N : M); i++) C[M == 1 ? i : i * ldc] = 0.f;
    }
    if (M == 1) {
      // c[N] = alpha op(B)ᵀ a + beta c, with a = op(A)'s single row.
      const int incA = transA ? static_cast<int>(lda) : 1;
      if (transB) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(N), static_cast<int>(K), alpha, B, static_cast<int>(ldb), A, incA,
                    beta, C, 1);
      } else {
        cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(K), static_cast<int>(N), alpha, B, static_cast<int>(ldb), A, incA,
                    beta, C, 1);
      }
    } else {
      // c[M] (stride ldc) = alpha op(A) b + beta c, with b = op(B)'s single column.
      const int incB = transB ? 1 : static_cast<int>(ldb);
      if (transA) {
        cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(K), static_cast<int>(M), alpha, A, static_cast<int>(lda), B, incB,
                    beta, C, static_cast<int>(ldc));
      } else {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(M), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, incB,
                    beta, C, static_cast<int>(ldc));
      }
    }
    return;
  }
  if (usesFewRowsGemm(transA, transB, M, K)) {
    const RowsView a = lineAlignedRows(M, K, A, lda);
    fewRowsGemm(M, 0, N, K, alpha, a.data, a.ld, B, ldb, beta, C, ldc);
    return;
  }
  sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/** Runs sgemm on one OpenBLAS thread, restoring the thread count afterwards (a toggle costs ~40 ns). */
inline void sgemmOneThread(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int threads = openblas_get_num_threads();
  if (threads != 1) openblas_set_num_threads(1);
  sgemmLeaf(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (threads != 1) openblas_set_num_threads(threads);
}

/** Cuts C into one block per core along its longer side; every block is a one-thread sgemm. */
inline void sgemmSplit(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                       const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int64_t parts = std::min<int64_t>(openblas_get_num_threads(), std::max(M, N));
  const bool byRows = M >= N;
  const int64_t n = byRows ? M : N;
  // Blocks start on multiples of 16 so each keeps whole vector lanes of C.
  auto bound = [&](int64_t p) { return p == parts ? n : std::min(n, (n * p / parts + 8) / 16 * 16); };
  parallelTasks(parts, [&](int64_t p, int) {
    const int64_t b = bound(p), e = bound(p + 1);
    if (e <= b) return;
    if (byRows) {
      sgemmLeaf(transA, transB, e - b, N, K, alpha, transA ? A + b : A + b * lda, lda, B, ldb, beta, C + b * ldc, ldc);
    } else {
      sgemmLeaf(transA, transB, M, e - b, K, alpha, A, lda, transB ? B + b * ldb : B + b, ldb, beta, C + b, ldc);
    }
  });
}

/** The few-row kernel over column blocks of C, one task each, on the task pool. */
inline void sgemmFewRowsSplit(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                              float beta, float* C, int64_t ldc) {
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const int64_t tasks = (N + kFewRowsColumnsPerTask - 1) / kFewRowsColumnsPerTask;
  const RowsView a = lineAlignedRows(M, K, A, lda);
  parallelTasks(tasks, [&](int64_t t, int) {
    const int64_t begin = t * kFewRowsColumnsPerTask, end = std::min(N, begin + kFewRowsColumnsPerTask);
    fewRowsGemm(M, begin, end, K, alpha, a.data, a.ld, B, ldb, beta, C, ldc);
  }, flops >= kMinSplitFewRowsFlops);
}

/** C = alpha op(A) op(B) + beta C (row-major), choosing how to use the cores from the shape. */
inline void sgemmPlanned(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                         const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const auto strategy = static_cast<GemmStrategy>(gemmStrategySetting().load(std::memory_order_relaxed));
  if (strategy == GemmStrategy::Blas) {
    sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (openblas_get_num_threads() <= 1) {
    sgemmLeaf(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const bool thin = std::min({M, N, K}) <= kThinGemmSide;
  // A few activation rows (2–64 decoded tokens) against a weight matrix. Against a weight stored
  // [N, K] the packing-free kernel split by columns over the task pool reads each weight row once
  // (measured on Zen 4, two cores, weights not cached: 16×1024×256 in 73–90 µs, 16×3072×1024 in
  // 0.73 ms and 16×151936×1024 in 39 ms, against OpenBLAS's 0.21, 1.57 and 83 ms on its two
  // threads). Other shapes go to OpenBLAS's resident threads, which beat one-thread calls here
  // and have none of the thin-side pathologies.
  const bool fewRows = M > 1 && M <= kThinGemmSide && M <= N && M <= K && !transA;
  if (fewRows && strategy == GemmStrategy::Planned) {
    if (usesFewRowsGemm(transA, transB, M, K)) {
      sgemmFewRowsSplit(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else {
      sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    return;
  }
  if (flops < kMinThreadedGemmFlops || (thin && flops < kMinSplitThinGemmFlops && strategy != GemmStrategy::Split)) {
    sgemmOneThread(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else if (strategy == GemmStrategy::Split || thin) {
    sgemmSplit(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else {
    sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

}  // namespace tk
