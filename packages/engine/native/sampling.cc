// drawTokens(logprobs, rows, vocab, temperature, uniforms, tokens): one inverse-CDF draw per row
// of normalised log-probabilities, without top-k / top-p filters. It walks the cumulative
// weights in vocabulary order exactly as the sampler's TypeScript picker does (f64 sums, same
// uniform per row), with the exponentials computed a block at a time by vectorised exp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "args.h"
#include "bindings.h"
#include "fast_math_kernels.h"
#include "parallel.h"

namespace tk {

/** Exponentials computed ahead of the walk; most draws stop within the first blocks. */
constexpr int64_t kDrawBlock = 512;
/** A draw walks thousands of exponentials (~15 µs for 8k), so even two rows pay for a helper's wake. */
constexpr int64_t kDrawRowsPerThread = 2;

/** temperature = 1: the row is already a distribution, walk its CDF. */
static int32_t drawUntempered(const float* lp, int64_t vocab, double u, double* w) {
  double cum = 0;
  for (int64_t b = 0; b < vocab; b += kDrawBlock) {
    const int64_t n = std::min(kDrawBlock, vocab - b);
    fast::expShiftedToDouble(lp + b, n, 0.0, 1.0, w);
    for (int64_t i = 0; i < n; i++) {
      cum += w[i];
      if (u < cum) return static_cast<int32_t>(b + i);
    }
  }
  // Rounding left the total a hair under u: the draw belongs to the last token with mass.
  for (int64_t i = vocab - 1; i > 0; i--) {
    if (lp[i] > -std::numeric_limits<float>::infinity()) return static_cast<int32_t>(i);
  }
  return 0;
}

static int32_t argmaxRow(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++) {
    if (x[i] > x[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

/** Other temperatures: weights exp((lp - max) / T), then u scaled by their total. */
static int32_t drawTempered(const float* lp, int64_t vocab, double invT, double u, double* w) {
  const int32_t top = argmaxRow(lp, vocab);
  fast::expShiftedToDouble(lp, vocab, static_cast<double>(lp[top]), invT, w);
  double total = 0;
  for (int64_t i = 0; i < vocab; i++) total += w[i];
  u *= total;
  for (int64_t i = 0; i < vocab; i++) {
    u -= w[i];
    if (u < 0) return static_cast<int32_t>(i);
  }
  return top;
}

static Napi::Value DrawTokens(const Napi::CallbackInfo& info) {
  View<float> lp = f32(info, 0, "logprobs");
  const int64_t rows = count(info, 1, "rows"), vocab = count(info, 2, "vocab");
  const double temperature = number(info, 3, "temperature");
  View<double> uniforms = f64(info, 4, "uniforms");
  View<int32_t> tokens = i32(info, 5, "tokens");
  if (!(temperature > 0) || !std::isfinite(temperature)) throwRange("temperature must be a positive finite number");
  if (vocab < 1) throwRange("vocab must be at least 1");
  requireLength(lp, rows * vocab, "logprobs");
  requireLength(uniforms, rows, "uniforms");
  requireLength(tokens, rows, "tokens");
  // Rows are independent draws (each with its own uniform), so they split across the cores.
  parallelRanges(rows, kDrawRowsPerThread, [&](int64_t begin, int64_t end) {
    std::vector<double> w(temperature == 1.0 ? std::min(kDrawBlock, vocab) : vocab);
    for (int64_t r = begin; r < end; r++) {
      const float* row = lp.data + r * vocab;
      const double u = uniforms.data[r];
      tokens.data[r] = temperature == 1.0 ? drawUntempered(row, vocab, u, w.data()) : drawTempered(row, vocab, 1.0 / temperature, u, w.data());
    }
  });
  return info.Env().Undefined();
}

void registerSampling(Napi::Env env, Napi::Object exports) {
  exports.Set("drawTokens", Napi::Function::New(env, guarded<DrawTokens>, "drawTokens"));
}

}  // namespace tk
