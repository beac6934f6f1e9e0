// C = alpha A Bᵀ + beta C for a few rows of A (decoded tokens) against a weight matrix B stored
// [N, K] row-major. OpenBLAS packs (copies) all of B on every call, which for a handful of rows
// costs more than the arithmetic (measured 65 GFLOP/s on one thread for 16×8192×256). Here each
// tile of B rows is read from memory once and reused from L1 for every row of A, with the dot
// products accumulated along K in 16-lane vectors.
#pragma once
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace tk {

/** Most rows of A this kernel is used for; beyond that OpenBLAS's packing pays for itself. */
constexpr int64_t kFewRowsGemmMaxM = 32;
/** Shorter dot products (a LoRA rank) spend more on the final reductions than on the FMAs. */
constexpr int64_t kFewRowsGemmMinK = 64;

#if defined(__AVX512F__)
constexpr bool kHaveFewRowsGemm = true;

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

/** One MR×NR tile of C: rows m0.. of A against rows n0.. of B. */
template <int MR, int NR>
inline void fewRowsTile(int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                        int64_t ldc) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 b[NR];
    for (int j = 0; j < NR; j++) b[j] = _mm512_loadu_ps(B + j * ldb + k);
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

template <int NR>
inline void fewRowsColumnBlock(int64_t M, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                               float* C, int64_t ldc) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) fewRowsTile<4, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc);
  switch (M - m) {
    case 3: fewRowsTile<3, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc); break;
    case 2: fewRowsTile<2, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc); break;
    case 1: fewRowsTile<1, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc); break;
    default: break;
  }
}

/** Columns [nBegin, nEnd) of C = alpha A Bᵀ + beta C, on the calling thread. */
inline void sgemmFewRowsTransB(int64_t M, int64_t nBegin, int64_t nEnd, int64_t K, float alpha, const float* A, int64_t lda,
                               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  int64_t n = nBegin;
  for (; n + 4 <= nEnd; n += 4) fewRowsColumnBlock<4>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc);
  switch (nEnd - n) {
    case 3: fewRowsColumnBlock<3>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc); break;
    case 2: fewRowsColumnBlock<2>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc); break;
    case 1: fewRowsColumnBlock<1>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc); break;
    default: break;
  }
}
#else
constexpr bool kHaveFewRowsGemm = false;

inline void sgemmFewRowsTransB(int64_t, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*,
                               int64_t) {}
#endif

}  // namespace tk
