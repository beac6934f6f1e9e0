/**
 * The native kernels agree with the reference kernels on random small shapes, reject bad
 * buffers with TypeError/RangeError, and load inside a worker thread. AdamW is pinned to the
 * torch formula written out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Kernels } from './kernels.js';
import { referenceKernels as ref } from './reference-kernels.js';
import { loadNativeAddon, nativeKernels as nat, openblasCoreName } from './native-kernels.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** Asserts |actual - expected| <= atol + rtol * |expected| elementwise. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      assert.fail(`${what}[${i}]: got ${a}, expected ${e}`);
    }
  }
}

const copy = (x: Float32Array): Float32Array => new Float32Array(x);

test(`native kernels report the OpenBLAS core (${openblasCoreName()})`, () => {
  assert.match(nat.name, /^openblas:\w+/);
});

const hasAvx512 = /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));

test('a preset OPENBLAS_CORETYPE=Haswell is replaced by the AVX-512 kernels on AVX-512 CPUs', { skip: !hasAvx512 && 'no avx512f' }, () => {
  const moduleUrl = new URL('./native-kernels.js', import.meta.url).href;
  const core = execFileSync(process.execPath, [
    '--input-type=module', '-e', `import { openblasCoreName } from ${JSON.stringify(moduleUrl)}; process.stdout.write(openblasCoreName());`,
  ], { env: { ...process.env, OPENBLAS_CORETYPE: 'Haswell' }, encoding: 'utf8' });
  assert.equal(core, 'SkylakeX');
});

test('gemm matches the reference for all transpose combinations, strides and offsets', () => {
  let seed = 1;
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const [M, N, K] of [[5, 7, 3], [17, 9, 33], [1, 12, 8], [8, 1, 1], [3, 4, 0]]) {
        const pad = 3;
        const lda = (transA ? M : K) + pad;
        const ldb = (transB ? K : N) + pad;
        const ldc = N + 2;
        const aOffset = 4, bOffset = 1, cOffset = 5;
        const A = randn(aOffset + (transA ? K : M) * lda, seed++);
        const B = randn(bOffset + (transB ? N : K) * ldb, seed++);
        const C0 = randn(cOffset + M * ldc, seed++);
        const opts = { lda, ldb, ldc, aOffset, bOffset, cOffset };
        for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
          const cr = copy(C0);
          const cn = copy(C0);
          ref.gemm(transA, transB, M, N, K, alpha, A, B, beta, cr, opts);
          nat.gemm(transA, transB, M, N, K, alpha, A, B, beta, cn, opts);
          assertClose(cn, cr, 1e-5, 1e-5, `gemm tA=${transA} tB=${transB} ${M}x${N}x${K} a=${alpha} b=${beta}`);
        }
      }
    }
  }
});

test('gemm of a few rows against a transposed weight (the decode shape) matches the reference on one and on all threads', (t) => {
  // On one OpenBLAS thread, M 2..32 with K >= 64 take the packing-free kernel.
  const addon = loadNativeAddon();
  const threads = addon.numThreads();
  t.after(() => addon.setNumThreads(threads));
  for (const n of [1, threads]) {
    addon.setNumThreads(n);
    let seed = 500;
    for (const [M, N, K] of [[2, 7, 64], [3, 13, 100], [16, 258, 256], [5, 4100, 256], [17, 33, 1024], [32, 64, 65], [16, 8, 64]]) {
      const lda = K + 3, ldb = K + 1, ldc = N + 2;
      const aOffset = 2, bOffset = 3, cOffset = 1;
      const A = randn(aOffset + M * lda, seed++);
      const B = randn(bOffset + N * ldb, seed++);
      const C0 = randn(cOffset + M * ldc, seed++);
      C0[cOffset] = NaN; // beta = 0 must not read C
      const opts = { lda, ldb, ldc, aOffset, bOffset, cOffset };
      for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
        const cr = copy(C0);
        const cn = copy(C0);
        ref.gemm(false, true, M, N, K, alpha, A, B, beta, cr, opts);
        nat.gemm(false, true, M, N, K, alpha, A, B, beta, cn, opts);
        if (beta === 0) assert.ok(Number.isFinite(cn[cOffset]));
        else cr[cOffset] = cn[cOffset] = 0;
        assertClose(cn, cr, 1e-4, 1e-5, `gemm ${M}x${N}x${K} a=${alpha} b=${beta} on ${n} threads`);
      }
    }
  }
});

test('gemm with default strides and beta=0 ignores NaN already in C', () => {
  const A = randn(6 * 4, 11), B = randn(4 * 5, 12);
  const cr = new Float32Array(30).fill(NaN);
  const cn = new Float32Array(30).fill(NaN);
  ref.gemm(false, false, 6, 5, 4, 1, A, B, 0, cr);
  nat.gemm(false, false, 6, 5, 4, 1, A, B, 0, cn);
  assert.ok(cn.every(Number.isFinite));
  assertClose(cn, cr, 1e-5, 1e-6, 'gemm');
});

test('native kernels read and write typed-array views at their byteOffset', () => {
  const bigA = randn(100, 21), bigB = randn(100, 22), bigC = new Float32Array(100);
  const A = bigA.subarray(7, 7 + 12), B = bigB.subarray(13, 13 + 12), C = bigC.subarray(31, 31 + 9);
  const expected = new Float32Array(9);
  ref.gemm(false, false, 3, 3, 4, 1, A, B, 0, expected);
  nat.gemm(false, false, 3, 3, 4, 1, A, B, 0, C);
  assertClose(C, expected, 1e-5, 1e-6, 'gemm on views');
  assert.equal(bigC[30], 0);
  assert.equal(bigC[40], 0);
  const ids = new Int32Array([9, 2, 5, 1]).subarray(1, 3);
  const out = new Float32Array(10).subarray(2, 8);
  nat.embeddingForward(bigA.subarray(10, 40), ids, out, 3);
  assert.deepEqual(Array.from(out), Array.from(bigA.subarray(10 + 6, 10 + 9)).concat(Array.from(bigA.subarray(10 + 15, 10 + 18))));
});

test('rmsNorm forward and backward match the reference, with and without weight', () => {
  const rows = 5, dim = 37;
  const x = randn(rows * dim, 31, 2), w = randn(dim, 32), dout = randn(rows * dim, 33);
  for (const weight of [w, null]) {
    const outs = [ref, nat].map((k: Kernels) => {
      const out = new Float32Array(rows * dim), rstd = new Float32Array(rows);
      k.rmsNormForward(x, weight, out, rstd, rows, dim, 1e-6);
      const dx = new Float32Array(rows * dim), dw = new Float32Array(dim).fill(0.5);
      k.rmsNormBackward(dout, x, weight, rstd, dx, weight ? dw : null, rows, dim);
      return { out, rstd, dx, dw };
    });
    assertClose(outs[1].out, outs[0].out, 1e-5, 1e-6, 'rmsnorm out');
    assertClose(outs[1].rstd, outs[0].rstd, 1e-5, 1e-6, 'rmsnorm rstd');
    assertClose(outs[1].dx, outs[0].dx, 1e-4, 1e-5, 'rmsnorm dx');
    assertClose(outs[1].dw, outs[0].dw, 1e-4, 1e-5, 'rmsnorm dweight');
  }
});

function ropeTables(maxPos: number, half: number): { cos: Float32Array; sin: Float32Array } {
  const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p / Math.pow(10000, (2 * i) / (2 * half));
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

test('rope matches the reference and its inverse undoes it', () => {
  const rows = 6, heads = 3, hd = 8;
  const { cos, sin } = ropeTables(20, hd / 2);
  const positions = new Int32Array([0, 1, 2, 7, 19, 3]);
  const x = randn(rows * heads * hd, 41);
  const xr = copy(x), xn = copy(x);
  ref.rope(xr, positions, cos, sin, rows, heads, hd, false);
  nat.rope(xn, positions, cos, sin, rows, heads, hd, false);
  assertClose(xn, xr, 1e-5, 1e-6, 'rope');
  // position 0 is the identity; other rows must have changed
  assertClose(xn.subarray(0, heads * hd), x.subarray(0, heads * hd), 0, 1e-7, 'rope at position 0');
  assert.notDeepEqual(Array.from(xn.subarray(heads * hd)), Array.from(x.subarray(heads * hd)));
  nat.rope(xn, positions, cos, sin, rows, heads, hd, true);
  assertClose(xn, x, 1e-5, 1e-6, 'rope inverse');
});

/**
 * Packed sequences of lengths 5, 1, 7, 300: the last spans three query blocks of the native
 * kernel, and the total work is large enough for it to split heads across threads.
 */
const attnStarts = new Int32Array([0, 5, 6, 13, 313]);
const H = 4, KVH = 2;

function attentionInputs(T: number, hd: number, seed: number) {
  return {
    q: randn(T * H * hd, seed, 1.5),
    k: randn(T * KVH * hd, seed + 1, 1.5),
    v: randn(T * KVH * hd, seed + 2),
    dout: randn(T * H * hd, seed + 3),
  };
}

test('attention forward and backward match the reference over packed GQA sequences', () => {
  const hd = 16, T = attnStarts[attnStarts.length - 1], scale = 1 / Math.sqrt(hd);
  const { q, k, v, dout } = attentionInputs(T, hd, 51);
  const results = [ref, nat].map((kern: Kernels) => {
    const out = new Float32Array(T * H * hd), lse = new Float32Array(H * T);
    kern.attentionForward(q, k, v, out, lse, attnStarts, H, KVH, hd, scale);
    const dq = new Float32Array(T * H * hd).fill(7), dk = new Float32Array(T * KVH * hd).fill(7), dv = new Float32Array(T * KVH * hd).fill(7);
    kern.attentionBackward(dout, q, k, v, out, lse, dq, dk, dv, attnStarts, H, KVH, hd, scale);
    return { out, lse, dq, dk, dv };
  });
  const [r, n] = results;
  assertClose(n.out, r.out, 1e-4, 1e-5, 'attention out');
  assertClose(n.lse, r.lse, 1e-5, 1e-5, 'attention lse');
  assertClose(n.dq, r.dq, 1e-3, 1e-4, 'attention dq');
  assertClose(n.dk, r.dk, 1e-3, 1e-4, 'attention dk');
  assertClose(n.dv, r.dv, 1e-3, 1e-4, 'attention dv');
  // The first token of each sequence attends only to itself: out = v of its kv head.
  for (const t of [0, 5, 6, 13]) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KVH));
      assertClose(n.out.subarray((t * H + h) * hd, (t * H + h + 1) * hd), v.subarray((t * KVH + g) * hd, (t * KVH + g + 1) * hd), 1e-5, 1e-6, `self-only row ${t}`);
    }
  }
});

function checkAttentionWithCache(hd: number, capacity: number, nNew: number, past: Int32Array): void {
  const scale = 1 / Math.sqrt(hd);
  const nSeq = past.length;
  const lens = Array.from(past, (p) => p + nNew);
  const starts = new Int32Array(nSeq + 1);
  for (let s = 0; s < nSeq; s++) starts[s + 1] = starts[s] + lens[s];
  const T = starts[nSeq];
  const { q, k, v } = attentionInputs(T, hd, 61);
  const fullOut = new Float32Array(T * H * hd), lse = new Float32Array(H * T);
  ref.attentionForward(q, k, v, fullOut, lse, starts, H, KVH, hd, scale);

  const kCache = randn(nSeq * capacity * KVH * hd, 62, 100); // garbage past the valid positions
  const vCache = randn(nSeq * capacity * KVH * hd, 63, 100);
  const qNew = new Float32Array(nSeq * nNew * H * hd);
  const expected = new Float32Array(nSeq * nNew * H * hd);
  const rowQ = H * hd, rowKV = KVH * hd;
  for (let s = 0; s < nSeq; s++) {
    kCache.set(k.subarray(starts[s] * rowKV, starts[s + 1] * rowKV), s * capacity * rowKV);
    vCache.set(v.subarray(starts[s] * rowKV, starts[s + 1] * rowKV), s * capacity * rowKV);
    const firstNew = starts[s] + past[s];
    qNew.set(q.subarray(firstNew * rowQ, (firstNew + nNew) * rowQ), s * nNew * rowQ);
    expected.set(fullOut.subarray(firstNew * rowQ, (firstNew + nNew) * rowQ), s * nNew * rowQ);
  }
  for (const kern of [ref, nat]) {
    const out = new Float32Array(nSeq * nNew * H * hd);
    kern.attentionWithCache(qNew, kCache, vCache, out, past, nSeq, nNew, capacity, H, KVH, hd, scale);
    assertClose(out, expected, 1e-4, 1e-5, `${kern === ref ? 'reference' : 'native'} attentionWithCache`);
  }
}

test('attentionWithCache reproduces the attentionForward rows of the same sequences', () => {
  checkAttentionWithCache(8, 12, 3, new Int32Array([0, 4, 9]));
  checkAttentionWithCache(8, 12, 1, new Int32Array([0, 4, 11]));
  // enough work for the native kernel to use several threads
  checkAttentionWithCache(32, 400, 16, new Int32Array([0, 200, 384]));
});

test('attentionWithCache decoding many sequences across threads matches the reference', () => {
  const nSeq = 8, capacity = 512, hd = 128, scale = 1 / Math.sqrt(hd);
  const past = new Int32Array([511, 0, 300, 499, 17, 511, 256, 400]);
  const q = randn(nSeq * H * hd, 141), kCache = randn(nSeq * capacity * KVH * hd, 142), vCache = randn(nSeq * capacity * KVH * hd, 143);
  const outR = new Float32Array(nSeq * H * hd), outN = new Float32Array(nSeq * H * hd);
  ref.attentionWithCache(q, kCache, vCache, outR, past, nSeq, 1, capacity, H, KVH, hd, scale);
  nat.attentionWithCache(q, kCache, vCache, outN, past, nSeq, 1, capacity, H, KVH, hd, scale);
  assertClose(outN, outR, 1e-4, 1e-5, 'decode attention');
});

test('swiglu forward and backward match the reference, including large |gate|', () => {
  const n = 1000;
  const gate = randn(n, 71, 6), up = randn(n, 72), dout = randn(n, 73);
  gate[0] = 120; gate[1] = -120; gate[2] = 0;
  const outs = [ref, nat].map((k: Kernels) => {
    const out = new Float32Array(n), dg = new Float32Array(n), du = new Float32Array(n);
    k.swigluForward(gate, up, out, n);
    k.swigluBackward(dout, gate, up, dg, du, n);
    return { out, dg, du };
  });
  assertClose(outs[1].out, outs[0].out, 1e-5, 1e-6, 'swiglu out');
  assertClose(outs[1].dg, outs[0].dg, 1e-5, 1e-6, 'swiglu dgate');
  assertClose(outs[1].du, outs[0].du, 1e-5, 1e-6, 'swiglu dup');
});

test('embedding gather matches the reference, repeated ids included', () => {
  const vocab = 11, dim = 6;
  const table = randn(vocab * dim, 81);
  const ids = new Int32Array([3, 0, 10, 3, 3]);
  const outs = [ref, nat].map((k: Kernels) => {
    const out = new Float32Array(ids.length * dim);
    k.embeddingForward(table, ids, out, dim);
    return out;
  });
  assert.deepEqual(outs[1], outs[0]);
});

test('targetLogprobs with K>1 and padding targets matches the reference, forward and backward', () => {
  const rows = 4, vocab = 301, K = 3;
  const logits = randn(rows * vocab, 91, 8);
  const targets = new Int32Array([5, 300, -1, 0, -1, -1, 17, 17, 2, 299, -100, 1]);
  const grad = randn(rows * K, 92);
  const outs = [ref, nat].map((k: Kernels) => {
    const logprobs = new Float32Array(rows * K).fill(9), lse = new Float32Array(rows);
    k.targetLogprobs(logits, rows, vocab, targets, K, logprobs, lse);
    const dlogits = copy(logits);
    k.targetLogprobsBackward(dlogits, rows, vocab, targets, K, grad, lse);
    return { logprobs, lse, dlogits };
  });
  assertClose(outs[1].lse, outs[0].lse, 1e-6, 1e-5, 'lse');
  assertClose(outs[1].logprobs, outs[0].logprobs, 1e-5, 1e-5, 'logprobs');
  assertClose(outs[1].dlogits, outs[0].dlogits, 1e-4, 1e-6, 'dlogits');
  for (const i of [2, 4, 5, 10]) assert.equal(outs[1].logprobs[i], 0, 'padding target gives 0');
  // Row 1 has only padding after its first target: its gradient sums to zero like every row.
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < vocab; i++) s += outs[1].dlogits[r * vocab + i];
    assert.ok(Math.abs(s) < 1e-4, `row ${r} gradient sums to ${s}`);
  }
});

test('logSoftmaxRows matches the reference and rows exponentiate to 1', () => {
  const rows = 3, cols = 1000;
  const x = randn(rows * cols, 101, 20);
  const xr = copy(x), xn = copy(x);
  ref.logSoftmaxRows(xr, rows, cols);
  nat.logSoftmaxRows(xn, rows, cols);
  assertClose(xn, xr, 1e-5, 1e-5, 'logSoftmax');
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < cols; i++) s += Math.exp(xn[r * cols + i]);
    assert.ok(Math.abs(s - 1) < 1e-5);
  }
});

test('adamw follows the torch.optim.AdamW formula for 3 steps with weight decay', () => {
  const n = 50, lr = 0.01, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
  const p0 = randn(n, 111);
  const grads = [randn(n, 112), randn(n, 113, 1e-3), randn(n, 114, 10)];
  // torch: p.mul_(1 - lr*wd); m.lerp_(g, 1-b1); v.mul_(b2).addcmul_(g, g, 1-b2);
  //        denom = v.sqrt() / sqrt(1 - b2^t) + eps; p.addcdiv_(m, denom, -lr / (1 - b1^t))
  const p = Array.from(p0), m = new Array(n).fill(0), v = new Array(n).fill(0);
  for (let t = 1; t <= 3; t++) {
    for (let i = 0; i < n; i++) {
      const g = grads[t - 1][i];
      p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(b2, t)) + eps;
      p[i] += (-lr / (1 - Math.pow(b1, t))) * (m[i] / denom);
    }
  }
  for (const k of [ref, nat]) {
    const param = copy(p0), mk = new Float32Array(n), vk = new Float32Array(n);
    for (let t = 1; t <= 3; t++) k.adamw(param, grads[t - 1], mk, vk, lr, b1, b2, eps, wd, t);
    assertClose(param, p, 1e-6, 1e-7, `${k.name} adamw param`);
    assertClose(mk, m, 1e-5, 1e-9, `${k.name} adamw m`);
    assertClose(vk, v, 1e-5, 1e-12, `${k.name} adamw v`);
  }
});

test('sumOfSquares, scale and axpy match the reference', () => {
  const x = randn(1001, 121), y = randn(1001, 122);
  assert.ok(Math.abs(nat.sumOfSquares(x) - ref.sumOfSquares(x)) < 1e-9 * ref.sumOfSquares(x));
  const yr = copy(y), yn = copy(y);
  ref.axpy(-0.75, x, yr);
  nat.axpy(-0.75, x, yn);
  assertClose(yn, yr, 1e-6, 1e-7, 'axpy');
  ref.scale(yr, 3.5);
  nat.scale(yn, 3.5);
  assertClose(yn, yr, 1e-6, 1e-7, 'scale');
});

test('kernels large enough to be split across threads match the reference', () => {
  const n = (1 << 19) + 1001;
  const gate = randn(n, 131, 5), up = randn(n, 132), dout = randn(n, 133);
  const outR = new Float32Array(n), outN = new Float32Array(n);
  ref.swigluForward(gate, up, outR, n);
  nat.swigluForward(gate, up, outN, n);
  assertClose(outN, outR, 1e-5, 1e-6, 'swiglu out');
  const dgR = new Float32Array(n), duR = new Float32Array(n), dgN = new Float32Array(n), duN = new Float32Array(n);
  ref.swigluBackward(dout, gate, up, dgR, duR, n);
  nat.swigluBackward(dout, gate, up, dgN, duN, n);
  assertClose(dgN, dgR, 1e-5, 1e-6, 'swiglu dgate');
  assertClose(duN, duR, 1e-5, 1e-6, 'swiglu dup');

  const pR = copy(up), pN = copy(up), mR = new Float32Array(n), mN = new Float32Array(n), vR = new Float32Array(n), vN = new Float32Array(n);
  ref.adamw(pR, dout, mR, vR, 0.01, 0.9, 0.99, 1e-8, 0.1, 1);
  nat.adamw(pN, dout, mN, vN, 0.01, 0.9, 0.99, 1e-8, 0.1, 1);
  assertClose(pN, pR, 1e-5, 1e-6, 'adamw param');

  const rows = 2001, vocab = 301;
  const logits = randn(rows * vocab, 134, 6);
  const targets = new Int32Array(rows).map((_, i) => (i % 7 === 0 ? -1 : (i * 31) % vocab));
  const g = randn(rows, 135);
  const lpR = new Float32Array(rows), lseR = new Float32Array(rows), lpN = new Float32Array(rows), lseN = new Float32Array(rows);
  ref.targetLogprobs(logits, rows, vocab, targets, 1, lpR, lseR);
  nat.targetLogprobs(logits, rows, vocab, targets, 1, lpN, lseN);
  assertClose(lpN, lpR, 1e-5, 1e-5, 'logprobs');
  const dR = copy(logits), dN = copy(logits);
  ref.targetLogprobsBackward(dR, rows, vocab, targets, 1, g, lseR);
  nat.targetLogprobsBackward(dN, rows, vocab, targets, 1, g, lseN);
  assertClose(dN, dR, 1e-4, 1e-6, 'dlogits');
  const xR = copy(logits), xN = copy(logits);
  ref.logSoftmaxRows(xR, rows, vocab);
  nat.logSoftmaxRows(xN, rows, vocab);
  assertClose(xN, xR, 1e-5, 1e-5, 'logSoftmax');
});

test('native kernels throw RangeError/TypeError on bad buffers instead of reading out of bounds', () => {
  const a = new Float32Array(12), b = new Float32Array(12), c = new Float32Array(9);
  assert.throws(() => nat.gemm(false, false, 3, 3, 5, 1, a, b, 0, c), RangeError);
  assert.throws(() => nat.gemm(false, false, 3, 3, 4, 1, a, b, 0, new Float32Array(8)), RangeError);
  assert.throws(() => nat.gemm(false, false, 3, 3, 4, 1, a, b, 0, c, { lda: 2 }), RangeError);
  assert.throws(() => nat.gemm(false, false, 3, 3, 4, 1, a, b, 0, c, { cOffset: 1 }), RangeError);
  assert.throws(() => nat.gemm(false, false, 3, 3, 4, 1, a, b, 0, c, { aOffset: -1 }), RangeError);
  assert.throws(() => nat.gemm(false, false, 3.5, 3, 4, 1, a, b, 0, c), RangeError);
  assert.throws(() => nat.gemm(false, false, 3, 3, 4, 1, new Float64Array(12) as unknown as Float32Array, b, 0, c), TypeError);
  assert.throws(() => nat.rmsNormForward(a, null, new Float32Array(11), new Float32Array(3), 3, 4, 1e-6), RangeError);
  assert.throws(() => nat.rmsNormForward(a, new Float32Array(3), new Float32Array(12), new Float32Array(3), 3, 4, 1e-6), RangeError);
  const ids = new Int32Array([0, 4]);
  assert.throws(() => nat.embeddingForward(new Float32Array(8), ids, new Float32Array(4), 2), RangeError);
  assert.throws(() => nat.embeddingForward(new Float32Array(8), new Float32Array(2) as unknown as Int32Array, new Float32Array(4), 2), TypeError);
  assert.throws(() => nat.targetLogprobs(new Float32Array(10), 2, 5, new Int32Array([1, 5]), 1, new Float32Array(2), new Float32Array(2)), RangeError);
  assert.throws(() => nat.targetLogprobs(new Float32Array(10), 2, 5, new Int32Array([1]), 1, new Float32Array(2), new Float32Array(2)), RangeError);
  const { cos, sin } = ropeTables(4, 2);
  assert.throws(() => nat.rope(new Float32Array(8), new Int32Array([1, 4]), cos, sin, 2, 1, 4, false), RangeError);
  assert.throws(() => nat.rope(new Float32Array(6), new Int32Array([1, 2]), cos, sin, 2, 1, 3, false), RangeError);
  const starts = new Int32Array([0, 3, 5]);
  const q = new Float32Array(5 * 4 * 2), kv = new Float32Array(5 * 2 * 2), lse = new Float32Array(4 * 5);
  assert.throws(() => nat.attentionForward(q, kv, kv, new Float32Array(39), lse, starts, 4, 2, 2, 1), RangeError);
  assert.throws(() => nat.attentionForward(q, kv, kv, q, lse, new Int32Array([0, 3, 2]), 4, 2, 2, 1), RangeError);
  assert.throws(() => nat.attentionForward(q, kv, kv, q, lse, starts, 4, 3, 2, 1), RangeError);
  assert.throws(() => nat.attentionForward(q, kv.subarray(1), kv, q, lse, starts, 4, 2, 2, 1), RangeError);
  assert.throws(() => nat.attentionWithCache(q, kv, kv, q, new Int32Array([4]), 1, 2, 5, 4, 2, 2, 1), RangeError);
  assert.throws(() => nat.adamw(a, a, a, new Float32Array(11), 0.1, 0.9, 0.99, 1e-8, 0, 1), RangeError);
  assert.throws(() => nat.adamw(a, a, a, a, 0.1, 0.9, 0.99, 1e-8, 0, 0), RangeError);
  assert.throws(() => nat.axpy(1, a, new Float32Array(11)), RangeError);
  assert.throws(() => nat.swigluForward(a, a, new Float32Array(11), 12), RangeError);
});

test('the native addon loads and computes inside a worker thread', async () => {
  const moduleUrl = new URL('./native-kernels.js', import.meta.url).href;
  const source = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(moduleUrl)}).then(({ nativeKernels }) => {
      const A = new Float32Array([1, 2, 3, 4]), B = new Float32Array([5, 6, 7, 8]), C = new Float32Array(4);
      nativeKernels.gemm(false, false, 2, 2, 2, 1, A, B, 0, C);
      parentPort.postMessage({ name: nativeKernels.name, C: Array.from(C) });
    }, (e) => parentPort.postMessage({ error: String(e) }));`;
  const worker = new Worker(source, { eval: true });
  const msg = await new Promise<{ name?: string; C?: number[]; error?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(msg.error, undefined);
  assert.deepEqual(msg.C, [19, 22, 43, 50]);
  assert.match(msg.name ?? '', /^openblas:/);
});

test('drawTokens picks the same tokens as the reference at temperature 1 and 0.7, and follows the CDF', () => {
  const rows = 64, vocab = 1500;
  const lp = randn(rows * vocab, 211, 6);
  ref.logSoftmaxRows(lp, rows, vocab);
  const r = rng(212);
  const uniforms = Float64Array.from({ length: rows }, () => r());
  for (const temperature of [1, 0.7, 2]) {
    const tr = new Int32Array(rows), tn = new Int32Array(rows);
    ref.drawTokens(lp, rows, vocab, temperature, uniforms, tr);
    nat.drawTokens(lp, rows, vocab, temperature, uniforms, tn);
    assert.deepEqual(Array.from(tn), Array.from(tr), `temperature ${temperature}`);
  }
  // At temperature 1 the token is where the cumulative probability first exceeds u.
  const tn = new Int32Array(rows);
  nat.drawTokens(lp, rows, vocab, 1, uniforms, tn);
  for (let row = 0; row < rows; row++) {
    let below = 0;
    for (let i = 0; i < tn[row]; i++) below += Math.exp(lp[row * vocab + i]);
    assert.ok(below <= uniforms[row] && uniforms[row] < below + Math.exp(lp[row * vocab + tn[row]]), `row ${row}`);
  }
  // u = 0 draws the first token with mass; u just under 1 the last one.
  const edge = new Float32Array([Math.log(0.5), -Infinity, Math.log(0.5)]);
  const out = new Int32Array(2);
  nat.drawTokens(new Float32Array([...edge, ...edge]), 2, 3, 1, new Float64Array([0, 1 - 1e-12]), out);
  assert.deepEqual(Array.from(out), [0, 2]);
});

test('drawTokens rejects a zero temperature and short buffers', () => {
  const lp = new Float32Array(8).fill(Math.log(1 / 8));
  for (const k of [ref, nat]) {
    assert.throws(() => k.drawTokens(lp, 1, 8, 0, new Float64Array(1), new Int32Array(1)), RangeError);
    assert.throws(() => k.drawTokens(lp, 2, 8, 1, new Float64Array(2), new Int32Array(2)), RangeError);
    assert.throws(() => k.drawTokens(lp, 1, 8, 1, new Float64Array(0), new Int32Array(1)), RangeError);
  }
  assert.throws(() => nat.drawTokens(lp, 1, 8, 1, new Float32Array(1) as unknown as Float64Array, new Int32Array(1)), TypeError);
});
