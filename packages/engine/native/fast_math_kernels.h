// Row kernels dominated by exp / sqrt / reductions. They are compiled alone with -ffast-math
// (see binding.gyp) so that GCC vectorises expf through glibc's libmvec and reassociates the
// reductions; callers never rely on Inf/NaN semantics inside them (masked entries are skipped,
// not set to -inf). Results stay within ~1e-6 relative of the f64 reference.
// fast_math_kernels.cc is compiled once per kernel level (kernel_level.h), each build filling
// its own table; the functions below call the table of the level picked at load.
#pragma once
#include <cstdint>

namespace tk::fast {

/** One level's build of the kernels; the functions below document each entry. */
struct Kernels {
  float (*logSumExp)(const float* x, int64_t n);
  float (*softmaxRow)(float* x, int64_t n);
  void (*expShifted)(float* x, int64_t n, float shift);
  void (*scaledExpShifted)(float* x, int64_t n, float shift, float factor);
  void (*logSoftmaxRow)(float* x, int64_t n);
  void (*softmaxGradRow)(float* p, const float* dp, float d, float scale, int64_t n);
  void (*expShiftedToDouble)(const float* x, int64_t n, double shift, double factor, double* out);
  float (*dot)(const float* a, const float* b, int64_t n);
  double (*sumOfSquares)(const float* x, int64_t n);
  float (*rmsNormRow)(const float* x, const float* w, float* out, int64_t dim, float eps);
  void (*rmsNormBackwardRow)(const float* dout, const float* x, const float* w, float rstd, float* dx, float* dw, int64_t dim);
  void (*cachedScores)(const float* q, int64_t kvHeads, int64_t group, const float* k, int64_t ldk, int64_t n, int64_t hd, float scale,
                       float* scores);
  void (*cachedWeightedSum)(const float* p, int64_t kvHeads, int64_t group, const float* v, int64_t ldv, int64_t n, int64_t hd,
                            float* out);
  void (*swigluForward)(const float* gate, const float* up, float* out, int64_t n);
  void (*swigluBackward)(const float* dout, const float* gate, const float* up, float* dgate, float* dup, int64_t n);
};

namespace avx512 { extern const Kernels kernels; }
namespace avx2 { extern const Kernels kernels; }
namespace baseline { extern const Kernels kernels; }

/** The table of the level picked when the addon loaded (kernel_level.cc). */
extern const Kernels& active;

/** log(sum(exp(x[0..n)))) computed with the max shift. */
inline float logSumExp(const float* x, int64_t n) { return active.logSumExp(x, n); }

/** In place: x[j] = exp(x[j] - max) / sum over j < n. Returns the log-sum-exp of the input row. */
inline float softmaxRow(float* x, int64_t n) { return active.softmaxRow(x, n); }

/** In place: x[j] = exp(x[j] - shift) for j < n. */
inline void expShifted(float* x, int64_t n, float shift) { active.expShifted(x, n, shift); }

/** In place: x[j] = factor * exp(x[j] - shift) for j < n. */
inline void scaledExpShifted(float* x, int64_t n, float shift, float factor) { active.scaledExpShifted(x, n, shift, factor); }

/** In place: x[j] -= logSumExp(x). */
inline void logSoftmaxRow(float* x, int64_t n) { active.logSoftmaxRow(x, n); }

/** Attention backward: p[j] = scale * p[j] * (dp[j] - d), turning probabilities into dS. */
inline void softmaxGradRow(float* p, const float* dp, float d, float scale, int64_t n) { active.softmaxGradRow(p, dp, d, scale, n); }

/** out[j] = exp((x[j] - shift) * factor) in double, j < n (vectorised; within a few ulp of exp). */
inline void expShiftedToDouble(const float* x, int64_t n, double shift, double factor, double* out) {
  active.expShiftedToDouble(x, n, shift, factor, out);
}

inline float dot(const float* a, const float* b, int64_t n) { return active.dot(a, b, n); }

/** Sum of squares accumulated in double. */
inline double sumOfSquares(const float* x, int64_t n) { return active.sumOfSquares(x, n); }

/** out = x * rstd * w (w may be null); returns rstd = 1/sqrt(mean(x^2) + eps). */
inline float rmsNormRow(const float* x, const float* w, float* out, int64_t dim, float eps) { return active.rmsNormRow(x, w, out, dim, eps); }

/** dx (overwritten) and dw (accumulated, may be null) of one RMSNorm row. */
inline void rmsNormBackwardRow(const float* dout, const float* x, const float* w, float rstd, float* dx, float* dw, int64_t dim) {
  active.rmsNormBackwardRow(dout, x, w, rstd, dx, dw, dim);
}

/**
 * Decoding scores of `kvHeads` consecutive kv heads against n cached rows, each kv head shared by
 * `group` adjacent query heads: scores[r*n + j] = scale * dot(q_r, k_j + (r / group)*hd) for the
 * query vectors q_r = q + r*hd, r < kvHeads*group, and cache rows k_j = k + j*ldk.
 */
inline void cachedScores(const float* q, int64_t kvHeads, int64_t group, const float* k, int64_t ldk, int64_t n, int64_t hd, float scale,
                         float* scores) {
  active.cachedScores(q, kvHeads, group, k, ldk, n, hd, scale, scores);
}

/** out_r = sum_j p[r*n + j] * (v_j + (r / group)*hd), r < kvHeads*group, out_r = out + r*hd (overwritten). */
inline void cachedWeightedSum(const float* p, int64_t kvHeads, int64_t group, const float* v, int64_t ldv, int64_t n, int64_t hd,
                              float* out) {
  active.cachedWeightedSum(p, kvHeads, group, v, ldv, n, hd, out);
}

inline void swigluForward(const float* gate, const float* up, float* out, int64_t n) { active.swigluForward(gate, up, out, n); }

inline void swigluBackward(const float* dout, const float* gate, const float* up, float* dgate, float* dup, int64_t n) {
  active.swigluBackward(dout, gate, up, dgate, dup, n);
}

}  // namespace tk::fast
