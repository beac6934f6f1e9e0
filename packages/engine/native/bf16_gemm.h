// C = alpha · A · op(B) + beta · C with A f32 [M, K] (row stride lda) and B bf16: op(B) = Bᵀ with
// B stored [N, K] (a frozen weight in the forward, x·Wᵀ), or B stored [K, N] (the backward's
// dY·W). A is rounded to bf16, the products of two bf16 are exact in f32 and the sums are f32.
//
// Two kernels compute it. Where the CPU has AVX512-BF16 and the addon runs its avx512 level,
// the dot kernel packs A into bf16 pairs and B into 32-column panels and multiplies with
// VDPBF16PS (bf16_dot_gemm.cc, built for that ISA alone): twice the products per instruction of
// an f32 FMA, and half the bytes of B. Elsewhere the tile kernel widens B in tiles to f32 and
// runs OpenBLAS sgemm on them. gemm_bf16.cc drives both; kernel_level.cc picks one at load.
#pragma once
#include <cstdint>

namespace tk {

using Bf16Gemm = void (*)(bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const uint16_t* B,
                          int64_t ldb, float beta, float* C, int64_t ldc);

/** Rows of A per strip of the dot kernel (its micro-tile is kBf16DotRows × kBf16DotCols). */
constexpr int64_t kBf16DotRows = 8;
/** Columns of B per packed panel: two vectors of 16 f32 lanes. */
constexpr int64_t kBf16DotCols = 32;
/** Up to this many rows of A (decoding) the dot kernel reads B's rows in place instead of packing them. */
constexpr int64_t kBf16FewRowsMaxM = 32;

namespace avx512bf16 {
/**
 * Strips [sBegin, sEnd) of A packed for the dot kernel: strip s holds rows s·8 .. s·8+7 (zeros
 * past M) as [ceil(K/2)][8] pairs, the low half of each the even k, rounded to bf16.
 */
void packAStrips(int64_t sBegin, int64_t sEnd, int64_t M, int64_t K, const float* A, int64_t lda, uint32_t* packed);
/**
 * Columns [panelBegin·32, panelEnd·32) of C from packed A (all strips): packs those panels of B
 * into `panelBuffer` ((panelEnd - panelBegin) · ceil(K/2) · 32 pairs) and runs every strip over them.
 */
void panels(bool transB, int64_t panelBegin, int64_t panelEnd, int64_t M, int64_t N, int64_t K, float alpha, const uint32_t* packedA,
            const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc, uint32_t* panelBuffer);
/**
 * Columns [nBegin, nEnd) of C = alpha A Bᵀ + beta C for B stored [N, K], with A given as M rows
 * of bf16 (row stride aStride, zero-padded to a multiple of 32): dot products along B's rows.
 */
void fewRowsTransB(int64_t M, int64_t nBegin, int64_t nEnd, int64_t K, float alpha, const uint16_t* A, int64_t aStride,
                   const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);
}  // namespace avx512bf16

/** The dot kernel (needs AVX512-BF16). */
void gemmBf16Dot(bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const uint16_t* B,
                 int64_t ldb, float beta, float* C, int64_t ldc);
/** The f32-tile kernel: any CPU. */
void gemmBf16Tiles(bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const uint16_t* B,
                   int64_t ldb, float beta, float* C, int64_t ldc);

/** The kernel picked when the addon loaded (kernel_level.cc). */
extern const Bf16Gemm bf16Gemm;
/** Its name: "avx512bf16-dot" or "f32-tiles". */
extern const char* const bf16GemmName;

}  // namespace tk
