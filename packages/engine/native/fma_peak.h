// The FMA microbenchmark behind peakGflops (runtime.cc): the yardstick benchmarks report GEMM
// speed against. fma_peak.cc is compiled once per kernel level (kernel_level.h), so the peak is
// measured with the vectors the chosen level's kernels use.
#pragma once
#include <cstdint>

namespace tk {

struct FmaProbe {
  /** f32 lanes per FMA: 16 (AVX-512), 8 (AVX2) or 1. */
  int lanes;
  /** Runs `iters` rounds of 12 independent FMA chains; the result only keeps them observable. */
  double (*chains)(int64_t iters);
};

namespace avx512 { extern const FmaProbe fmaProbe; }
namespace avx2 { extern const FmaProbe fmaProbe; }
namespace baseline { extern const FmaProbe fmaProbe; }

/** The probe of the level picked when the addon loaded (kernel_level.cc). */
extern const FmaProbe& activeFmaProbe;

}  // namespace tk
