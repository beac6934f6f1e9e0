/**
 * The Dimuon optimizer step over every LoRA matrix of an adapter. Hosted Tinker documents its
 * parameters (learning rate "applied to a direction with Frobenius norm sqrt(rank)", momentum
 * beta1, a damping that "smooths the row and column preconditioner", a learning-rate correction
 * relative to rank 32, an internal matrix-sign iteration) but not its formula; this is that
 * documented intent, exactly:
 *
 *   g ← global L2 norm of all gradients; if grad_clip_norm > 0: G ← G · min(1, clip / (g + 1e-6))
 *   per LoRA matrix P (A: rank×in, B: out×rank) with gradient G and momentum M:
 *     M ← β1·M + (1 − β1)·G
 *     r_i = mean_j M_ij² / mean(M²),  c_j = mean_i M_ij² / mean(M²)
 *     X_ij = (r_i + damping)^(-1/4) · M_ij · (c_j + damping)^(-1/4)
 *     O = NS5(X): X ← X / ‖X‖_F, then 5 times X ← a·X + (b·XXᵀ + c·(XXᵀ)²)·X,
 *         (a, b, c) = (3.4445, −4.7750, 2.0315), on Xᵀ when X has more rows than columns
 *     U = O · √n / ‖O‖_F,  n = min(rows, cols) (the LoRA rank)
 *     P ← P − lr · (rank / 32)^rank_lr_correction_exponent · U
 *
 * A matrix whose momentum is all zero (B = 0 leaves A without gradient on the first step) has
 * no direction and is left as it is. There is no weight decay (0.38's DimuonParams has none).
 * The gradients are zeroed afterwards, as after an AdamW step.
 */
import type { Kernels } from './kernels.js';
import type { AdapterState } from './model-types.js';
import { EngineUserError } from './errors.js';
import { clipGradients, zeroGradients } from './adamw.js';

/** One step's parameters (wire names); omitted fields take DEFAULT_DIMUON_PARAMS on every step. */
export interface DimuonParams {
  type: 'dimuon';
  learning_rate: number;
  /** 0 or less: no clipping. */
  grad_clip_norm: number;
  beta1: number;
  damping: number;
  /** 0: no rank correction. */
  rank_lr_correction_exponent: number;
}

/** The official SDK's defaults (learning_rate has none). */
export const DEFAULT_DIMUON_PARAMS: Readonly<Omit<DimuonParams, 'learning_rate'>> = Object.freeze({
  type: 'dimuon',
  grad_clip_norm: 0,
  beta1: 0.9,
  damping: 1e-4,
  rank_lr_correction_exponent: 0.175,
});

/** The rank the learning rate is calibrated for: the correction is (rank / 32)^exponent. */
export const DIMUON_REFERENCE_RANK = 32;
/** Quintic Newton–Schulz coefficients (as in Muon) and the number of iterations. */
export const NEWTON_SCHULZ_COEFFICIENTS = Object.freeze([3.4445, -4.775, 2.0315] as const);
export const NEWTON_SCHULZ_STEPS = 5;
/** Keeps the normalisations finite for a near-zero matrix. */
const NORM_EPS = 1e-7;

function validateDimuonParams(p: DimuonParams): void {
  const check = (ok: boolean, what: string, value: number): void => {
    if (!ok) throw new EngineUserError(`optimizer_params.${what} ${value} is invalid`);
  };
  const finite = (x: number): boolean => typeof x === 'number' && Number.isFinite(x);
  check(finite(p.learning_rate) && p.learning_rate >= 0, 'learning_rate', p.learning_rate);
  check(finite(p.beta1) && p.beta1 >= 0 && p.beta1 < 1, 'beta1', p.beta1);
  check(finite(p.damping) && p.damping > 0, 'damping', p.damping);
  check(finite(p.grad_clip_norm), 'grad_clip_norm', p.grad_clip_norm);
  check(finite(p.rank_lr_correction_exponent), 'rank_lr_correction_exponent', p.rank_lr_correction_exponent);
}

/**
 * The damped row/column preconditioning of M (rows×cols, row-major) into `out`; false when M is
 * all zero (no direction).
 */
export function preconditionMomentum(M: Float32Array, rows: number, cols: number, damping: number, out: Float32Array): boolean {
  const rowSq = new Float64Array(rows);
  const colSq = new Float64Array(cols);
  let total = 0;
  for (let i = 0, at = 0; i < rows; i++) {
    let row = 0;
    for (let j = 0; j < cols; j++, at++) {
      const m = M[at]!;
      const sq = m * m;
      row += sq;
      colSq[j]! += sq;
    }
    rowSq[i] = row;
    total += row;
  }
  if (!(total > 0)) return false;
  const meanSq = total / (rows * cols);
  const rowScale = new Float64Array(rows);
  const colScale = new Float64Array(cols);
  for (let i = 0; i < rows; i++) rowScale[i] = (rowSq[i]! / cols / meanSq + damping) ** -0.25;
  for (let j = 0; j < cols; j++) colScale[j] = (colSq[j]! / rows / meanSq + damping) ** -0.25;
  for (let i = 0, at = 0; i < rows; i++) {
    const r = rowScale[i]!;
    for (let j = 0; j < cols; j++, at++) out[at] = r * M[at]! * colScale[j]!;
  }
  return true;
}

/**
 * Five quintic Newton–Schulz iterations on X / ‖X‖_F (rows×cols): pushes every singular value
 * towards 1 (into roughly [0.7, 1.2]), keeping the singular vectors.
 *
 * Written on the short side (n = min(rows, cols)), without forming an iterate of the long one:
 * every iterate is X_k = X₀·P_k (tall; P_k·X₀ when wide) for an n×n matrix P_k, and its Gram
 * matrix is P_kᵀ·G·P_k with G = X₀ᵀX₀ (X₀X₀ᵀ when wide). So the iteration
 *   X_{k+1} = a·X_k + X_k·(b·S_k + c·S_k²),  S_k = X_kᵀX_k
 * becomes P_{k+1} = P_k·(a·I + b·S_k + c·S_k²) on n×n matrices (in f64), and the long side is
 * touched by two GEMMs in all (G, then X₀·P₅) instead of two a step: a LoRA factor of the
 * unembedding (vocab × rank) costs about a fifth of the direct form.
 */
export function newtonSchulz(k: Kernels, X: Float32Array, rows: number, cols: number): Float32Array {
  const wide = rows <= cols;
  const n = wide ? rows : cols;
  const long = wide ? cols : rows;
  const W = Float32Array.from(X);
  k.scale(W, 1 / (Math.sqrt(k.sumOfSquares(W)) + NORM_EPS));
  const [a, b, c] = NEWTON_SCHULZ_COEFFICIENTS;
  const gram32 = new Float32Array(n * n);
  if (wide) k.gemm(false, true, n, n, long, 1, W, W, 0, gram32);
  else k.gemm(true, false, n, n, long, 1, W, W, 0, gram32);
  const G = Float64Array.from(gram32);
  // The wide case is the tall one on Xᵀ: X_k = P_k·X₀ there is (X₀ᵀ·P_kᵀ)ᵀ, with the same G.
  let P = identity(n);
  for (let step = 0; step < NEWTON_SCHULZ_STEPS; step++) {
    const S = matmul(transpose(P, n), matmul(G, P, n), n); // X_kᵀX_k
    const S2 = matmul(S, S, n);
    const Q = new Float64Array(n * n);
    for (let i = 0; i < n * n; i++) Q[i] = b * S[i]! + c * S2[i]!;
    for (let i = 0; i < n; i++) Q[i * n + i]! += a;
    P = matmul(P, Q, n);
  }
  const out = new Float32Array(rows * cols);
  if (wide) k.gemm(true, false, n, long, n, 1, Float32Array.from(P), W, 0, out); // (X₀ᵀ·P)ᵀ = Pᵀ·X₀
  else k.gemm(false, false, long, n, n, 1, W, Float32Array.from(P), 0, out);
  return out;
}

function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

function transpose(m: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = m[i * n + j]!;
  return t;
}

/** n×n times n×n, row-major, f64. */
function matmul(x: Float64Array, y: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < n; p++) {
      const xip = x[i * n + p]!;
      if (xip === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += xip * y[p * n + j]!;
    }
  }
  return out;
}

/** The update direction of one matrix from its momentum: Frobenius norm √min(rows, cols), or null. */
export function dimuonDirection(k: Kernels, M: Float32Array, rows: number, cols: number, damping: number): Float32Array | null {
  const X = new Float32Array(rows * cols);
  if (!preconditionMomentum(M, rows, cols, damping, X)) return null;
  const U = newtonSchulz(k, X, rows, cols);
  const norm = Math.sqrt(k.sumOfSquares(U));
  if (!(norm > 0) || !Number.isFinite(norm)) return null;
  k.scale(U, Math.sqrt(Math.min(rows, cols)) / norm);
  return U;
}

/** The learning rate's rank correction, (rank / 32)^exponent. */
export function rankLrCorrection(rank: number, exponent: number): number {
  return exponent === 0 ? 1 : (rank / DIMUON_REFERENCE_RANK) ** exponent;
}

/** One Dimuon step on the adapter; returns metrics (`grad_norm:mean` is the norm before clipping). */
export function dimuonStep(k: Kernels, adapter: AdapterState, p: DimuonParams): Record<string, number> {
  validateDimuonParams(p);
  const momentum = adapter.dimuonMomentum;
  if (adapter.optimizer !== 'dimuon' || !momentum) throw new EngineUserError('this adapter was not created with the Dimuon optimizer');
  const gradNorm = clipGradients(k, adapter, p.grad_clip_norm);
  adapter.step += 1;
  const stepSize = p.learning_rate * rankLrCorrection(adapter.settings.rank, p.rank_lr_correction_exponent);
  const rank = adapter.settings.rank;
  for (const [key, param] of adapter.params) {
    const g = adapter.grads.get(key)!;
    const m = momentum.get(key)!;
    const matrices = [[param.A, g.A, m.A, rank, param.inDim], [param.B, g.B, m.B, param.outDim, rank]] as const;
    for (const [P, G, M, rows, cols] of matrices) {
      k.scale(M, p.beta1);
      k.axpy(1 - p.beta1, G, M);
      const U = dimuonDirection(k, M, rows, cols, p.damping);
      if (U) k.axpy(-stepSize, U, P);
    }
  }
  zeroGradients(adapter);
  return { 'grad_norm:mean': gradNorm, 'learning_rate:mean': p.learning_rate, 'step:max': adapter.step };
}
