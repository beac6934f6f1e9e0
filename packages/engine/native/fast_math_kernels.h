// Row kernels dominated by exp / sqrt / reductions. They are compiled alone with -ffast-math
// (see binding.gyp) so that GCC vectorises expf through glibc's libmvec and reassociates the
// reductions; callers never rely on Inf/NaN semantics inside them (masked entries are skipped,
// not set to -inf). Results stay within ~1e-6 relative of the f64 reference.
#pragma once
#include <cstdint>

namespace tk::fast {

/** log(sum(exp(x[0..n)))) computed with the max shift. */
float logSumExp(const float* x, int64_t n);

/** In place: x[j] = exp(x[j] - max) / sum over j < n. Returns the log-sum-exp of the input row. */
float softmaxRow(float* x, int64_t n);

/** In place: x[j] = exp(x[j] - shift) for j < n. */
void expShifted(float* x, int64_t n, float shift);

/** In place: x[j] = factor * exp(x[j] - shift) for j < n. */
void scaledExpShifted(float* x, int64_t n, float shift, float factor);

/** In place: x[j] -= logSumExp(x). */
void logSoftmaxRow(float* x, int64_t n);

/** Attention backward: p[j] = scale * p[j] * (dp[j] - d), turning probabilities into dS. */
void softmaxGradRow(float* p, const float* dp, float d, float scale, int64_t n);

/** out[j] = exp((x[j] - shift) * factor) in double, j < n (vectorised; within a few ulp of exp). */
void expShiftedToDouble(const float* x, int64_t n, double shift, double factor, double* out);

float dot(const float* a, const float* b, int64_t n);

/** Sum of squares accumulated in double. */
double sumOfSquares(const float* x, int64_t n);

/** out = x * rstd * w (w may be null); returns rstd = 1/sqrt(mean(x^2) + eps). */
float rmsNormRow(const float* x, const float* w, float* out, int64_t dim, float eps);

/** dx (overwritten) and dw (accumulated, may be null) of one RMSNorm row. */
void rmsNormBackwardRow(const float* dout, const float* x, const float* w, float rstd, float* dx, float* dw, int64_t dim);

/**
 * Decoding scores of `kvHeads` consecutive kv heads against n cached rows, each kv head shared by
 * `group` adjacent query heads: scores[r*n + j] = scale * dot(q_r, k_j + (r / group)*hd) for the
 * query vectors q_r = q + r*hd, r < kvHeads*group, and cache rows k_j = k + j*ldk.
 */
void cachedScores(const float* q, int64_t kvHeads, int64_t group, const float* k, int64_t ldk, int64_t n, int64_t hd, float scale,
                  float* scores);

/** out_r = sum_j p[r*n + j] * (v_j + (r / group)*hd), r < kvHeads*group, out_r = out + r*hd (overwritten). */
void cachedWeightedSum(const float* p, int64_t kvHeads, int64_t group, const float* v, int64_t ldv, int64_t n, int64_t hd, float* out);

void swigluForward(const float* gate, const float* up, float* out, int64_t n);
void swigluBackward(const float* dout, const float* gate, const float* up, float* dgate, float* dup, int64_t n);

}  // namespace tk::fast
