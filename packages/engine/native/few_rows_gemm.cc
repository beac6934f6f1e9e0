// The few-row GEMM kernels (few_rows_gemm.h), compiled once per kernel level (binding.gyp): the
// AVX-512 one in the avx512 build, the AVX2 one in the avx2 build, nothing in the baseline build.
// Every helper lives in the namespace TK_KERNEL_LEVEL names, so no level's copy of an inline
// function can stand in for another's at link time.
#include "few_rows_gemm.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#ifndef TK_KERNEL_LEVEL
#error "binding.gyp defines TK_KERNEL_LEVEL (avx512, avx2 or baseline) for each build of this file"
#endif

namespace tk::TK_KERNEL_LEVEL {

#if defined(__AVX512F__)

// GCC 12 flags the placeholders that its own AVX-512 intrinsics start from (_mm512_undefined_*)
// as uninitialised once they are inlined here (GCC bug 105593); no such value is ever read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/** Lane i*4+j of the result is the sum of all 16 lanes of v[i][j]. */
inline __m512 reduceSixteen(const __m512 (&v)[4][4]) {
  __m512 t[8];
  for (int p = 0; p < 8; p++) {
    const __m512 a = v[(2 * p) / 4][(2 * p) % 4], b = v[(2 * p + 1) / 4][(2 * p + 1) % 4];
    t[p] = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  }
  __m512 u[4];
  for (int p = 0; p < 4; p++) {
    u[p] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * p], t[2 * p + 1], 0x44), _mm512_shuffle_ps(t[2 * p], t[2 * p + 1], 0xEE));
  }
  const __m512 w0 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x88), _mm512_shuffle_f32x4(u[0], u[1], 0xDD));
  const __m512 w1 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x88), _mm512_shuffle_f32x4(u[2], u[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(w0, w1, 0x88), _mm512_shuffle_f32x4(w0, w1, 0xDD));
}

/** C[i][0..3] = chunk i of `sums` (+ beta C), rows i < 4; beta = 0 never reads C, so stale NaNs stay out. */
inline void storeTile(__m512 sums, float beta, float* C, int64_t ldc) {
  const __m128 rows[4] = {_mm512_extractf32x4_ps(sums, 0), _mm512_extractf32x4_ps(sums, 1), _mm512_extractf32x4_ps(sums, 2),
                          _mm512_extractf32x4_ps(sums, 3)};
  for (int i = 0; i < 4; i++) {
    float* c = C + i * ldc;
    _mm_storeu_ps(c, beta == 0.f ? rows[i] : _mm_add_ps(rows[i], _mm_mul_ps(_mm_set1_ps(beta), _mm_loadu_ps(c))));
  }
}

/**
 * B[k, k+16) of one row of B. With SHIFT > 0 the rows start SHIFT floats past a cache line:
 * each step then loads the next whole line and joins it to the previous one (`low`) with
 * valignd instead of loading across two lines (measured on Zen 4, one thread, 16×1024×256:
 * 50 GFLOP/s with B 16 bytes past a line, 72 when it starts on one). The lanes hold the same
 * elements as an unaligned load, so results do not depend on where B sits in memory.
 * Only for full steps (k + 16 <= K): every line read then holds part of the row.
 */
template <int SHIFT>
inline __m512 loadRowStep(const float* rowAtK, __m512& low) {
  if constexpr (SHIFT == 0) {
    return _mm512_loadu_ps(rowAtK);
  } else {
    const __m512 high = _mm512_load_ps(rowAtK - SHIFT + 16);
    const __m512 v = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(high), _mm512_castps_si512(low), SHIFT));
    low = high;
    return v;
  }
}

/**
 * One MR×NR tile of C: rows m0.. of A against rows n0.. of B, B's rows starting SHIFT floats past
 * a cache line. With `ahead` (not null) it also prefetches the same span of the NR rows there.
 */
template <int MR, int NR, int SHIFT, bool PREFETCH = false>
inline void fewRowsTile(int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                        int64_t ldc, const float* ahead = nullptr) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  __m512 low[NR];
  for (int j = 0; j < NR; j++) low[j] = SHIFT == 0 ? _mm512_setzero_ps() : _mm512_load_ps(B + j * ldb - SHIFT);
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    if constexpr (PREFETCH) {
      for (int j = 0; j < NR; j++) _mm_prefetch(reinterpret_cast<const char*>(ahead + j * ldb + k), _MM_HINT_T1);
    }
    __m512 b[NR];
    for (int j = 0; j < NR; j++) b[j] = loadRowStep<SHIFT>(B + j * ldb + k, low[j]);
    for (int i = 0; i < MR; i++) {
      const __m512 a = _mm512_loadu_ps(A + i * lda + k);
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  if (k < K) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (K - k)) - 1u);
    __m512 b[NR];
    for (int j = 0; j < NR; j++) b[j] = _mm512_maskz_loadu_ps(mask, B + j * ldb + k);
    for (int i = 0; i < MR; i++) {
      const __m512 a = _mm512_maskz_loadu_ps(mask, A + i * lda + k);
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  if constexpr (MR == 4 && NR == 4) {
    // Full tile: one transposing tree reduces the 16 accumulators together.
    const __m512 sums = reduceSixteen(acc);
    const __m512 scaled = _mm512_mul_ps(sums, _mm512_set1_ps(alpha));
    storeTile(scaled, beta, C, ldc);
    return;
  }
  for (int i = 0; i < MR; i++) {
    for (int j = 0; j < NR; j++) {
      const float dotValue = alpha * _mm512_reduce_add_ps(acc[i][j]);
      float& c = C[i * ldc + j];
      // beta = 0 never reads C, so stale NaNs in the output do not leak through.
      c = beta == 0.f ? dotValue : dotValue + beta * c;
    }
  }
}

/**
 * The first row tile of each column block prefetches the block this many blocks ahead into L2.
 * Weights stream from L3 or memory once per call, and a block's four rows read side by side are
 * not a pattern the hardware prefetchers follow well (measured on Zen 4, weights not cached,
 * two threads: 16×8192×256 in 0.54–0.66 ms against 0.77 ms without; 16×1024×256 on one
 * thread 119 µs against 185–210 µs). Hints to L1 gained less: its few outstanding misses cap them.
 */
constexpr int64_t kFewRowsPrefetchBlocks = 2;

/** Rows [0, M) of A against NR rows of B; the first row tile also prefetches `ahead` (if not null). */
template <int NR, int SHIFT>
inline void fewRowsColumnBlock(int64_t M, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                               float* C, int64_t ldc, const float* ahead) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) {
    if (m == 0 && ahead != nullptr) {
      fewRowsTile<4, NR, SHIFT, true>(K, alpha, A, lda, B, ldb, beta, C, ldc, ahead);
    } else {
      fewRowsTile<4, NR, SHIFT>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc);
    }
  }
  const float* a = A + m * lda;
  float* c = C + m * ldc;
  const bool prefetch = m == 0 && ahead != nullptr;  // fewer than 4 rows in all
  switch (M - m) {
    case 3: prefetch ? fewRowsTile<3, NR, SHIFT, true>(K, alpha, a, lda, B, ldb, beta, c, ldc, ahead)
                     : fewRowsTile<3, NR, SHIFT>(K, alpha, a, lda, B, ldb, beta, c, ldc); break;
    case 2: prefetch ? fewRowsTile<2, NR, SHIFT, true>(K, alpha, a, lda, B, ldb, beta, c, ldc, ahead)
                     : fewRowsTile<2, NR, SHIFT>(K, alpha, a, lda, B, ldb, beta, c, ldc); break;
    case 1: prefetch ? fewRowsTile<1, NR, SHIFT, true>(K, alpha, a, lda, B, ldb, beta, c, ldc, ahead)
                     : fewRowsTile<1, NR, SHIFT>(K, alpha, a, lda, B, ldb, beta, c, ldc); break;
    default: break;
  }
}

template <int SHIFT>
inline void fewRowsColumns(int64_t M, int64_t nBegin, int64_t nEnd, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                           int64_t ldb, float beta, float* C, int64_t ldc) {
  int64_t n = nBegin;
  for (; n + 4 <= nEnd; n += 4) {
    const int64_t nAhead = n + 4 * kFewRowsPrefetchBlocks;
    const float* ahead = nAhead + 4 <= nEnd ? B + nAhead * ldb : nullptr;
    fewRowsColumnBlock<4, SHIFT>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc, ahead);
  }
  switch (nEnd - n) {
    case 3: fewRowsColumnBlock<3, SHIFT>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc, nullptr); break;
    case 2: fewRowsColumnBlock<2, SHIFT>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc, nullptr); break;
    case 1: fewRowsColumnBlock<1, SHIFT>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc, nullptr); break;
    default: break;
  }
}

/**
 * Columns [nBegin, nEnd) of C = alpha A Bᵀ + beta C, on the calling thread. When every row of B
 * starts at the same 16-byte step into a cache line (the alignment Float32Arrays get), the loads
 * of B go line by line; A should come from lineAlignedRows.
 */
void sgemmFewRowsTransB(int64_t M, int64_t nBegin, int64_t nEnd, int64_t K, float alpha, const float* A, int64_t lda,
                               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const bool sameOffsetEveryRow = ldb % kFloatsPerLine == 0 && reinterpret_cast<uintptr_t>(B) % sizeof(float) == 0;
  switch (sameOffsetEveryRow ? lineOffset(B) : 0) {
    case 4: fewRowsColumns<4>(M, nBegin, nEnd, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 8: fewRowsColumns<8>(M, nBegin, nEnd, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 12: fewRowsColumns<12>(M, nBegin, nEnd, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    default: fewRowsColumns<0>(M, nBegin, nEnd, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#elif defined(__AVX2__) && defined(__FMA__)

/**
 * Up to this K, one row of B at a time meets 8 rows of A that stay in L1 (8 × 512 floats =
 * 16 KB); beyond it the tiled kernel reuses each loaded piece of A for 4 rows of B instead.
 * Measured on Zen 3 for 16 rows: 8192×256 in 1.2 ms (row at a time) against 2.1 ms (3×4 tiles)
 * and 2.0 ms (OpenBLAS); 256×1024 in 150 µs (tiles) against 280 µs (row at a time).
 */
constexpr int64_t kFewRowsColumnKernelMaxK = 512;

inline float sumLanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/** Lanes 0..3 are the sums of all 8 lanes of v0..v3. */
inline __m128 sumLanesOfFour(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
  const __m256 pairs = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
  return _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1));
}

/** The first n (< 8) lanes set, for loading the end of a row. */
inline __m256i firstLanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/** c (+)= alpha * dot; beta = 0 never reads c, so stale NaNs in the output do not leak through. */
inline void storeScaled(float dotValue, float alpha, float beta, float& c) {
  c = beta == 0.f ? alpha * dotValue : alpha * dotValue + beta * c;
}

/**
 * One MR×NR tile of C: rows of A against rows of B, each dot product accumulated in 8 lanes.
 * MR×NR accumulators of at most 12 (with the NR rows of B, 16 registers) keep the FMA units busy.
 */
template <int MR, int NR>
inline void fewRowsTile(int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                        int64_t ldc) {
  __m256 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 b[NR];
    for (int j = 0; j < NR; j++) b[j] = _mm256_loadu_ps(B + j * ldb + k);
    for (int i = 0; i < MR; i++) {
      const __m256 a = _mm256_loadu_ps(A + i * lda + k);
      for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  if (k < K) {
    const __m256i mask = firstLanes(K - k);
    __m256 b[NR];
    for (int j = 0; j < NR; j++) b[j] = _mm256_maskload_ps(B + j * ldb + k, mask);
    for (int i = 0; i < MR; i++) {
      const __m256 a = _mm256_maskload_ps(A + i * lda + k, mask);
      for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; i++) {
    if constexpr (NR == 4) {
      alignas(16) float sums[4];
      _mm_store_ps(sums, sumLanesOfFour(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
      for (int j = 0; j < 4; j++) storeScaled(sums[j], alpha, beta, C[i * ldc + j]);
    } else {
      for (int j = 0; j < NR; j++) storeScaled(sumLanes(acc[i][j]), alpha, beta, C[i * ldc + j]);
    }
  }
}

/** Rows [0, M) of A against NR rows of B: tiles of 3 rows, then the 1–2 left. */
template <int NR>
inline void fewRowsTileColumn(int64_t M, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                              float* C, int64_t ldc) {
  int64_t m = 0;
  for (; m + 3 <= M; m += 3) fewRowsTile<3, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc);
  if (M - m == 2) fewRowsTile<2, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc);
  if (M - m == 1) fewRowsTile<1, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc);
}

/** Rows [0, M) of A against one row of B: 8 rows at a time (8 accumulators hide the FMA latency), then 4, 2, 1. */
inline void fewRowsOneColumn(int64_t M, int64_t K, float alpha, const float* A, int64_t lda, const float* b, float beta, float* C,
                             int64_t ldc) {
  int64_t m = 0;
  for (; m + 8 <= M; m += 8) fewRowsTile<8, 1>(K, alpha, A + m * lda, lda, b, 0, beta, C + m * ldc, ldc);
  if (M - m >= 4) {
    fewRowsTile<4, 1>(K, alpha, A + m * lda, lda, b, 0, beta, C + m * ldc, ldc);
    m += 4;
  }
  if (M - m >= 2) {
    fewRowsTile<2, 1>(K, alpha, A + m * lda, lda, b, 0, beta, C + m * ldc, ldc);
    m += 2;
  }
  if (M - m >= 1) fewRowsTile<1, 1>(K, alpha, A + m * lda, lda, b, 0, beta, C + m * ldc, ldc);
}

/** Columns [nBegin, nEnd) of C = alpha A Bᵀ + beta C, on the calling thread. */
void sgemmFewRowsTransB(int64_t M, int64_t nBegin, int64_t nEnd, int64_t K, float alpha, const float* A, int64_t lda,
                               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (K <= kFewRowsColumnKernelMaxK) {
    for (int64_t n = nBegin; n < nEnd; n++) fewRowsOneColumn(M, K, alpha, A, lda, B + n * ldb, beta, C + n, ldc);
    return;
  }
  int64_t n = nBegin;
  for (; n + 4 <= nEnd; n += 4) fewRowsTileColumn<4>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc);
  switch (nEnd - n) {
    case 3: fewRowsTileColumn<3>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc); break;
    case 2: fewRowsTileColumn<2>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc); break;
    case 1: fewRowsTileColumn<1>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc); break;
    default: break;
  }
}
#endif

}  // namespace tk::TK_KERNEL_LEVEL
