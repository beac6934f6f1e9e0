// C = alpha A Bᵀ + beta C for a few rows of A (decoded tokens) against a weight matrix B stored
// [N, K] row-major. OpenBLAS packs (copies) all of B on every call, which for a handful of rows
// costs more than the arithmetic (measured 65 GFLOP/s on one thread for 16×8192×256). Here each
// row of B is read from memory once and reused from L1 for every row of A, with the dot
// products accumulated along K in 16-lane (AVX-512) or 8-lane (AVX2) vectors.
// few_rows_gemm.cc holds the kernels, built for the avx512 and avx2 levels (kernel_level.h);
// the baseline level has none, and gemm_plan.h sends these shapes to OpenBLAS there.
#pragma once
#include <cstdint>

namespace tk {

/** Most rows of A this kernel is used for; beyond that OpenBLAS's packing pays for itself. */
constexpr int64_t kFewRowsGemmMaxM = 32;
/** Shorter dot products (a LoRA rank) spend more on the final reductions than on the FMAs. */
constexpr int64_t kFewRowsGemmMinK = 64;
/** Floats in a 64-byte cache line. */
constexpr int64_t kFloatsPerLine = 16;

/** How many floats p lies past the start of its cache line (static: each level's build keeps its own copy). */
static inline int64_t lineOffset(const float* p) {
  return static_cast<int64_t>(reinterpret_cast<uintptr_t>(p) % 64 / sizeof(float));
}

/**
 * Columns [nBegin, nEnd) of C = alpha A Bᵀ + beta C, on the calling thread. When every row of B
 * starts at the same 16-byte step into a cache line (the alignment Float32Arrays get), the loads
 * of B go line by line; A should come from lineAlignedRows (gemm_plan.h).
 */
using FewRowsGemm = void (*)(int64_t M, int64_t nBegin, int64_t nEnd, int64_t K, float alpha, const float* A, int64_t lda,
                             const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

namespace avx512 {
void sgemmFewRowsTransB(int64_t M, int64_t nBegin, int64_t nEnd, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                        int64_t ldb, float beta, float* C, int64_t ldc);
}
namespace avx2 {
void sgemmFewRowsTransB(int64_t M, int64_t nBegin, int64_t nEnd, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                        int64_t ldb, float beta, float* C, int64_t ldc);
}

/** The kernel of the level picked when the addon loaded (kernel_level.cc); null at the baseline level. */
extern const FewRowsGemm fewRowsGemm;

}  // namespace tk
