/**
 * Plain TypeScript implementation of `Kernels`: straightforward loops that accumulate in f64.
 * It is slow and meant to be obviously correct — the oracle the native kernels and the model
 * code are tested against. Argument checks mirror the native addon's (TypeError / RangeError).
 */
import type { Kernels } from './kernels.js';
import { f32BitsToBf16 } from './weight-dtype.js';

function requireLength(buf: ArrayLike<number>, needed: number, what: string): void {
  if (buf.length < needed) {
    throw new RangeError(`${what} has ${buf.length} elements but ${needed} are needed`);
  }
}

function requireCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
}

/** The shared arguments of targetLogprobs and its backward: [rows, vocab] logits, [rows, K] targets and per-target values. */
function requireTargetArgs(logits: Float32Array, rows: number, vocab: number, targets: ArrayLike<number>, K: number,
  perTarget: Float32Array, perTargetName: string, lse: Float32Array): void {
  requireCount(rows, 'rows');
  requireCount(vocab, 'vocab');
  requireCount(K, 'K');
  requireLength(logits, rows * vocab, 'logits');
  requireLength(targets, rows * K, 'targets');
  requireLength(perTarget, rows * K, perTargetName);
  requireLength(lse, rows, 'lse');
}

/** Checks a row-major matrix view of `rows`×`cols` with row stride `ld` starting at `offset`. */
function requireMatrix(buf: Float32Array | Uint16Array, rows: number, cols: number, ld: number, offset: number, what: string): void {
  requireCount(offset, `${what} offset`);
  if (ld < Math.max(1, cols)) throw new RangeError(`${what} leading dimension ${ld} is smaller than its ${cols} columns`);
  if (rows > 0 && cols > 0) requireLength(buf, offset + (rows - 1) * ld + cols, what);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function logSumExp(x: Float32Array, start: number, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[start + i]);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(x[start + i] - max);
  return max + Math.log(sum);
}

/** Validates the packed-sequence boundaries of the attention kernels and returns T, the row count. */
function requireSeqStarts(seqStarts: Int32Array): number {
  if (seqStarts.length < 1 || seqStarts[0] !== 0) throw new RangeError('seqStarts must start with 0');
  for (let s = 1; s < seqStarts.length; s++) {
    if (seqStarts[s] < seqStarts[s - 1]) throw new RangeError('seqStarts must be non-decreasing');
  }
  return seqStarts[seqStarts.length - 1];
}

function requireHeads(heads: number, kvHeads: number, headDim: number): void {
  requireCount(heads, 'heads');
  requireCount(kvHeads, 'kvHeads');
  requireCount(headDim, 'headDim');
  if (kvHeads === 0 || heads % kvHeads !== 0) throw new RangeError(`heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
}

export const referenceKernels: Kernels = {
  name: 'reference',

  gemm(transA, transB, M, N, K, alpha, A, B, beta, C, opts = {}) {
    requireCount(M, 'M');
    requireCount(N, 'N');
    requireCount(K, 'K');
    const lda = opts.lda ?? Math.max(1, transA ? M : K);
    const ldb = opts.ldb ?? Math.max(1, transB ? K : N);
    const ldc = opts.ldc ?? Math.max(1, N);
    const ao = opts.aOffset ?? 0;
    const bo = opts.bOffset ?? 0;
    const co = opts.cOffset ?? 0;
    requireMatrix(A, transA ? K : M, transA ? M : K, lda, ao, 'A');
    requireMatrix(B, transB ? N : K, transB ? K : N, ldb, bo, 'B');
    requireMatrix(C, M, N, ldc, co, 'C');
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let p = 0; p < K; p++) {
          const a = transA ? A[ao + p * lda + i] : A[ao + i * lda + p];
          const b = transB ? B[bo + j * ldb + p] : B[bo + p * ldb + j];
          acc += a * b;
        }
        const c = co + i * ldc + j;
        // BLAS semantics: beta = 0 means C is not read (it may hold NaN).
        C[c] = alpha * acc + (beta === 0 ? 0 : beta * C[c]);
      }
    }
  },

  gemmBf16(transB, M, N, K, alpha, A, B, beta, C, opts = {}) {
    requireCount(M, 'M');
    requireCount(N, 'N');
    requireCount(K, 'K');
    const lda = opts.lda ?? Math.max(1, K);
    const ldb = opts.ldb ?? Math.max(1, transB ? K : N);
    const ldc = opts.ldc ?? Math.max(1, N);
    const ao = opts.aOffset ?? 0;
    const bo = opts.bOffset ?? 0;
    const co = opts.cOffset ?? 0;
    requireMatrix(A, M, K, lda, ao, 'A');
    requireMatrix(B, transB ? N : K, transB ? K : N, ldb, bo, 'B');
    requireMatrix(C, M, N, ldc, co, 'C');
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    const widen = (h: number): number => {
      bits[0] = h << 16;
      return asFloat[0];
    };
    const round = (x: number): number => {
      asFloat[0] = x;
      return widen(f32BitsToBf16(bits[0]));
    };
    const a = new Float64Array(M * K);
    for (let i = 0; i < M; i++) for (let p = 0; p < K; p++) a[i * K + p] = round(A[ao + i * lda + p]);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let p = 0; p < K; p++) acc += a[i * K + p] * widen(transB ? B[bo + j * ldb + p] : B[bo + p * ldb + j]);
        const c = co + i * ldc + j;
        C[c] = alpha * acc + (beta === 0 ? 0 : beta * C[c]);
      }
    }
  },

  rmsNormForward(x, weight, out, rstd, rows, dim, eps) {
    requireCount(rows, 'rows');
    requireCount(dim, 'dim');
    requireLength(x, rows * dim, 'x');
    requireLength(out, rows * dim, 'out');
    requireLength(rstd, rows, 'rstd');
    if (weight) requireLength(weight, dim, 'weight');
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[r * dim + i] * x[r * dim + i];
      const rs = 1 / Math.sqrt(ss / dim + eps);
      rstd[r] = rs;
      for (let i = 0; i < dim; i++) out[r * dim + i] = x[r * dim + i] * rs * (weight ? weight[i] : 1);
    }
  },

  rmsNormBackward(dout, x, weight, rstd, dx, dweight, rows, dim) {
    requireCount(rows, 'rows');
    requireCount(dim, 'dim');
    requireLength(dout, rows * dim, 'dout');
    requireLength(x, rows * dim, 'x');
    requireLength(dx, rows * dim, 'dx');
    requireLength(rstd, rows, 'rstd');
    if (weight) requireLength(weight, dim, 'weight');
    if (dweight) requireLength(dweight, dim, 'dweight');
    for (let r = 0; r < rows; r++) {
      const rs = rstd[r];
      // y_i = w_i x_i rs  =>  dx_i = rs (w_i g_i) - rs^3/dim * x_i * sum_j w_j g_j x_j
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += dout[r * dim + i] * (weight ? weight[i] : 1) * x[r * dim + i];
      const c = (rs * rs * rs * dot) / dim;
      for (let i = 0; i < dim; i++) {
        const k = r * dim + i;
        dx[k] = rs * dout[k] * (weight ? weight[i] : 1) - c * x[k];
        if (dweight) dweight[i] += dout[k] * x[k] * rs;
      }
    }
  },

  rope(x, positions, cos, sin, rows, heads, headDim, inverse) {
    requireCount(rows, 'rows');
    requireCount(heads, 'heads');
    requireCount(headDim, 'headDim');
    if (headDim % 2 !== 0) throw new RangeError(`headDim must be even, got ${headDim}`);
    const half = headDim / 2;
    requireLength(x, rows * heads * headDim, 'x');
    requireLength(positions, rows, 'positions');
    if (cos.length !== sin.length) throw new RangeError('cos and sin tables differ in length');
    const maxPos = half === 0 ? 0 : Math.floor(cos.length / half);
    const sign = inverse ? -1 : 1;
    for (let r = 0; r < rows; r++) {
      const p = positions[r];
      if (p < 0 || p >= maxPos) throw new RangeError(`position ${p} is outside the rotary table of ${maxPos} positions`);
      for (let h = 0; h < heads; h++) {
        const base = (r * heads + h) * headDim;
        for (let i = 0; i < half; i++) {
          const c = cos[p * half + i];
          const s = sign * sin[p * half + i];
          const x1 = x[base + i];
          const x2 = x[base + i + half];
          x[base + i] = x1 * c - x2 * s;
          x[base + i + half] = x2 * c + x1 * s;
        }
      }
    }
  },

  attentionForward(q, k, v, out, lse, seqStarts, heads, kvHeads, headDim, scale) {
    requireHeads(heads, kvHeads, headDim);
    const T = requireSeqStarts(seqStarts);
    requireLength(q, T * heads * headDim, 'q');
    requireLength(k, T * kvHeads * headDim, 'k');
    requireLength(v, T * kvHeads * headDim, 'v');
    requireLength(out, T * heads * headDim, 'out');
    requireLength(lse, heads * T, 'lse');
    const group = heads / kvHeads;
    const p = new Float64Array(T);
    for (let s = 0; s + 1 < seqStarts.length; s++) {
      const start = seqStarts[s];
      const end = seqStarts[s + 1];
      for (let h = 0; h < heads; h++) {
        const g = Math.floor(h / group);
        for (let t = start; t < end; t++) {
          const qb = (t * heads + h) * headDim;
          let max = -Infinity;
          for (let j = start; j <= t; j++) {
            const kb = (j * kvHeads + g) * headDim;
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += q[qb + d] * k[kb + d];
            p[j] = dot * scale;
            max = Math.max(max, p[j]);
          }
          let sum = 0;
          for (let j = start; j <= t; j++) {
            p[j] = Math.exp(p[j] - max);
            sum += p[j];
          }
          lse[h * T + t] = max + Math.log(sum);
          for (let d = 0; d < headDim; d++) {
            let acc = 0;
            for (let j = start; j <= t; j++) acc += p[j] * v[(j * kvHeads + g) * headDim + d];
            out[qb + d] = acc / sum;
          }
        }
      }
    }
  },

  attentionBackward(dout, q, k, v, out, lse, dq, dk, dv, seqStarts, heads, kvHeads, headDim, scale) {
    requireHeads(heads, kvHeads, headDim);
    const T = requireSeqStarts(seqStarts);
    for (const [buf, what] of [[dout, 'dout'], [q, 'q'], [out, 'out'], [dq, 'dq']] as const) requireLength(buf, T * heads * headDim, what);
    for (const [buf, what] of [[k, 'k'], [v, 'v'], [dk, 'dk'], [dv, 'dv']] as const) requireLength(buf, T * kvHeads * headDim, what);
    requireLength(lse, heads * T, 'lse');
    const group = heads / kvHeads;
    const dkAcc = new Float64Array(T * kvHeads * headDim);
    const dvAcc = new Float64Array(T * kvHeads * headDim);
    const p = new Float64Array(T);
    for (let s = 0; s + 1 < seqStarts.length; s++) {
      const start = seqStarts[s];
      const end = seqStarts[s + 1];
      for (let h = 0; h < heads; h++) {
        const g = Math.floor(h / group);
        for (let t = start; t < end; t++) {
          const qb = (t * heads + h) * headDim;
          // D = dout_t · out_t equals sum_j P_tj (dout_t · v_j).
          let D = 0;
          for (let d = 0; d < headDim; d++) D += dout[qb + d] * out[qb + d];
          const dqRow = new Float64Array(headDim);
          for (let j = start; j <= t; j++) {
            const kb = (j * kvHeads + g) * headDim;
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += q[qb + d] * k[kb + d];
            p[j] = Math.exp(dot * scale - lse[h * T + t]);
            let dp = 0;
            for (let d = 0; d < headDim; d++) dp += dout[qb + d] * v[kb + d];
            const ds = p[j] * (dp - D) * scale;
            for (let d = 0; d < headDim; d++) {
              dvAcc[kb + d] += p[j] * dout[qb + d];
              dkAcc[kb + d] += ds * q[qb + d];
              dqRow[d] += ds * k[kb + d];
            }
          }
          for (let d = 0; d < headDim; d++) dq[qb + d] = dqRow[d];
        }
      }
    }
    for (let i = 0; i < T * kvHeads * headDim; i++) {
      dk[i] = dkAcc[i];
      dv[i] = dvAcc[i];
    }
  },

  attentionWithCache(q, kCache, vCache, out, past, nSeq, nNew, capacity, heads, kvHeads, headDim, scale) {
    requireHeads(heads, kvHeads, headDim);
    requireCount(nSeq, 'nSeq');
    requireCount(nNew, 'nNew');
    requireCount(capacity, 'capacity');
    requireLength(q, nSeq * nNew * heads * headDim, 'q');
    requireLength(out, nSeq * nNew * heads * headDim, 'out');
    requireLength(kCache, nSeq * capacity * kvHeads * headDim, 'kCache');
    requireLength(vCache, nSeq * capacity * kvHeads * headDim, 'vCache');
    requireLength(past, nSeq, 'past');
    const group = heads / kvHeads;
    const p = new Float64Array(capacity);
    for (let s = 0; s < nSeq; s++) {
      if (past[s] < 0 || past[s] + nNew > capacity) {
        throw new RangeError(`sequence ${s}: past ${past[s]} + ${nNew} new rows exceed the cache capacity ${capacity}`);
      }
      for (let i = 0; i < nNew; i++) {
        const last = past[s] + i;
        for (let h = 0; h < heads; h++) {
          const g = Math.floor(h / group);
          const qb = ((s * nNew + i) * heads + h) * headDim;
          let max = -Infinity;
          for (let j = 0; j <= last; j++) {
            const kb = ((s * capacity + j) * kvHeads + g) * headDim;
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += q[qb + d] * kCache[kb + d];
            p[j] = dot * scale;
            max = Math.max(max, p[j]);
          }
          let sum = 0;
          for (let j = 0; j <= last; j++) {
            p[j] = Math.exp(p[j] - max);
            sum += p[j];
          }
          for (let d = 0; d < headDim; d++) {
            let acc = 0;
            for (let j = 0; j <= last; j++) acc += p[j] * vCache[((s * capacity + j) * kvHeads + g) * headDim + d];
            out[qb + d] = acc / sum;
          }
        }
      }
    }
  },

  swigluForward(gate, up, out, n) {
    requireCount(n, 'n');
    requireLength(gate, n, 'gate');
    requireLength(up, n, 'up');
    requireLength(out, n, 'out');
    for (let i = 0; i < n; i++) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
  },

  swigluBackward(dout, gate, up, dgate, dup, n) {
    requireCount(n, 'n');
    for (const [buf, what] of [[dout, 'dout'], [gate, 'gate'], [up, 'up'], [dgate, 'dgate'], [dup, 'dup']] as const) {
      requireLength(buf, n, what);
    }
    for (let i = 0; i < n; i++) {
      const g = gate[i];
      const sg = sigmoid(g);
      const silu = g * sg;
      const dsilu = sg * (1 + g * (1 - sg));
      const go = dout[i];
      const u = up[i];
      dgate[i] = go * u * dsilu;
      dup[i] = go * silu;
    }
  },

  embeddingForward(table, ids, out, dim) {
    requireCount(dim, 'dim');
    const vocab = dim === 0 ? 0 : Math.floor(table.length / dim);
    requireLength(out, ids.length * dim, 'out');
    for (let r = 0; r < ids.length; r++) {
      const id = ids[r];
      if (id < 0 || id >= vocab) throw new RangeError(`token id ${id} is outside the vocabulary of ${vocab}`);
      for (let i = 0; i < dim; i++) out[r * dim + i] = table[id * dim + i];
    }
  },

  targetLogprobs(logits, rows, vocab, targets, K, logprobs, lse) {
    requireTargetArgs(logits, rows, vocab, targets, K, logprobs, 'logprobs', lse);
    for (let r = 0; r < rows; r++) {
      const l = logSumExp(logits, r * vocab, vocab);
      lse[r] = l;
      for (let j = 0; j < K; j++) {
        const t = targets[r * K + j];
        if (t >= vocab) throw new RangeError(`target id ${t} is outside the vocabulary of ${vocab}`);
        logprobs[r * K + j] = t < 0 ? 0 : logits[r * vocab + t] - l;
      }
    }
  },

  targetLogprobsBackward(logits, rows, vocab, targets, K, grad, lse) {
    requireTargetArgs(logits, rows, vocab, targets, K, grad, 'grad', lse);
    for (let r = 0; r < rows; r++) {
      let gsum = 0;
      for (let j = 0; j < K; j++) {
        const t = targets[r * K + j];
        if (t >= vocab) throw new RangeError(`target id ${t} is outside the vocabulary of ${vocab}`);
        if (t >= 0) gsum += grad[r * K + j];
      }
      const row = r * vocab;
      for (let i = 0; i < vocab; i++) logits[row + i] = -gsum * Math.exp(logits[row + i] - lse[r]);
      for (let j = 0; j < K; j++) {
        const t = targets[r * K + j];
        if (t >= 0) logits[row + t] += grad[r * K + j];
      }
    }
  },

  logSoftmaxRows(x, rows, cols) {
    requireCount(rows, 'rows');
    requireCount(cols, 'cols');
    requireLength(x, rows * cols, 'x');
    for (let r = 0; r < rows; r++) {
      const l = logSumExp(x, r * cols, cols);
      for (let i = 0; i < cols; i++) x[r * cols + i] -= l;
    }
  },

  drawTokens(logprobs, rows, vocab, temperature, uniforms, tokens) {
    requireCount(rows, 'rows');
    requireCount(vocab, 'vocab');
    if (vocab < 1) throw new RangeError('vocab must be at least 1');
    if (!(temperature > 0) || !Number.isFinite(temperature)) throw new RangeError('temperature must be a positive finite number');
    requireLength(logprobs, rows * vocab, 'logprobs');
    requireLength(uniforms, rows, 'uniforms');
    requireLength(tokens, rows, 'tokens');
    for (let r = 0; r < rows; r++) {
      const row = logprobs.subarray(r * vocab, (r + 1) * vocab);
      tokens[r] = temperature === 1 ? drawUntempered(row, uniforms[r]) : drawTempered(row, 1 / temperature, uniforms[r]);
    }
  },

  adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step) {
    const n = param.length;
    requireLength(grad, n, 'grad');
    requireLength(m, n, 'm');
    requireLength(v, n, 'v');
    if (!Number.isInteger(step) || step < 1) throw new RangeError(`step counts from 1, got ${step}`);
    const bc1 = 1 - Math.pow(beta1, step);
    const bc2 = 1 - Math.pow(beta2, step);
    for (let i = 0; i < n; i++) {
      const g = grad[i];
      let p = param[i] * (1 - lr * weightDecay);
      const mi = beta1 * m[i] + (1 - beta1) * g;
      const vi = beta2 * v[i] + (1 - beta2) * g * g;
      p -= (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
      m[i] = mi;
      v[i] = vi;
      param[i] = p;
    }
  },

  sumOfSquares(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * x[i];
    return s;
  },

  scale(x, s) {
    for (let i = 0; i < x.length; i++) x[i] *= s;
  },

  axpy(a, x, y) {
    requireLength(y, x.length, 'y');
    for (let i = 0; i < x.length; i++) y[i] += a * x[i];
  },
};

/** Walks the CDF of a normalised log-probability row; the first token whose cumulative mass exceeds u. */
function drawUntempered(lp: Float32Array, u: number): number {
  let cum = 0;
  for (let i = 0; i < lp.length; i++) {
    cum += Math.exp(lp[i]);
    if (u < cum) return i;
  }
  // Rounding left the total a hair under u: the draw belongs to the last token with mass.
  for (let i = lp.length - 1; i > 0; i--) if (lp[i] > -Infinity) return i;
  return 0;
}

/** Inverse-CDF draw over the weights exp((lp - max) * invT), u scaled by their total. */
function drawTempered(lp: Float32Array, invT: number, u: number): number {
  let top = 0;
  for (let i = 1; i < lp.length; i++) if (lp[i] > lp[top]) top = i;
  const max = lp[top];
  const w = new Float64Array(lp.length);
  let total = 0;
  for (let i = 0; i < lp.length; i++) total += (w[i] = Math.exp((lp[i] - max) * invT));
  let x = u * total;
  for (let i = 0; i < lp.length; i++) {
    x -= w[i];
    if (x < 0) return i;
  }
  return top;
}
