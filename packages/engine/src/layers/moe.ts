// The sparse MLP half of a Qwen3-MoE block, forward and backward: RMSNorm → router softmax → top-k
// (renormalised when norm_topk_prob) → per expert, a grouped GEMM over the tokens routed to it
// (gather → SwiGLU expert with LoRA on gate_up and down → scatter-add weighted by the routing
// weight) → residual. The router is frozen, but as in transformers the gradient flows through the
// routing weights (softmax, renormalisation) and the router into the block input.
import type { Kernels } from '../kernels.js';
import type { LoraPair, MoeLayerWeights } from '../model-types.js';
import { expertLoraKey } from '../moe-config.js';
import type { PassContext } from './pass-context.js';
import { gemmFrozen, type FrozenWeight } from '../weight-dtype.js';

/** What one sparse layer's forward keeps for its backward. */
export interface MoeActivations {
  probs: Float32Array; // [T, E] router softmax
  topIdx: Int32Array; // [T, k] selected experts, most probable first
  topW: Float32Array; // [T, k] routing weights applied
  /** Per expert: the slots t*k + j routed to it, in token order. */
  slots: Int32Array[];
  xe: Float32Array[]; // per expert [n, d] gathered inputs
  gate: Float32Array[]; // [n, ffe]
  up: Float32Array[]; // [n, ffe]
  h: Float32Array[]; // [n, ffe] silu(gate) * up
  y: Float32Array[]; // [n, d] the expert's output before weighting
  uGateUp: (Float32Array | null)[]; // [n, 2r] x·Aᵀ of the gate_up adapter
  uDown: (Float32Array | null)[]; // [n, r]
}

interface ExpertLora { pair: LoraPair; grad: LoraPair | undefined; rank: number }

function expertLora(ctx: PassContext, layer: number, expert: number, proj: 'gate_up' | 'down'): ExpertLora | null {
  const pair = ctx.adapter?.params.get(expertLoraKey(layer, expert, proj));
  if (pair === undefined) return null;
  return { pair, grad: ctx.adapter!.grads?.get(expertLoraKey(layer, expert, proj)), rank: pair.A.length / pair.inDim };
}

/** Router softmax and top-k of xn [T, d]; returns per-expert token counts. */
function route(k: Kernels, w: MoeLayerWeights<FrozenWeight>, xn: Float32Array, T: number, d: number, E: number, topK: number, normTopk: boolean,
  probs: Float32Array, topIdx: Int32Array, topW: Float32Array): Int32Array {
  k.gemm(false, true, T, E, d, 1, xn, w.router, 0, probs);
  const counts = new Int32Array(E);
  for (let t = 0; t < T; t++) {
    const p = probs.subarray(t * E, (t + 1) * E);
    let max = -Infinity;
    for (let e = 0; e < E; e++) max = Math.max(max, p[e]);
    let sum = 0;
    for (let e = 0; e < E; e++) {
      p[e] = Math.exp(p[e] - max);
      sum += p[e];
    }
    for (let e = 0; e < E; e++) p[e] /= sum;
    // torch.topk: the k largest, in descending order (the first index wins a tie).
    let selSum = 0;
    for (let j = 0; j < topK; j++) {
      let best = -1;
      for (let e = 0; e < E; e++) {
        let taken = false;
        for (let i = 0; i < j; i++) if (topIdx[t * topK + i] === e) taken = true;
        if (!taken && (best < 0 || p[e] > p[best])) best = e;
      }
      topIdx[t * topK + j] = best;
      topW[t * topK + j] = p[best];
      selSum += topW[t * topK + j];
      counts[best]++;
    }
    if (normTopk) for (let j = 0; j < topK; j++) topW[t * topK + j] /= selSum;
  }
  return counts;
}

/**
 * out[T, d] += Σ_j topW[t, j] · expert_{topIdx[t, j]}(xn[t]), the MoE block on normalised rows
 * xn. Returns the activations the backward needs, and records the router load.
 */
export function moeForward(ctx: PassContext, layer: number, xn: Float32Array, out: Float32Array): MoeActivations {
  const { k, cfg, rows: T } = ctx;
  const w = ctx.w.layers[layer].moe!;
  const m = cfg.moe!;
  const d = cfg.hiddenSize;
  const E = m.numExperts;
  const topK = m.numExpertsPerTok;
  const ffe = m.moeIntermediateSize;
  const probs = new Float32Array(T * E);
  const topIdx = new Int32Array(T * topK);
  const topW = new Float32Array(T * topK);
  const counts = route(k, w, xn, T, d, E, topK, m.normTopkProb, probs, topIdx, topW);
  ctx.routerLoad?.record(counts, T);
  const a: MoeActivations = { probs, topIdx, topW, slots: [], xe: [], gate: [], up: [], h: [], y: [], uGateUp: [], uDown: [] };
  const fill = new Int32Array(E);
  for (let e = 0; e < E; e++) a.slots.push(new Int32Array(counts[e]));
  for (let s = 0; s < T * topK; s++) {
    const e = topIdx[s];
    a.slots[e][fill[e]++] = s;
  }
  for (let e = 0; e < E; e++) {
    const slots = a.slots[e];
    const n = slots.length;
    const xe = new Float32Array(n * d);
    for (let i = 0; i < n; i++) xe.set(xn.subarray(Math.floor(slots[i] / topK) * d, (Math.floor(slots[i] / topK) + 1) * d), i * d);
    const gate = new Float32Array(n * ffe);
    const up = new Float32Array(n * ffe);
    const h = new Float32Array(n * ffe);
    const y = new Float32Array(n * d);
    const guLora = expertLora(ctx, layer, e, 'gate_up');
    const downLora = expertLora(ctx, layer, e, 'down');
    const uGateUp = guLora === null ? null : new Float32Array(n * guLora.rank);
    const uDown = downLora === null ? null : new Float32Array(n * downLora.rank);
    a.xe.push(xe); a.gate.push(gate); a.up.push(up); a.h.push(h); a.y.push(y); a.uGateUp.push(uGateUp); a.uDown.push(uDown);
    if (n === 0) continue;
    const guOff = e * 2 * ffe * d;
    gemmFrozen(k, true, n, ffe, d, 1, xe, w.gateUp, 0, gate, { bOffset: guOff });
    gemmFrozen(k, true, n, ffe, d, 1, xe, w.gateUp, 0, up, { bOffset: guOff + ffe * d });
    if (guLora !== null) {
      const r = guLora.rank;
      k.gemm(false, true, n, r, d, 1, xe, guLora.pair.A, 0, uGateUp!);
      k.gemm(false, true, n, ffe, r, ctx.loraScale, uGateUp!, guLora.pair.B, 1, gate);
      k.gemm(false, true, n, ffe, r, ctx.loraScale, uGateUp!, guLora.pair.B, 1, up, { bOffset: ffe * r });
    }
    k.swigluForward(gate, up, h, n * ffe);
    const downOff = e * d * ffe;
    gemmFrozen(k, true, n, d, ffe, 1, h, w.down, 0, y, { bOffset: downOff });
    if (downLora !== null) {
      const r = downLora.rank;
      k.gemm(false, true, n, r, ffe, 1, h, downLora.pair.A, 0, uDown!);
      k.gemm(false, true, n, d, r, ctx.loraScale, uDown!, downLora.pair.B, 1, y);
    }
    for (let i = 0; i < n; i++) {
      const t = Math.floor(slots[i] / topK);
      const wt = topW[slots[i]];
      for (let c = 0; c < d; c++) out[t * d + c] += wt * y[i * d + c];
    }
  }
  return a;
}

/**
 * Given dOut = dL/d(MoE output) [T, d], overwrites dxn with dL/dxn and accumulates the experts'
 * LoRA gradients.
 */
export function moeBackward(ctx: PassContext, layer: number, a: MoeActivations, dOut: Float32Array, dxn: Float32Array): void {
  const { k, cfg, rows: T } = ctx;
  const w = ctx.w.layers[layer].moe!;
  const m = cfg.moe!;
  const d = cfg.hiddenSize;
  const E = m.numExperts;
  const topK = m.numExpertsPerTok;
  const ffe = m.moeIntermediateSize;
  const s = ctx.loraScale;
  dxn.fill(0, 0, T * d);
  const gW = new Float32Array(T * topK); // dL/d(routing weight) per slot
  for (let e = 0; e < E; e++) {
    const slots = a.slots[e];
    const n = slots.length;
    if (n === 0) continue;
    const y = a.y[e];
    const dy = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const t = Math.floor(slots[i] / topK);
      const wt = a.topW[slots[i]];
      let g = 0;
      for (let c = 0; c < d; c++) {
        const go = dOut[t * d + c];
        g += go * y[i * d + c];
        dy[i * d + c] = wt * go;
      }
      gW[slots[i]] = g;
    }
    const dh = new Float32Array(n * ffe);
    const downOff = e * d * ffe;
    gemmFrozen(k, false, n, ffe, d, 1, dy, w.down, 0, dh, { bOffset: downOff });
    const downLora = expertLora(ctx, layer, e, 'down');
    if (downLora !== null) {
      const { pair, grad, rank: r } = downLora;
      if (grad === undefined) throw new Error(`adapter has no gradient buffer for ${expertLoraKey(layer, e, 'down')}`);
      const du = new Float32Array(n * r);
      k.gemm(true, false, d, r, n, s, dy, a.uDown[e]!, 1, grad.B);
      k.gemm(false, false, n, r, d, s, dy, pair.B, 0, du);
      k.gemm(true, false, r, ffe, n, 1, du, a.h[e], 1, grad.A);
      k.gemm(false, false, n, ffe, r, 1, du, pair.A, 1, dh);
    }
    const dgate = new Float32Array(n * ffe);
    const dup = new Float32Array(n * ffe);
    k.swigluBackward(dh, a.gate[e], a.up[e], dgate, dup, n * ffe);
    const dxe = new Float32Array(n * d);
    const guOff = e * 2 * ffe * d;
    gemmFrozen(k, false, n, d, ffe, 1, dgate, w.gateUp, 0, dxe, { bOffset: guOff });
    gemmFrozen(k, false, n, d, ffe, 1, dup, w.gateUp, 1, dxe, { bOffset: guOff + ffe * d });
    const guLora = expertLora(ctx, layer, e, 'gate_up');
    if (guLora !== null) {
      const { pair, grad, rank: r } = guLora;
      if (grad === undefined) throw new Error(`adapter has no gradient buffer for ${expertLoraKey(layer, e, 'gate_up')}`);
      const u = a.uGateUp[e]!;
      const du = new Float32Array(n * r);
      k.gemm(true, false, ffe, r, n, s, dgate, u, 1, grad.B);
      k.gemm(true, false, ffe, r, n, s, dup, u, 1, grad.B, { cOffset: ffe * r });
      k.gemm(false, false, n, r, ffe, s, dgate, pair.B, 0, du);
      k.gemm(false, false, n, r, ffe, s, dup, pair.B, 1, du, { bOffset: ffe * r });
      k.gemm(true, false, r, d, n, 1, du, a.xe[e], 1, grad.A);
      k.gemm(false, false, n, d, r, 1, du, pair.A, 1, dxe);
    }
    for (let i = 0; i < n; i++) {
      const t = Math.floor(slots[i] / topK);
      for (let c = 0; c < d; c++) dxn[t * d + c] += dxe[i * d + c];
    }
  }
  // Through the routing weights: renormalisation, then the softmax, then the frozen router.
  const dz = new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    const p = a.probs.subarray(t * E, (t + 1) * E);
    const dp = dz.subarray(t * E, (t + 1) * E);
    if (m.normTopkProb) {
      // w_j = p_j / S with S = Σ p_sel: dL/dp_j = (g_j - Σ_i g_i w_i) / S.
      let S = 0;
      let gw = 0;
      for (let j = 0; j < topK; j++) {
        S += p[a.topIdx[t * topK + j]];
        gw += gW[t * topK + j] * a.topW[t * topK + j];
      }
      for (let j = 0; j < topK; j++) dp[a.topIdx[t * topK + j]] = (gW[t * topK + j] - gw) / S;
    } else {
      for (let j = 0; j < topK; j++) dp[a.topIdx[t * topK + j]] = gW[t * topK + j];
    }
    let dot = 0;
    for (let e = 0; e < E; e++) dot += dp[e] * p[e];
    for (let e = 0; e < E; e++) dp[e] = p[e] * (dp[e] - dot);
  }
  k.gemm(false, false, T, d, E, 1, dz, w.router, 1, dxn);
}
