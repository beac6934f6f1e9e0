/**
 * The kernels the addon runs at its picked instruction-set level (see KernelLevel), on fixed
 * inputs: the few-row GEMM, the exp / softmax / log-softmax row kernels behind attention,
 * logits and sampling, RMSNorm and SwiGLU. kernel-level.test.ts runs this file in a child
 * process per level (TINKER_ENGINE_ISA is read when the addon loads) and compares what each
 * prints with the same kernels run on the reference kernels.
 */
import { fileURLToPath } from 'node:url';
import type { Kernels } from './kernels.js';
import { Prng } from './prng.js';

/** What one run of the kernels produced, by kernel. */
export type KernelOutputs = Record<string, number[]>;

function normal(n: number, seed: number, std = 1): Float32Array {
  return new Prng(seed, 'kernel-level').fillNormal(new Float32Array(n), 0, std);
}

function fewRowsGemms(k: Kernels, out: KernelOutputs): void {
  // Decode-shaped products (a few rows against a weight stored [N, K]); the offsets put B's rows
  // on and off cache lines and leave row, column and K remainders.
  const shapes: [M: number, N: number, K: number, bOffset: number][] = [[16, 70, 256, 0], [5, 37, 100, 3], [3, 64, 256, 4], [32, 9, 80, 8]];
  let seed = 1;
  for (const [M, N, K, bOffset] of shapes) {
    const A = normal(M * K, seed++), B = normal(bOffset + N * K, seed++), C = normal(M * N, seed++);
    k.gemm(false, true, M, N, K, 0.5, A, B, 0.25, C, { bOffset });
    out[`gemm ${M}x${N}x${K}+${bOffset}`] = Array.from(C);
  }
}

function attention(k: Kernels, out: KernelOutputs): void {
  const heads = 4, kvHeads = 2, hd = 16, seqStarts = new Int32Array([0, 7, 20]), T = 20, scale = 0.25;
  const q = normal(T * heads * hd, 20), kk = normal(T * kvHeads * hd, 21), v = normal(T * kvHeads * hd, 22);
  const o = new Float32Array(T * heads * hd), lse = new Float32Array(heads * T);
  k.attentionForward(q, kk, v, o, lse, seqStarts, heads, kvHeads, hd, scale);
  out['attention out'] = Array.from(o);
  out['attention lse'] = Array.from(lse);
  const dout = normal(T * heads * hd, 23);
  const dq = new Float32Array(q.length), dk = new Float32Array(kk.length), dv = new Float32Array(v.length);
  k.attentionBackward(dout, q, kk, v, o, lse, dq, dk, dv, seqStarts, heads, kvHeads, hd, scale);
  out['attention dq'] = Array.from(dq);
  out['attention dk'] = Array.from(dk);
  out['attention dv'] = Array.from(dv);
  // One decoded row per sequence against a KV cache.
  const nSeq = 3, cap = 40, past = new Int32Array([5, 33, 0]);
  const kc = normal(nSeq * cap * kvHeads * hd, 24), vc = normal(nSeq * cap * kvHeads * hd, 25), qd = normal(nSeq * heads * hd, 26);
  const od = new Float32Array(nSeq * heads * hd);
  k.attentionWithCache(qd, kc, vc, od, past, nSeq, 1, cap, heads, kvHeads, hd, scale);
  out['attention with cache'] = Array.from(od);
}

function logits(k: Kernels, out: KernelOutputs): void {
  const rows = 3, vocab = 1003, K = 2;
  const x = normal(rows * vocab, 30, 3);
  const targets = new Int32Array([5, 1002, -1, 17, 400, 0]);
  const logprobs = new Float32Array(rows * K), lse = new Float32Array(rows);
  k.targetLogprobs(x, rows, vocab, targets, K, logprobs, lse);
  out['target logprobs'] = Array.from(logprobs);
  out['target lse'] = Array.from(lse);
  const dlogits = new Float32Array(x);
  k.targetLogprobsBackward(dlogits, rows, vocab, targets, K, new Float32Array([1, -0.5, 2, 0.25, 1, 1]), lse);
  out['target logprobs backward'] = Array.from(dlogits);
  const lsm = new Float32Array(x);
  k.logSoftmaxRows(lsm, rows, vocab);
  out['log-softmax rows'] = Array.from(lsm);
  const tokens = new Int32Array(rows * 2);
  const uniforms = new Float64Array([0.1, 0.5, 0.93]);
  k.drawTokens(lsm, rows, vocab, 1, uniforms, tokens.subarray(0, rows));
  k.drawTokens(lsm, rows, vocab, 0.7, uniforms, tokens.subarray(rows));
  out['drawn tokens'] = Array.from(tokens);
}

function rowKernels(k: Kernels, out: KernelOutputs): void {
  const rows = 5, dim = 200;
  const x = normal(rows * dim, 40), w = normal(dim, 41), y = new Float32Array(rows * dim), rstd = new Float32Array(rows);
  k.rmsNormForward(x, w, y, rstd, rows, dim, 1e-5);
  out['rmsnorm'] = Array.from(y);
  const dx = new Float32Array(rows * dim), dw = new Float32Array(dim);
  k.rmsNormBackward(normal(rows * dim, 42), x, w, rstd, dx, dw, rows, dim);
  out['rmsnorm dx'] = Array.from(dx);
  out['rmsnorm dw'] = Array.from(dw);
  const n = 1001;
  const gate = normal(n, 43, 4), up = normal(n, 44), s = new Float32Array(n);
  k.swigluForward(gate, up, s, n);
  out['swiglu'] = Array.from(s);
  const dgate = new Float32Array(n), dup = new Float32Array(n);
  k.swigluBackward(normal(n, 45), gate, up, dgate, dup, n);
  out['swiglu dgate'] = Array.from(dgate);
  out['swiglu dup'] = Array.from(dup);
  out['sum of squares'] = [k.sumOfSquares(x)];
}

/** Runs every kernel above on `kernels`. */
export function runLevelKernels(kernels: Kernels): KernelOutputs {
  const out: KernelOutputs = {};
  fewRowsGemms(kernels, out);
  attention(kernels, out);
  logits(kernels, out);
  rowKernels(kernels, out);
  return out;
}

// As a child process: print the level the addon picked and what its kernels produced.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { nativeKernelLevel, nativeKernels } = await import('./native-kernels.js');
  const result = { level: nativeKernelLevel(), outputs: runLevelKernels(nativeKernels) };
  process.stdout.write(JSON.stringify(result));
}
