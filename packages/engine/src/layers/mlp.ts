// The MLP half of a block, forward and backward: RMSNorm → SwiGLU (gate, up, down, each +LoRA) →
// residual.
import { linearBackward, linearForward, loraKey } from '../lora.js';
import type { BackwardScratch, BlockActivations } from './block-activations.js';
import { loraBackward, loraForward, type PassContext } from './pass-context.js';
import { moeBackward, moeForward } from './moe.js';

/** out = xMid + down(silu(gate(RMSNorm(xMid))) * up(RMSNorm(xMid))). */
export function mlpHalfForward(ctx: PassContext, layer: number, a: BlockActivations, out: Float32Array): void {
  const { k, cfg, rows: T } = ctx;
  const lw = ctx.w.layers[layer];
  const d = cfg.hiddenSize;
  const ff = cfg.intermediateSize;
  k.rmsNormForward(a.xMid, lw.postAttnNorm, a.xnMlp, a.rstdMlp, T, d, cfg.rmsNormEps);
  if (lw.moe) {
    // A sparse layer: the routed experts take the place of the SwiGLU MLP.
    out.set(a.xMid.subarray(0, T * d));
    a.moe = moeForward(ctx, layer, a.xnMlp, out);
    return;
  }
  linearForward(k, a.xnMlp, T, lw.gate, d, ff, a.gate, false, loraForward(ctx, loraKey(layer, 'gate'), a.u.gate));
  linearForward(k, a.xnMlp, T, lw.up, d, ff, a.up, false, loraForward(ctx, loraKey(layer, 'up'), a.u.up));
  k.swigluForward(a.gate, a.up, a.h, T * ff);
  out.set(a.xMid.subarray(0, T * d));
  linearForward(k, a.h, T, lw.down, ff, d, out, true, loraForward(ctx, loraKey(layer, 'down'), a.u.down));
}

/** dRes holds dL/d(block output) on entry and dL/dxMid on exit. */
export function mlpHalfBackward(ctx: PassContext, layer: number, a: BlockActivations, s: BackwardScratch): void {
  const { k, cfg, rows: T } = ctx;
  const lw = ctx.w.layers[layer];
  const d = cfg.hiddenSize;
  const ff = cfg.intermediateSize;
  if (lw.moe) {
    moeBackward(ctx, layer, a.moe!, s.dRes, s.dxn);
    k.rmsNormBackward(s.dxn, a.xMid, lw.postAttnNorm, a.rstdMlp, s.dtmp, null, T, d);
    k.axpy(1, s.dtmp.subarray(0, T * d), s.dRes.subarray(0, T * d));
    return;
  }
  const downLora = loraBackward(ctx, loraKey(layer, 'down'), a.u.down, s.du);
  // Only the down adapter's A gradient reads h; it is recomputed because later layers reuse its buffer.
  if (downLora !== null) k.swigluForward(a.gate, a.up, a.h, T * ff);
  linearBackward(k, s.dRes, a.h, T, lw.down, ff, d, s.dh, false, downLora);
  k.swigluBackward(s.dh, a.gate, a.up, s.dgate, s.dup, T * ff);
  linearBackward(k, s.dgate, a.xnMlp, T, lw.gate, d, ff, s.dxn, false, loraBackward(ctx, loraKey(layer, 'gate'), a.u.gate, s.du));
  linearBackward(k, s.dup, a.xnMlp, T, lw.up, d, ff, s.dxn, true, loraBackward(ctx, loraKey(layer, 'up'), a.u.up, s.du));
  k.rmsNormBackward(s.dxn, a.xMid, lw.postAttnNorm, a.rstdMlp, s.dtmp, null, T, d);
  k.axpy(1, s.dtmp.subarray(0, T * d), s.dRes.subarray(0, T * d));
}

