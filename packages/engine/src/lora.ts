/**
 * LoRA on a frozen linear: y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with s = alpha/rank (PEFT layout: A [r, in],
 * B [out, r]). Forward keeps u = x·Aᵀ [rows, r] for the backward; backward accumulates dA, dB and
 * produces dx through both the frozen weight and the adapter. A bf16 frozen weight goes to
 * gemmBf16 (the f32 activations rounded to bf16 for its product, f32 sums); the adapter stays f32.
 */
import type { Kernels } from './kernels.js';
import type { LoraModuleKind, LoraPair, LoraParams, LoraSettings, ModelConfig } from './model-types.js';
import { expertDims, expertLoraKey, expertLoraRank, isSparseLayer } from './moe-config.js';
import { isBf16, type FrozenWeight } from './weight-dtype.js';

export const ATTENTION_MODULES: readonly LoraModuleKind[] = ['q', 'k', 'v', 'o'];
export const MLP_MODULES: readonly LoraModuleKind[] = ['gate', 'up', 'down'];
export const LM_HEAD_KEY = 'lm_head';

export function loraKey(layer: number, kind: LoraModuleKind): string {
  return `layers.${layer}.${kind}`;
}

/** alpha / rank: the factor applied to B·A. */
export function loraScale(settings: LoraSettings): number {
  return settings.alpha / settings.rank;
}

export interface LoraModuleShape {
  key: string;
  inDim: number;
  outDim: number;
  rank: number;
}

/** [in, out] of a per-layer linear module. */
export function moduleDims(cfg: ModelConfig, kind: LoraModuleKind): { inDim: number; outDim: number } {
  const d = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  switch (kind) {
    case 'q': return { inDim: d, outDim: qDim };
    case 'k': case 'v': return { inDim: d, outDim: kvDim };
    case 'o': return { inDim: qDim, outDim: d };
    case 'gate': case 'up': return { inDim: d, outDim: cfg.intermediateSize };
    case 'down': return { inDim: cfg.intermediateSize, outDim: d };
  }
}

/** Every module an adapter with these settings trains, in a fixed order. */
export function adaptedModules(cfg: ModelConfig, settings: LoraSettings): LoraModuleShape[] {
  const kinds: LoraModuleKind[] = [];
  if (settings.trainAttn) kinds.push(...ATTENTION_MODULES);
  if (settings.trainMlp) kinds.push(...MLP_MODULES);
  const shapes: LoraModuleShape[] = [];
  const r = settings.rank;
  for (let layer = 0; layer < cfg.numLayers; layer++) {
    for (const kind of kinds) {
      // In an MoE model the MLP adapters sit on the experts (moe-config.ts says why dense MLP layers get none).
      if (cfg.moe !== undefined && MLP_MODULES.includes(kind)) continue;
      shapes.push({ key: loraKey(layer, kind), ...moduleDims(cfg, kind), rank: r });
    }
    if (settings.trainMlp && isSparseLayer(cfg, layer)) {
      for (let e = 0; e < cfg.moe!.numExperts; e++) {
        for (const proj of ['gate_up', 'down'] as const) {
          shapes.push({ key: expertLoraKey(layer, e, proj), ...expertDims(cfg, proj), rank: expertLoraRank(proj, r) });
        }
      }
    }
  }
  if (settings.trainUnembed) shapes.push({ key: LM_HEAD_KEY, inDim: cfg.hiddenSize, outDim: cfg.vocabSize, rank: r });
  return shapes;
}

/** A LoraParams map with zero-filled buffers of the same shapes as `like`. */
export function zerosLike(like: LoraParams): LoraParams {
  const out: LoraParams = new Map();
  for (const [key, p] of like) {
    out.set(key, { A: new Float32Array(p.A.length), B: new Float32Array(p.B.length), inDim: p.inDim, outDim: p.outDim });
  }
  return out;
}

/**
 * y[rows, out] = x·Wᵀ (+ s·(x·Aᵀ)·Bᵀ with an adapter); with `accumulate` the result is added to y
 * (used to add a projection straight onto the residual stream). `u` [rows, r] receives x·Aᵀ,
 * which the backward needs.
 */
export function linearForward(
  k: Kernels, x: Float32Array, rows: number, W: FrozenWeight, inDim: number, outDim: number,
  y: Float32Array, accumulate: boolean, lora: { pair: LoraPair; scale: number; u: Float32Array } | null,
): void {
  if (isBf16(W)) k.gemmBf16(true, rows, outDim, inDim, 1, x, W, accumulate ? 1 : 0, y);
  else k.gemm(false, true, rows, outDim, inDim, 1, x, W, accumulate ? 1 : 0, y);
  if (lora === null) return;
  const r = lora.pair.A.length / inDim;
  k.gemm(false, true, rows, r, inDim, 1, x, lora.pair.A, 0, lora.u);
  k.gemm(false, true, rows, outDim, r, lora.scale, lora.u, lora.pair.B, 1, y);
}

/**
 * Backward of linearForward given dy [rows, out]. Accumulates grad.A += (s·dy·B)ᵀ·x and
 * grad.B += s·dyᵀ·u. When dx is given it is overwritten (or accumulated into with
 * accumulateDx) with dy·W + (s·dy·B)·A. `du` is scratch of [rows, r].
 */
export function linearBackward(
  k: Kernels, dy: Float32Array, x: Float32Array, rows: number, W: FrozenWeight, inDim: number, outDim: number,
  dx: Float32Array | null, accumulateDx: boolean,
  lora: { pair: LoraPair; grad: LoraPair; scale: number; u: Float32Array; du: Float32Array } | null,
): void {
  if (dx !== null) {
    if (isBf16(W)) k.gemmBf16(false, rows, inDim, outDim, 1, dy, W, accumulateDx ? 1 : 0, dx);
    else k.gemm(false, false, rows, inDim, outDim, 1, dy, W, accumulateDx ? 1 : 0, dx);
  }
  if (lora === null) return;
  const r = lora.pair.A.length / inDim;
  const { pair, grad, scale, u, du } = lora;
  k.gemm(true, false, outDim, r, rows, scale, dy, u, 1, grad.B);
  k.gemm(false, false, rows, r, outDim, scale, dy, pair.B, 0, du);
  k.gemm(true, false, r, inDim, rows, 1, du, x, 1, grad.A);
  if (dx !== null) k.gemm(false, false, rows, inDim, r, 1, du, pair.A, 1, dx);
}
