/**
 * Sets OpenBLAS's environment before the native addon is loaded (OpenBLAS reads it when the
 * library is dlopen'ed, so this module must be imported first).
 *
 * Kernels: some environments
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

/**
 * Idle threads: after each threaded GEMM, OpenBLAS's helper threads keep calling sched_yield
 * for 2^28 cycles (~0.1 s) before they sleep, so between GEMMs they hold the cores the task
 * pool's helpers, the request thread of a server and every other process want. 2^4 cycles
 * (OpenBLAS's minimum) sends them to sleep at once; waking them for the next GEMM costs
 * microseconds. Measured on the engine bench: LoRA train steps 11–25% faster. A value set by
 * the user is kept.
 */
process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
