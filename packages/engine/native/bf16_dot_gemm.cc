// The AVX512-BF16 kernels of bf16_gemm.h, built with -mavx512bf16 into their own static library
// (binding.gyp) and called only when the CPU has the instructions (kernel_level.cc). They hold no
// threads and no shared inline code: gemm_bf16.cc splits the work and owns the buffers.
#include <immintrin.h>

#include <cstring>

#include "bf16.h"
#include "bf16_gemm.h"

#if !defined(__AVX512BF16__)
#error "bf16_dot_gemm.cc must be compiled with -mavx512bf16 (binding.gyp)"
#endif

// GCC 12 flags the placeholders its own AVX-512 intrinsics start from as uninitialised once
// inlined (GCC bug 105593); no such value is ever read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tk::avx512bf16 {

namespace {

constexpr int MR = static_cast<int>(kBf16DotRows);
constexpr int NR = static_cast<int>(kBf16DotCols);
/** Strips of A run over this many panels of B at a time, so each strip is loaded once per group. */
constexpr int64_t kPanelsPerGroup = 4;
/**
 * K is cut into blocks of this many pairs: a strip's block of A (8 KB) stays in L1 while it meets
 * the group's panels (4 × 32 KB, in L2). Without blocks a long K (the head's backward, K = vocab)
 * streams every strip from L3 once per panel.
 */
constexpr int64_t kPairsPerBlock = 256;

inline uint32_t pairOf(uint16_t lo, uint16_t hi) { return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16); }

inline __m512 dot(__m512 acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }

inline __mmask16 lanesBelow(int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xffff) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1); }

/** o[q] = lane q of every r[i] (a 16 × 16 transpose of 32-bit lanes). */
inline void transpose16(const __m512i (&r)[16], __m512i (&o)[16]) {
  __m512i t[16], u[16], v[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int i = 0; i < 2; i++) {
    for (int j = 0; j < 4; j++) {
      v[8 * i + j] = _mm512_shuffle_i32x4(u[8 * i + j], u[8 * i + 4 + j], 0x88);
      v[8 * i + 4 + j] = _mm512_shuffle_i32x4(u[8 * i + j], u[8 * i + 4 + j], 0xdd);
    }
  }
  for (int j = 0; j < 8; j++) {
    o[j] = _mm512_shuffle_i32x4(v[j], v[8 + j], 0x88);
    o[8 + j] = _mm512_shuffle_i32x4(v[j], v[8 + j], 0xdd);
  }
}

/** Pairs [p0, p1) of panel j (columns j·32 ..) of B as [p1 - p0][32] pairs (k, k+1), zeros past N and K. */
void packPanel(bool transB, int64_t j, int64_t N, int64_t K, const uint16_t* B, int64_t ldb, int64_t p0, int64_t p1, uint32_t* out) {
  const int64_t n0 = j * NR;
  const int64_t cols = N - n0 < NR ? N - n0 : NR;
  const int64_t fullPairs = K / 2 < p1 ? K / 2 : p1;
  if (transB) {
    // B stored [N, K]: column n of op(B) is row n of B, so each pair is two neighbours in a row:
    // 16 pairs of 16 rows are read as 16 vectors and transposed (rows past N count as zeros).
    int64_t pv = p0;
    for (; pv + 16 <= fullPairs; pv += 16) {
      for (int64_t h = 0; h < NR / 16; h++) {
        __m512i r[16], o[16];
        for (int64_t c = 0; c < 16; c++) {
          r[c] = 16 * h + c < cols ? _mm512_loadu_si512(B + (n0 + 16 * h + c) * ldb + 2 * pv) : _mm512_setzero_si512();
        }
        transpose16(r, o);
        for (int64_t q = 0; q < 16; q++) _mm512_storeu_si512(out + (pv + q - p0) * NR + 16 * h, o[q]);
      }
    }
    for (int64_t c = 0; c < NR; c++) {
      if (c >= cols) {
        for (int64_t p = pv; p < p1; p++) out[(p - p0) * NR + c] = 0;
        continue;
      }
      const uint16_t* row = B + (n0 + c) * ldb;
      for (int64_t p = pv; p < fullPairs; p++) out[(p - p0) * NR + c] = pairOf(row[2 * p], row[2 * p + 1]);
      if (fullPairs < p1) out[(p1 - 1 - p0) * NR + c] = pairOf(row[K - 1], 0);
    }
    return;
  }
  // B stored [K, N]: a pair is the same column of two neighbouring rows.
  for (int64_t p = p0; p < p1; p++) {
    const uint16_t* r0 = B + 2 * p * ldb + n0;
    const uint16_t* r1 = 2 * p + 1 < K ? r0 + ldb : nullptr;
    uint32_t* o = out + (p - p0) * NR;
    if (r1 != nullptr) {
      for (int64_t c = 0; c < cols; c++) o[c] = pairOf(r0[c], r1[c]);
    } else {
      for (int64_t c = 0; c < cols; c++) o[c] = pairOf(r0[c], 0);
    }
    for (int64_t c = cols; c < NR; c++) o[c] = 0;
  }
}

/** C[rows, cols] (+)= alpha · strip · panel: 8 × 32 accumulators, 16 zmm registers. */
void microTile(int64_t Kp, const uint32_t* a, const uint32_t* b, float alpha, float beta, float* C, int64_t ldc, int64_t rows,
               int64_t cols) {
  __m512 acc[MR][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < Kp; p++) {
    const __m512i b0 = _mm512_loadu_si512(b + p * NR);
    const __m512i b1 = _mm512_loadu_si512(b + p * NR + 16);
    const uint32_t* ap = a + p * MR;
    for (int i = 0; i < MR; i++) {
      const __m512i ai = _mm512_set1_epi32(static_cast<int>(ap[i]));
      acc[i][0] = dot(acc[i][0], ai, b0);
      acc[i][1] = dot(acc[i][1], ai, b1);
    }
  }
  const __mmask16 m0 = lanesBelow(cols), m1 = lanesBelow(cols - 16);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int64_t i = 0; i < rows; i++) {
    float* c = C + i * ldc;
    __m512 v0 = _mm512_mul_ps(va, acc[i][0]), v1 = _mm512_mul_ps(va, acc[i][1]);
    // beta = 0 never reads C, so stale NaNs in the output do not leak through.
    if (beta != 0.f) {
      v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), v0);
      v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), v1);
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
  }
}

/** 16 floats rounded to bf16 as floatToBf16 rounds them (nearest even, NaN to a quiet NaN), in the low halves of the lanes. */
inline __m512i roundLanesToBf16(__m512 f) {
  const __m512i u = _mm512_castps_si512(f);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_mov_epi32(r, nan, _mm512_set1_epi32(0x7fc0));
}

inline float sumLanes(__m512 v) { return _mm512_reduce_add_ps(v); }

/** Up to 8 rows of A against one row of B, 32 bf16 of K per step. */
template <int ROWS>
void fewRowsColumn(int64_t K, float alpha, const uint16_t* A, int64_t aStride, const uint16_t* b, float beta, float* C, int64_t ldc) {
  __m512 acc[ROWS];
  for (int i = 0; i < ROWS; i++) acc[i] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    const __m512i bv = _mm512_loadu_si512(b + k);
    for (int i = 0; i < ROWS; i++) acc[i] = dot(acc[i], _mm512_loadu_si512(A + i * aStride + k), bv);
  }
  if (k < K) {
    // A's rows are zero-padded, so only B needs a masked load.
    const __mmask32 m = K - k >= 32 ? 0xffffffffu : static_cast<__mmask32>((1ull << (K - k)) - 1);
    const __m512i bv = _mm512_maskz_loadu_epi16(m, b + k);
    for (int i = 0; i < ROWS; i++) acc[i] = dot(acc[i], _mm512_loadu_si512(A + i * aStride + k), bv);
  }
  for (int i = 0; i < ROWS; i++) {
    const float s = alpha * sumLanes(acc[i]);
    C[i * ldc] = beta == 0.f ? s : s + beta * C[i * ldc];
  }
}

}  // namespace

void packAStrips(int64_t sBegin, int64_t sEnd, int64_t M, int64_t K, const float* A, int64_t lda, uint32_t* packed) {
  const int64_t Kp = (K + 1) / 2;
  for (int64_t s = sBegin; s < sEnd; s++) {
    uint32_t* out = packed + s * Kp * MR;
    for (int i = 0; i < MR; i++) {
      const int64_t m = s * MR + i;
      if (m >= M) {
        for (int64_t p = 0; p < Kp; p++) out[p * MR + i] = 0;
        continue;
      }
      const float* row = A + m * lda;
      // 16 pairs at a time, scattered to their places in the strip (a stride of 8 lanes).
      const __m512i lanes = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(MR));
      int64_t p = 0;
      for (; p + 16 <= K / 2; p += 16) {
        const __m256i lo = _mm512_cvtepi32_epi16(roundLanesToBf16(_mm512_loadu_ps(row + 2 * p)));
        const __m256i hi = _mm512_cvtepi32_epi16(roundLanesToBf16(_mm512_loadu_ps(row + 2 * p + 16)));
        _mm512_i32scatter_epi32(out + p * MR + i, lanes, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), 4);
      }
      for (; p < K / 2; p++) out[p * MR + i] = pairOf(floatToBf16(row[2 * p]), floatToBf16(row[2 * p + 1]));
      if (K % 2) out[(Kp - 1) * MR + i] = pairOf(floatToBf16(row[K - 1]), 0);
    }
  }
}

void panels(bool transB, int64_t panelBegin, int64_t panelEnd, int64_t M, int64_t N, int64_t K, float alpha, const uint32_t* packedA,
            const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc, uint32_t* panelBuffer) {
  const int64_t Kp = (K + 1) / 2;
  const int64_t strips = (M + MR - 1) / MR;
  for (int64_t g0 = panelBegin; g0 < panelEnd; g0 += kPanelsPerGroup) {
    const int64_t g1 = g0 + kPanelsPerGroup < panelEnd ? g0 + kPanelsPerGroup : panelEnd;
    for (int64_t p0 = 0; p0 < Kp; p0 += kPairsPerBlock) {
      const int64_t p1 = p0 + kPairsPerBlock < Kp ? p0 + kPairsPerBlock : Kp;
      const int64_t pairs = p1 - p0;
      for (int64_t j = g0; j < g1; j++) packPanel(transB, j, N, K, B, ldb, p0, p1, panelBuffer + (j - g0) * pairs * NR);
      // Later blocks add onto what the earlier ones stored.
      const float betaHere = p0 == 0 ? beta : 1.f;
      for (int64_t s = 0; s < strips; s++) {
        const int64_t rows = M - s * MR < MR ? M - s * MR : MR;
        for (int64_t j = g0; j < g1; j++) {
          microTile(pairs, packedA + s * Kp * MR + p0 * MR, panelBuffer + (j - g0) * pairs * NR, alpha, betaHere,
                    C + s * MR * ldc + j * NR, ldc, rows, N - j * NR);
        }
      }
    }
  }
}

void fewRowsTransB(int64_t M, int64_t nBegin, int64_t nEnd, int64_t K, float alpha, const uint16_t* A, int64_t aStride,
                   const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t n = nBegin; n < nEnd; n++) {
    const uint16_t* b = B + n * ldb;
    int64_t m = 0;
    for (; m + 8 <= M; m += 8) fewRowsColumn<8>(K, alpha, A + m * aStride, aStride, b, beta, C + m * ldc + n, ldc);
    const uint16_t* a = A + m * aStride;
    float* c = C + m * ldc + n;
    switch (M - m) {
      case 7: fewRowsColumn<7>(K, alpha, a, aStride, b, beta, c, ldc); break;
      case 6: fewRowsColumn<6>(K, alpha, a, aStride, b, beta, c, ldc); break;
      case 5: fewRowsColumn<5>(K, alpha, a, aStride, b, beta, c, ldc); break;
      case 4: fewRowsColumn<4>(K, alpha, a, aStride, b, beta, c, ldc); break;
      case 3: fewRowsColumn<3>(K, alpha, a, aStride, b, beta, c, ldc); break;
      case 2: fewRowsColumn<2>(K, alpha, a, aStride, b, beta, c, ldc); break;
      case 1: fewRowsColumn<1>(K, alpha, a, aStride, b, beta, c, ldc); break;
      default: break;
    }
  }
}

}  // namespace tk::avx512bf16

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
