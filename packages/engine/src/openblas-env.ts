/**
 * Chooses OpenBLAS's kernels before the native addon is loaded (OpenBLAS reads the variable
 * when the library is dlopen'ed, so this module must be imported first). Some environments
 * preset OPENBLAS_CORETYPE=Haswell, which pins the AVX2 kernels and halves GEMM speed on
 * AVX-512 machines; SkylakeX selects the AVX-512 ones. Without avx512f forcing SkylakeX would
 * crash with SIGILL, so the variable is left alone there.
 */
import { readFileSync } from 'node:fs';

function cpuHasAvx512f(): boolean {
  try {
    return /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

if (cpuHasAvx512f()) process.env.OPENBLAS_CORETYPE = 'SkylakeX';
