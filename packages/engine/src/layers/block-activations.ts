// The buffers one block's forward keeps for its backward, and the backward's scratch.
import type { LoraModuleKind } from '../model-types.js';
import { loraKey } from '../lora.js';
import { freshArrays, type Float32Source } from '../decode-workspace.js';
import type { PassContext } from './pass-context.js';
import type { MoeActivations } from './moe.js';

export const LAYER_KINDS: readonly LoraModuleKind[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

/** What one block's forward keeps for its backward (x, the block input, lives in the residual list). */
export interface BlockActivations {
  rstdAttn: Float32Array; // [T]
  xnAttn: Float32Array; // [T, d]
  qRaw: Float32Array | null; // [T, H*hd] before the Qwen3 head norm
  kRaw: Float32Array | null; // [T, KVH*hd]
  qRstd: Float32Array | null; // [T*H]
  kRstd: Float32Array | null; // [T*KVH]
  q: Float32Array; // [T, H, hd] after norm and RoPE
  kk: Float32Array; // [T, KVH, hd]
  v: Float32Array; // [T, KVH, hd]
  attn: Float32Array; // [T, H*hd]
  lse: Float32Array; // [H, T]
  xMid: Float32Array; // [T, d] residual after attention
  rstdMlp: Float32Array; // [T]
  xnMlp: Float32Array; // [T, d]
  gate: Float32Array; // [T, ff]
  up: Float32Array; // [T, ff]
  /** [T, ff] silu(gate)*up; may be shared by all layers of a training pass (the backward recomputes it). */
  h: Float32Array;
  /** x·Aᵀ [T, r] per adapted module of this layer. */
  u: Partial<Record<LoraModuleKind, Float32Array>>;
  /** A sparse layer's routing and expert activations, set by its forward. */
  moe?: MoeActivations;
}

export function allocBlock(ctx: PassContext, layer: number, rows: number, sharedH?: Float32Array, arrays: Float32Source = freshArrays): BlockActivations {
  const { cfg } = ctx;
  const d = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const ff = cfg.intermediateSize;
  const qkNorm = cfg.family === 'qwen3';
  const u: Partial<Record<LoraModuleKind, Float32Array>> = {};
  if (ctx.adapter !== null) {
    for (const kind of LAYER_KINDS) {
      if (ctx.adapter.params.has(loraKey(layer, kind))) u[kind] = arrays(`block.u.${kind}`, rows * ctx.rank);
    }
  }
  return {
    rstdAttn: arrays('block.rstdAttn', rows),
    xnAttn: arrays('block.xnAttn', rows * d),
    qRaw: qkNorm ? arrays('block.qRaw', rows * qDim) : null,
    kRaw: qkNorm ? arrays('block.kRaw', rows * kvDim) : null,
    qRstd: qkNorm ? arrays('block.qRstd', rows * cfg.numHeads) : null,
    kRstd: qkNorm ? arrays('block.kRstd', rows * cfg.numKvHeads) : null,
    q: arrays('block.q', rows * qDim),
    kk: arrays('block.kk', rows * kvDim),
    v: arrays('block.v', rows * kvDim),
    attn: arrays('block.attn', rows * qDim),
    lse: arrays('block.lse', cfg.numHeads * rows),
    xMid: arrays('block.xMid', rows * d),
    rstdMlp: arrays('block.rstdMlp', rows),
    xnMlp: arrays('block.xnMlp', rows * d),
    gate: arrays('block.gate', rows * ff),
    up: arrays('block.up', rows * ff),
    h: sharedH ?? arrays('block.h', rows * ff),
    u,
  };
}

/** Forward-only passes reuse one activation set; only the LoRA u buffers differ per layer (same shape). */
export function reuseBlock(ctx: PassContext, a: BlockActivations, layer: number, rows: number, arrays: Float32Source = freshArrays): BlockActivations {
  for (const kind of LAYER_KINDS) {
    if (ctx.adapter !== null && ctx.adapter.params.has(loraKey(layer, kind)) && a.u[kind] === undefined) {
      a.u[kind] = arrays(`block.u.${kind}`, rows * ctx.rank);
    }
  }
  return a;
}


export interface BackwardScratch {
  dRes: Float32Array; // [T, d] running gradient of the residual stream
  dxn: Float32Array; // [T, d]
  dtmp: Float32Array; // [T, d]
  dattn: Float32Array; // [T, H*hd]
  dq: Float32Array; // [T, H*hd]
  dk: Float32Array; // [T, KVH*hd]
  dv: Float32Array; // [T, KVH*hd]
  dqRaw: Float32Array | null;
  dkRaw: Float32Array | null;
  dh: Float32Array; // [T, ff]
  dgate: Float32Array;
  dup: Float32Array;
  du: Float32Array; // [T, r]
}

export function allocScratch(ctx: PassContext): BackwardScratch {
  const { cfg, rows: T } = ctx;
  const d = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const ff = cfg.intermediateSize;
  const qk = cfg.family === 'qwen3';
  return {
    dRes: new Float32Array(T * d), dxn: new Float32Array(T * d), dtmp: new Float32Array(T * d),
    dattn: new Float32Array(T * qDim), dq: new Float32Array(T * qDim), dk: new Float32Array(T * kvDim), dv: new Float32Array(T * kvDim),
    dqRaw: qk ? new Float32Array(T * qDim) : null, dkRaw: qk ? new Float32Array(T * kvDim) : null,
    dh: new Float32Array(T * ff), dgate: new Float32Array(T * ff), dup: new Float32Array(T * ff),
    du: new Float32Array(T * Math.max(1, ctx.rank)),
  };
}

