// The attention half of a block, forward and backward: RMSNorm → q/k/v (+LoRA) → [Qwen3 q/k head
// norm] → RoPE → causal attention → o (+LoRA) → residual.
import { linearBackward, linearForward, loraKey } from '../lora.js';
import type { BackwardScratch, BlockActivations } from './block-activations.js';
import { loraBackward, loraForward, type PassContext } from './pass-context.js';

/** The attention itself: over the packed batch (training) or against a KV cache (sampling). */
export type AttentionCore = (q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array) => void;

/** xMid = x + o(attention(rope(norm(q)), rope(norm(k)), v)) with q/k/v = linears of RMSNorm(x). */
export function attentionHalfForward(ctx: PassContext, layer: number, x: Float32Array, a: BlockActivations, core: AttentionCore): void {
  const { k, cfg, rows: T } = ctx;
  const lw = ctx.w.layers[layer];
  const d = cfg.hiddenSize;
  const H = cfg.numHeads;
  const KVH = cfg.numKvHeads;
  const hd = cfg.headDim;
  k.rmsNormForward(x, lw.inputNorm, a.xnAttn, a.rstdAttn, T, d, cfg.rmsNormEps);
  linearForward(k, a.xnAttn, T, lw.q, d, H * hd, a.qRaw ?? a.q, false, loraForward(ctx, loraKey(layer, 'q'), a.u.q));
  linearForward(k, a.xnAttn, T, lw.k, d, KVH * hd, a.kRaw ?? a.kk, false, loraForward(ctx, loraKey(layer, 'k'), a.u.k));
  linearForward(k, a.xnAttn, T, lw.v, d, KVH * hd, a.v, false, loraForward(ctx, loraKey(layer, 'v'), a.u.v));
  if (a.qRaw !== null) k.rmsNormForward(a.qRaw, lw.qNorm, a.q, a.qRstd!, T * H, hd, cfg.rmsNormEps);
  if (a.kRaw !== null) k.rmsNormForward(a.kRaw, lw.kNorm, a.kk, a.kRstd!, T * KVH, hd, cfg.rmsNormEps);
  k.rope(a.q, ctx.positions, ctx.rope.cos, ctx.rope.sin, T, H, hd, false);
  k.rope(a.kk, ctx.positions, ctx.rope.cos, ctx.rope.sin, T, KVH, hd, false);
  core(a.q, a.kk, a.v, a.attn, a.lse);
  a.xMid.set(x.subarray(0, T * d));
  linearForward(k, a.attn, T, lw.o, H * hd, d, a.xMid, true, loraForward(ctx, loraKey(layer, 'o'), a.u.o));
}

/** Adds the attention path's gradient w.r.t. x into dRes (which holds dL/dxMid on entry). */
export function attentionHalfBackward(ctx: PassContext, layer: number, x: Float32Array, a: BlockActivations, seqStarts: Int32Array,
  s: BackwardScratch, needInputGrad: boolean): void {
  const { k, cfg, rows: T } = ctx;
  const lw = ctx.w.layers[layer];
  const d = cfg.hiddenSize;
  const H = cfg.numHeads;
  const KVH = cfg.numKvHeads;
  const hd = cfg.headDim;
  linearBackward(k, s.dRes, a.attn, T, lw.o, H * hd, d, s.dattn, false, loraBackward(ctx, loraKey(layer, 'o'), a.u.o, s.du));
  k.attentionBackward(s.dattn, a.q, a.kk, a.v, a.attn, a.lse, s.dq, s.dk, s.dv, seqStarts, H, KVH, hd, 1 / Math.sqrt(hd));
  k.rope(s.dq, ctx.positions, ctx.rope.cos, ctx.rope.sin, T, H, hd, true);
  k.rope(s.dk, ctx.positions, ctx.rope.cos, ctx.rope.sin, T, KVH, hd, true);
  let dqLin = s.dq;
  let dkLin = s.dk;
  if (a.qRaw !== null) {
    k.rmsNormBackward(s.dq, a.qRaw, lw.qNorm, a.qRstd!, s.dqRaw!, null, T * H, hd);
    k.rmsNormBackward(s.dk, a.kRaw!, lw.kNorm, a.kRstd!, s.dkRaw!, null, T * KVH, hd);
    dqLin = s.dqRaw!;
    dkLin = s.dkRaw!;
  }
  const dxn = needInputGrad ? s.dxn : null;
  linearBackward(k, dqLin, a.xnAttn, T, lw.q, d, H * hd, dxn, false, loraBackward(ctx, loraKey(layer, 'q'), a.u.q, s.du));
  linearBackward(k, dkLin, a.xnAttn, T, lw.k, d, KVH * hd, dxn, true, loraBackward(ctx, loraKey(layer, 'k'), a.u.k, s.du));
  linearBackward(k, s.dv, a.xnAttn, T, lw.v, d, KVH * hd, dxn, true, loraBackward(ctx, loraKey(layer, 'v'), a.u.v, s.du));
  if (!needInputGrad) return;
  k.rmsNormBackward(s.dxn, x, lw.inputNorm, a.rstdAttn, s.dtmp, null, T, d);
  k.axpy(1, s.dtmp.subarray(0, T * d), s.dRes.subarray(0, T * d));
}

