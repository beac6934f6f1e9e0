// The FMA peak probe (fma_peak.h), compiled once per kernel level (binding.gyp) into the
// namespace TK_KERNEL_LEVEL names. 12 independent FMA chains hide the 4-cycle latency on two
// FMA pipes.
#include "fma_peak.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#ifndef TK_KERNEL_LEVEL
#error "binding.gyp defines TK_KERNEL_LEVEL (avx512, avx2 or baseline) for each build of this file"
#endif

namespace tk::TK_KERNEL_LEVEL {

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

extern const FmaProbe fmaProbe = {kLanes, fmaChains};

}  // namespace tk::TK_KERNEL_LEVEL
