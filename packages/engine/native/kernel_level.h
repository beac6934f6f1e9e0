// The instruction-set level of the addon's own vector kernels, picked once when the addon loads.
// The addon is compiled for its architecture's baseline (x86-64 without extensions, or the
// compiler's default elsewhere), so one build runs on every CPU of that architecture. The hot
// kernels (fast_math_kernels.cc, few_rows_gemm.cc, fma_peak.cc) are compiled again for each
// level, into a namespace named after it (binding.gyp defines TK_KERNEL_LEVEL), and the code
// outside them calls the level picked here through a table. OpenBLAS picks its own kernels.
#pragma once
#include <string>

namespace tk {

enum class KernelLevel {
  /** x86-64 (SSE2) on x86; the compiler's default elsewhere (NEON on aarch64). */
  Baseline = 0,
  /** x86-64-v3: AVX2, FMA, BMI1/2 (Haswell, Zen 1 and later), 256-bit vectors. */
  Avx2 = 1,
  /** x86-64-v4: AVX-512 F/BW/CD/DQ/VL (Skylake-SP, Zen 4 and later), 512-bit vectors. */
  Avx512 = 2,
};

/**
 * The best level this CPU runs, or the lower one asked for with TINKER_ENGINE_ISA
 * (avx512 | avx2 | baseline), read once when the addon loads.
 */
KernelLevel kernelLevel();

/** "avx512", "avx2" or "baseline". */
const char* kernelLevelName(KernelLevel level);

/** Empty, or why TINKER_ENGINE_ISA cannot be honoured; the addon then refuses to load. */
const std::string& kernelLevelError();

}  // namespace tk
