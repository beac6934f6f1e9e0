// Compiled once per kernel level (binding.gyp), each build in the namespace TK_KERNEL_LEVEL names.
// Everything here has internal linkage or lives in that namespace, and only C math functions are
// called: an inline function shared with the other builds (a C++ <cmath> overload, a template)
// could be merged by the linker with another level's copy and run its instructions on a CPU
// without them.
#include "fast_math_kernels.h"

#include <math.h>

#ifndef TK_KERNEL_LEVEL
#error "binding.gyp defines TK_KERNEL_LEVEL (avx512, avx2 or baseline) for each build of this file"
#endif

namespace tk::fast::TK_KERNEL_LEVEL {

// exp(-g) clamped so that 1/(1+e) never sees Inf (fast-math reciprocals turn Inf into NaN).
static inline float expNegClamped(float g) { return expf(-g < 80.f ? -g : 80.f); }

static float rowMax(const float* x, int64_t n) {
  float m = x[0];
  for (int64_t j = 1; j < n; j++) m = x[j] > m ? x[j] : m;
  return m;
}

static float logSumExp(const float* x, int64_t n) {
  if (n <= 0) return -INFINITY;
  const float m = rowMax(x, n);
  float s = 0.f;
  for (int64_t j = 0; j < n; j++) s += expf(x[j] - m);
  return m + logf(s);
}

static float softmaxRow(float* x, int64_t n) {
  const float m = rowMax(x, n);
  float s = 0.f;
  for (int64_t j = 0; j < n; j++) {
    const float e = expf(x[j] - m);
    x[j] = e;
    s += e;
  }
  const float inv = 1.f / s;
  for (int64_t j = 0; j < n; j++) x[j] *= inv;
  return m + logf(s);
}

static void expShifted(float* x, int64_t n, float shift) {
  for (int64_t j = 0; j < n; j++) x[j] = expf(x[j] - shift);
}

static void scaledExpShifted(float* x, int64_t n, float shift, float factor) {
  for (int64_t j = 0; j < n; j++) x[j] = factor * expf(x[j] - shift);
}

static void logSoftmaxRow(float* x, int64_t n) {
  const float l = logSumExp(x, n);
  for (int64_t j = 0; j < n; j++) x[j] -= l;
}

static void softmaxGradRow(float* p, const float* dp, float d, float scale, int64_t n) {
  for (int64_t j = 0; j < n; j++) p[j] = scale * p[j] * (dp[j] - d);
}

static float dot(const float* a, const float* b, int64_t n) {
  float s = 0.f;
  for (int64_t j = 0; j < n; j++) s += a[j] * b[j];
  return s;
}

static double sumOfSquares(const float* x, int64_t n) {
  double s = 0.0;
  for (int64_t j = 0; j < n; j++) s += static_cast<double>(x[j]) * x[j];
  return s;
}

static float rmsNormRow(const float* x, const float* w, float* out, int64_t dim, float eps) {
  float ss = 0.f;
  for (int64_t i = 0; i < dim; i++) ss += x[i] * x[i];
  const float rstd = 1.f / sqrtf(ss / static_cast<float>(dim) + eps);
  if (w) {
    for (int64_t i = 0; i < dim; i++) out[i] = x[i] * rstd * w[i];
  } else {
    for (int64_t i = 0; i < dim; i++) out[i] = x[i] * rstd;
  }
  return rstd;
}

static void rmsNormBackwardRow(const float* dout, const float* x, const float* w, float rstd, float* dx, float* dw, int64_t dim) {
  // y_i = w_i x_i r  =>  dx_i = r w_i g_i - (r^3 / dim) x_i sum_j w_j g_j x_j
  float dotWgx = 0.f;
  if (w) {
    for (int64_t i = 0; i < dim; i++) dotWgx += w[i] * dout[i] * x[i];
  } else {
    for (int64_t i = 0; i < dim; i++) dotWgx += dout[i] * x[i];
  }
  const float c = rstd * rstd * rstd * dotWgx / static_cast<float>(dim);
  if (w) {
    for (int64_t i = 0; i < dim; i++) dx[i] = rstd * w[i] * dout[i] - c * x[i];
  } else {
    for (int64_t i = 0; i < dim; i++) dx[i] = rstd * dout[i] - c * x[i];
  }
  if (dw) {
    for (int64_t i = 0; i < dim; i++) dw[i] += dout[i] * x[i] * rstd;
  }
}

// Both stream each key/value row once for all query rows of a group (decoding is bound by
// reading the KV cache, and a GEMM with M = group size would pack it first).
static void expShiftedToDouble(const float* x, int64_t n, double shift, double factor, double* out) {
  for (int64_t j = 0; j < n; j++) out[j] = exp((static_cast<double>(x[j]) - shift) * factor);
}

// Cache row j holds every kv head side by side, so walking j outermost streams the cache
// contiguously and reads each key and value once for all query heads of the range.
static void cachedScores(const float* q, int64_t kvHeads, int64_t group, const float* k, int64_t ldk, int64_t n, int64_t hd, float scale,
                  float* scores) {
  for (int64_t j = 0; j < n; j++) {
    const float* kj = k + j * ldk;
    for (int64_t g = 0; g < kvHeads; g++) {
      for (int64_t i = 0; i < group; i++) {
        const int64_t r = g * group + i;
        scores[r * n + j] = scale * dot(q + r * hd, kj + g * hd, hd);
      }
    }
  }
}

static void cachedWeightedSum(const float* p, int64_t kvHeads, int64_t group, const float* v, int64_t ldv, int64_t n, int64_t hd, float* out) {
  const int64_t rows = kvHeads * group;
  for (int64_t x = 0; x < rows * hd; x++) out[x] = 0.f;
  for (int64_t j = 0; j < n; j++) {
    const float* vj = v + j * ldv;
    for (int64_t r = 0; r < rows; r++) {
      const float prj = p[r * n + j];
      const float* vg = vj + (r / group) * hd;
      float* outR = out + r * hd;
      for (int64_t d = 0; d < hd; d++) outR[d] += prj * vg[d];
    }
  }
}

static void swigluForward(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i];
    out[i] = g / (1.f + expNegClamped(g)) * up[i];
  }
}

static void swigluBackward(const float* dout, const float* gate, const float* up, float* dgate, float* dup, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i];
    const float sg = 1.f / (1.f + expNegClamped(g));
    const float go = dout[i];
    dgate[i] = go * up[i] * sg * (1.f + g * (1.f - sg));
    dup[i] = go * g * sg;
  }
}

extern const Kernels kernels = {
    logSumExp,    softmaxRow,   expShifted,    scaledExpShifted,  logSoftmaxRow,     softmaxGradRow, expShiftedToDouble, dot,
    sumOfSquares, rmsNormRow,   rmsNormBackwardRow, cachedScores, cachedWeightedSum, swigluForward,  swigluBackward,
};

}  // namespace tk::fast::TK_KERNEL_LEVEL
