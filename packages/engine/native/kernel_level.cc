// Picks the kernel level once, when the addon is loaded (static initialisation at dlopen), and
// points the level tables of fast_math_kernels.h, few_rows_gemm.h and fma_peak.h at it, and the
// bf16 GEMM (bf16_gemm.h) at its kernel.
#include "kernel_level.h"

#include <cstdlib>

#include "bf16_gemm.h"
#include "fast_math_kernels.h"
#include "few_rows_gemm.h"
#include "fma_peak.h"

#if defined(__x86_64__) || defined(_M_X64)
#define TK_X86_64 1
#endif

namespace tk {

namespace {

/** The highest level this CPU (and its OS, which must save the wide registers) can run. */
KernelLevel bestSupportedLevel() {
#if defined(TK_X86_64)
  __builtin_cpu_init();
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
  // The psABI level names check exactly what -march=x86-64-v3 / -v4 let the compiler use.
  if (__builtin_cpu_supports("x86-64-v4")) return KernelLevel::Avx512;
  if (__builtin_cpu_supports("x86-64-v3")) return KernelLevel::Avx2;
#else
  // Older compilers know no level names: the features the kernels' code is built around.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2")) {
    return KernelLevel::Avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
      __builtin_cpu_supports("bmi2")) {
    return KernelLevel::Avx2;
  }
#endif
#endif
  return KernelLevel::Baseline;
}

struct Choice {
  KernelLevel level;
  std::string error;
};

Choice choose() {
  const KernelLevel best = bestSupportedLevel();
  const char* asked = std::getenv("TINKER_ENGINE_ISA");
  if (asked == nullptr || *asked == '\0') return {best, ""};
  const std::string name(asked);
  KernelLevel level;
  if (name == "avx512") {
    level = KernelLevel::Avx512;
  } else if (name == "avx2") {
    level = KernelLevel::Avx2;
  } else if (name == "baseline") {
    level = KernelLevel::Baseline;
  } else {
    return {best, "TINKER_ENGINE_ISA=" + name + " is not a kernel level (expected avx512, avx2 or baseline)"};
  }
  if (level > best) {
    return {best, "TINKER_ENGINE_ISA=" + name + ": this CPU runs at most the " + kernelLevelName(best) + " kernels"};
  }
  return {level, ""};
}

const Choice& choice() {
  static const Choice c = choose();
  return c;
}

#if defined(TK_X86_64)
template <typename T>
T forLevel(T avx512, T avx2, T baseline) {
  switch (kernelLevel()) {
    case KernelLevel::Avx512: return avx512;
    case KernelLevel::Avx2: return avx2;
    case KernelLevel::Baseline: break;
  }
  return baseline;
}
#endif

}  // namespace

KernelLevel kernelLevel() { return choice().level; }

const std::string& kernelLevelError() { return choice().error; }

const char* kernelLevelName(KernelLevel level) {
  switch (level) {
    case KernelLevel::Avx512: return "avx512";
    case KernelLevel::Avx2: return "avx2";
    case KernelLevel::Baseline: break;
  }
  return "baseline";
}

#if defined(TK_X86_64)
const fast::Kernels& fast::active = *forLevel(&fast::avx512::kernels, &fast::avx2::kernels, &fast::baseline::kernels);
const FmaProbe& activeFmaProbe = *forLevel(&avx512::fmaProbe, &avx2::fmaProbe, &baseline::fmaProbe);
const FewRowsGemm fewRowsGemm = forLevel<FewRowsGemm>(avx512::sgemmFewRowsTransB, avx2::sgemmFewRowsTransB, nullptr);
namespace {
/** The AVX512-BF16 dot products belong to the avx512 level, on CPUs that also have them. */
bool usesBf16Dot() { return kernelLevel() == KernelLevel::Avx512 && __builtin_cpu_supports("avx512bf16"); }
}  // namespace
const Bf16Gemm bf16Gemm = usesBf16Dot() ? gemmBf16Dot : gemmBf16Tiles;
const char* const bf16GemmName = usesBf16Dot() ? "avx512bf16-dot" : "f32-tiles";
#else
// Only the baseline build exists on other architectures.
const Bf16Gemm bf16Gemm = gemmBf16Tiles;
const char* const bf16GemmName = "f32-tiles";
const fast::Kernels& fast::active = fast::baseline::kernels;
const FmaProbe& activeFmaProbe = baseline::fmaProbe;
const FewRowsGemm fewRowsGemm = nullptr;
#endif

}  // namespace tk
