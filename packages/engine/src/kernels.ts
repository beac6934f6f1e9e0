/**
 * The primitive tensor operations the engine is written on. Two implementations exist:
 * `native-kernels.ts` (the C++ addon: OpenBLAS GEMM + fused kernels) for real work, and
 * `reference-kernels.ts` (plain TypeScript, f64 accumulation) as the oracle tests compare
 * against. All buffers are row-major Float32Array; integer inputs are Int32Array.
 * "accumulate" means the kernel adds into the output instead of overwriting it.
 */
export interface Kernels {
  /** Name of the implementation and, for native, the OpenBLAS core and the addon's kernel level in use (e.g. "openblas:SkylakeX/avx512"). */
  readonly name: string;

  /**
   * C = alpha * op(A) * op(B) + beta * C, row-major (cblas_sgemm with CblasRowMajor).
   * op(A) is M×K, op(B) is K×N, C is M×N. lda/ldb/ldc are the row strides of the stored
   * matrices (defaults: A stored K wide, or M wide when transA; B stored N wide, or K wide
   * when transB; C stored N wide). Offsets are element offsets into each buffer.
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Float32Array, B: Float32Array, beta: number, C: Float32Array,
    opts?: { lda?: number; ldb?: number; ldc?: number; aOffset?: number; bOffset?: number; cOffset?: number },
  ): void;

  /** out[r,:] = x[r,:] * rstd[r] * weight (weight may be null = ones); rstd[r] = 1/sqrt(mean(x[r,:]^2)+eps). */
  rmsNormForward(x: Float32Array, weight: Float32Array | null, out: Float32Array, rstd: Float32Array, rows: number, dim: number, eps: number): void;
  /** dx = (overwritten) gradient w.r.t. x; dweight (if given) is accumulated. */
  rmsNormBackward(dout: Float32Array, x: Float32Array, weight: Float32Array | null, rstd: Float32Array, dx: Float32Array, dweight: Float32Array | null, rows: number, dim: number): void;

  /**
   * Rotary embedding in place on x laid out [rows, heads, headDim] (HF "rotate_half" convention:
   * pairs (i, i + headDim/2)). positions[r] indexes the cos/sin tables, each [maxPos, headDim/2].
   * inverse=true applies the transposed rotation (that is the backward pass).
   */
  rope(x: Float32Array, positions: Int32Array, cos: Float32Array, sin: Float32Array, rows: number, heads: number, headDim: number, inverse: boolean): void;

  /**
   * Causal self-attention over packed sequences. q is [T, H, hd], k and v are [T, KVH, hd]
   * (grouped-query: head h uses kv head floor(h / (H/KVH))). seqStarts (length nSeq+1) splits the
   * T rows into independent sequences; a token attends to itself and earlier tokens of its own
   * sequence. out is [T, H, hd]; lse [H, T] keeps the log-sum-exp of each score row for backward.
   * T is seqStarts[nSeq] (buffers may be longer; only the first T rows are used).
   */
  attentionForward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    seqStarts: Int32Array, heads: number, kvHeads: number, headDim: number, scale: number): void;
  /** Gradients of attentionForward; dq, dk, dv are overwritten. */
  attentionBackward(dout: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    dq: Float32Array, dk: Float32Array, dv: Float32Array,
    seqStarts: Int32Array, heads: number, kvHeads: number, headDim: number, scale: number): void;
  /**
   * Attention of `nNew` new query rows per sequence against a KV cache (decoding / prefill with cache).
   * q is [nSeq*nNew, H, hd]; kCache/vCache are [nSeq, capacity, KVH, hd] and already hold the new
   * rows' keys/values at positions past[s] .. past[s]+nNew-1; row i of sequence s attends to cache
   * positions 0 .. past[s]+i. out is [nSeq*nNew, H, hd].
   */
  attentionWithCache(q: Float32Array, kCache: Float32Array, vCache: Float32Array, out: Float32Array,
    past: Int32Array, nSeq: number, nNew: number, capacity: number, heads: number, kvHeads: number, headDim: number, scale: number): void;

  /**
   * The GEMM over a frozen bf16 weight B (a Uint16Array of bf16 bit patterns, weight-dtype.ts):
   * C = alpha * bf16(A) * op(B) + beta * C with A [M, K] f32, rounded to bf16 (nearest even), so
   * every product is exact and only the f32 sums' order differs between implementations.
   * transB: B is stored [N, K] (the forward x·Wᵀ); otherwise [K, N] (the backward dY·W).
   * Strides and offsets as in gemm (A is never transposed).
   */
  gemmBf16(
    transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Float32Array, B: Uint16Array, beta: number, C: Float32Array,
    opts?: { lda?: number; ldb?: number; ldc?: number; aOffset?: number; bOffset?: number; cOffset?: number },
  ): void;

  /** out = silu(gate) * up, elementwise over n values. */
  swigluForward(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void;
  /** dgate, dup overwritten. */
  swigluBackward(dout: Float32Array, gate: Float32Array, up: Float32Array, dgate: Float32Array, dup: Float32Array, n: number): void;

  /** out[r,:] = table[ids[r],:] */
  embeddingForward(table: Float32Array, ids: Int32Array, out: Float32Array, dim: number): void;

  /**
   * Log-probabilities of K target ids per row: logprobs[r*K+j] = logits[r, targets[r*K+j]] - lse[r],
   * lse[r] = logsumexp(logits[r,:]). Targets < 0 give logprob 0 (padding).
   */
  targetLogprobs(logits: Float32Array, rows: number, vocab: number, targets: Int32Array, K: number, logprobs: Float32Array, lse: Float32Array): void;
  /**
   * Overwrites logits with dL/dlogits given g = dL/dlogprobs (rows*K):
   * dlogits[r,:] = sum_j g[r,j] * (onehot(targets[r,j]) - softmax(logits[r,:])).
   */
  targetLogprobsBackward(logits: Float32Array, rows: number, vocab: number, targets: Int32Array, K: number, grad: Float32Array, lse: Float32Array): void;
  /** In-place log-softmax of each row (used by the sampler). */
  logSoftmaxRows(x: Float32Array, rows: number, cols: number): void;
  /**
   * One draw per row of normalised log-probabilities [rows, vocab], unfiltered (no top-k/top-p):
   * tokens[r] = the first i whose cumulative weight exceeds uniforms[r] times the total, the
   * weights being exp(lp) when temperature = 1 and exp((lp - max) / temperature) otherwise,
   * summed in f64 in vocabulary order. temperature must be > 0 (greedy is an argmax).
   */
  drawTokens(logprobs: Float32Array, rows: number, vocab: number, temperature: number, uniforms: Float64Array, tokens: Int32Array): void;

  /**
   * One torch.optim.AdamW step in place (decoupled weight decay, bias correction with `step`,
   * which counts from 1): p -= lr*wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
   * p -= lr * (m/(1-b1^step)) / (sqrt(v/(1-b2^step)) + eps).
   */
  adamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;
  /** Sum of squares (accumulated in f64). */
  sumOfSquares(x: Float32Array): number;
  /** x *= s */
  scale(x: Float32Array, s: number): void;
  /** y += a * x */
  axpy(a: number, x: Float32Array, y: Float32Array): void;
}
