/**
 * The reference backward kernels are the gradients of their forward kernels: each is checked
 * against central finite differences of L = Σ w ⊙ forward(x) (accumulated in f64, with the
 * f32-rounded step used as the denominator).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels as ref } from './reference-kernels.js';

function randn(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

function weightedSum(w: Float32Array, out: Float32Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] * out[i];
  return s;
}

/** Compares `analytic` with central differences of `loss` w.r.t. every element of `x`. */
function checkGradient(what: string, x: Float32Array, loss: () => number, analytic: Float32Array, h = 1e-2): void {
  let maxAbs = 0;
  for (const g of analytic) maxAbs = Math.max(maxAbs, Math.abs(g));
  assert.ok(maxAbs > 1e-3, `${what}: gradient is trivially zero`);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + h;
    const xp = x[i];
    const lp = loss();
    x[i] = x0 - h;
    const xm = x[i];
    const lm = loss();
    x[i] = x0;
    const numeric = (lp - lm) / (xp - xm);
    const err = Math.abs(numeric - analytic[i]);
    if (err > 2e-3 * maxAbs + 1e-4 * Math.abs(numeric)) {
      assert.fail(`${what}[${i}]: analytic ${analytic[i]}, finite difference ${numeric}`);
    }
  }
}

test('rmsNormBackward is the gradient of rmsNormForward (x and weight)', () => {
  const rows = 3, dim = 7, eps = 1e-5;
  const x = randn(rows * dim, 1, 2), weight = randn(dim, 2), w = randn(rows * dim, 3);
  const out = new Float32Array(rows * dim), rstd = new Float32Array(rows);
  const loss = () => {
    ref.rmsNormForward(x, weight, out, rstd, rows, dim, eps);
    return weightedSum(w, out);
  };
  loss();
  const dx = new Float32Array(rows * dim), dweight = new Float32Array(dim);
  ref.rmsNormBackward(w, x, weight, rstd, dx, dweight, rows, dim);
  checkGradient('rmsnorm dx', x, loss, dx);
  checkGradient('rmsnorm dweight', weight, loss, dweight);
});

test('rope with inverse=true is the gradient of rope', () => {
  const rows = 4, heads = 2, hd = 6, half = 3, maxPos = 10;
  const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < half; i++) {
      cos[p * half + i] = Math.cos(p * Math.pow(100, -i / half));
      sin[p * half + i] = Math.sin(p * Math.pow(100, -i / half));
    }
  }
  const positions = new Int32Array([3, 0, 9, 5]);
  const x = randn(rows * heads * hd, 4), w = randn(rows * heads * hd, 5);
  const loss = () => {
    const y = new Float32Array(x);
    ref.rope(y, positions, cos, sin, rows, heads, hd, false);
    return weightedSum(w, y);
  };
  const dx = new Float32Array(w);
  ref.rope(dx, positions, cos, sin, rows, heads, hd, true);
  checkGradient('rope dx', x, loss, dx);
});

test('attentionBackward is the gradient of attentionForward (GQA, packed sequences)', () => {
  const starts = new Int32Array([0, 3, 4, 9]);
  const T = 9, H = 4, KVH = 2, hd = 3, scale = 0.7;
  const q = randn(T * H * hd, 6, 1.5), k = randn(T * KVH * hd, 7, 1.5), v = randn(T * KVH * hd, 8);
  const w = randn(T * H * hd, 9);
  const out = new Float32Array(T * H * hd), lse = new Float32Array(H * T);
  const loss = () => {
    ref.attentionForward(q, k, v, out, lse, starts, H, KVH, hd, scale);
    return weightedSum(w, out);
  };
  loss();
  const dq = new Float32Array(T * H * hd), dk = new Float32Array(T * KVH * hd), dv = new Float32Array(T * KVH * hd);
  ref.attentionBackward(w, q, k, v, out, lse, dq, dk, dv, starts, H, KVH, hd, scale);
  checkGradient('attention dq', q, loss, dq);
  checkGradient('attention dk', k, loss, dk);
  checkGradient('attention dv', v, loss, dv);
});

test('swigluBackward is the gradient of swigluForward', () => {
  const n = 40;
  const gate = randn(n, 10, 4), up = randn(n, 11), w = randn(n, 12);
  const out = new Float32Array(n);
  const loss = () => {
    ref.swigluForward(gate, up, out, n);
    return weightedSum(w, out);
  };
  const dgate = new Float32Array(n), dup = new Float32Array(n);
  ref.swigluBackward(w, gate, up, dgate, dup, n);
  checkGradient('swiglu dgate', gate, loss, dgate);
  checkGradient('swiglu dup', up, loss, dup);
});

test('targetLogprobsBackward is the gradient of targetLogprobs (K>1, padding)', () => {
  const rows = 3, vocab = 9, K = 2;
  const logits = randn(rows * vocab, 13, 3);
  const targets = new Int32Array([2, 2, 8, -1, -1, 0]);
  const g = randn(rows * K, 14);
  const logprobs = new Float32Array(rows * K), lse = new Float32Array(rows);
  const loss = () => {
    ref.targetLogprobs(logits, rows, vocab, targets, K, logprobs, lse);
    return weightedSum(g, logprobs);
  };
  loss();
  const dlogits = new Float32Array(logits);
  ref.targetLogprobsBackward(dlogits, rows, vocab, targets, K, g, lse);
  checkGradient('targetLogprobs dlogits', logits, loss, dlogits);
});

