/**
 * The decoder (Llama / Qwen3) with LoRA, forward and backward, written llm.c-style: each stage has
 * an explicit forward and backward next to each other, on plain Float32Arrays.
 *
 *   embed → blocks (RMSNorm → q/k/v (+LoRA) → [Qwen3 q/k head norm] → RoPE → causal attention
 *   → o (+LoRA) → residual → RMSNorm → SwiGLU MLP (+LoRA) → residual) → final norm
 *   → head (+LoRA) → target logprobs, then the same in reverse.
 *
 * The base is frozen: only LoRA A/B receive gradients, while the gradient w.r.t. activations flows
 * through the frozen weights. A batch is several sequences packed into one token stream
 * (`seqStarts`), so every linear is one GEMM over all tokens. The head never materialises
 * [T, V] logits: it runs in row chunks, and during training each chunk's loss gradient is taken
 * immediately (every loss is per token), so the logits are computed once.
 *
 * `forwardWithCache` is the sampler's path through the same stages with a KV cache.
 */
import type { Kernels } from './kernels.js';
import type { LoadedModel, LoraModuleKind, LoraPair, LoraParams, LoraSettings, ModelConfig, ModelWeights } from './model-types.js';
import { linearBackward, linearForward, loraKey, loraScale, LM_HEAD_KEY } from './lora.js';
import { ropeTablesFor, type RopeTables } from './rope-tables.js';
import { EngineUserError } from './errors.js';
import { freshArrays, type DecodeWorkspace, type Float32Source } from './decode-workspace.js';

/** Sequences packed into one token stream. */
export interface PackedBatch {
  tokens: Int32Array; // [T]
  positions: Int32Array; // [T], position of each token within its own sequence
  seqStarts: Int32Array; // [nSeq + 1]
  /** [T * K] target ids, K per position; -1 = padding (logprob 0, no gradient). */
  targets: Int32Array;
  K: number;
}

/** An adapter as the model sees it; `grads` is only needed for training. */
export interface AdapterView {
  settings: LoraSettings;
  params: LoraParams;
  grads?: LoraParams;
}

/**
 * Called once per head row chunk during training with the chunk's target logprobs
 * (rowCount * K, row index counting from 0 over the batch); must fill dlogprobs = dL/dlogprobs.
 */
export type LossGradientFn = (rowStart: number, rowCount: number, logprobs: Float32Array, dlogprobs: Float32Array) => void;

export interface TrainingPassOptions {
  /** Absent: forward only (no activations kept, no gradients). */
  lossGradient?: LossGradientFn;
  /** Rows per head chunk; the default keeps a chunk's logits around 8M floats. */
  headChunkRows?: number;
}

/** Packs sequences into a PackedBatch; `targets` of each has tokens.length * K entries. */
export function packSequences(cfg: ModelConfig, seqs: { tokens: ArrayLike<number>; targets: ArrayLike<number> }[], K: number): PackedBatch {
  let T = 0;
  for (const s of seqs) T += s.tokens.length;
  const tokens = new Int32Array(T);
  const positions = new Int32Array(T);
  const seqStarts = new Int32Array(seqs.length + 1);
  const targets = new Int32Array(T * K);
  let row = 0;
  seqs.forEach((s, i) => {
    const n = s.tokens.length;
    if (s.targets.length !== n * K) throw new EngineUserError(`sequence ${i}: ${s.targets.length} targets for ${n} positions × ${K}`);
    if (n > cfg.maxPositionEmbeddings) {
      throw new EngineUserError(`sequence ${i} has ${n} tokens but the model supports at most ${cfg.maxPositionEmbeddings}`);
    }
    for (let j = 0; j < n; j++) {
      tokens[row + j] = checkTokenId(cfg, s.tokens[j], `sequence ${i} token ${j}`);
      positions[row + j] = j;
    }
    for (let j = 0; j < n * K; j++) {
      const t = s.targets[j];
      targets[row * K + j] = t === -1 ? -1 : checkTokenId(cfg, t, `sequence ${i} target ${j}`);
    }
    row += n;
    seqStarts[i + 1] = row;
  });
  return { tokens, positions, seqStarts, targets, K };
}

function checkTokenId(cfg: ModelConfig, id: number, what: string): number {
  if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) {
    throw new EngineUserError(`${what}: token id ${id} is outside the vocabulary [0, ${cfg.vocabSize})`);
  }
  return id;
}

/**
 * Rows per head chunk: a chunk of logits stays around 8M floats (32 MB) but has at least 128
 * rows, because every chunk streams the whole head weight (622 MB for a 152k vocabulary) and
 * fewer rows make the GEMM thin (measured: 128-row chunks make a 0.6B-model step ~9% faster than 55-row ones).
 */
export function defaultHeadChunkRows(vocabSize: number): number {
  return Math.max(128, Math.min(1024, Math.floor((1 << 23) / vocabSize)));
}

// ---------------------------------------------------------------------------------------------
// Shared context and per-layer buffers

/** What every stage of one pass needs. The stage functions are exported so tests can check each backward alone. */
export interface PassContext {
  k: Kernels;
  cfg: ModelConfig;
  w: ModelWeights;
  adapter: AdapterView | null;
  loraScale: number;
  rank: number;
  rows: number;
  positions: Int32Array;
  rope: RopeTables;
}

const LAYER_KINDS: readonly LoraModuleKind[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

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

function loraForward(ctx: PassContext, key: string, u: Float32Array | undefined): { pair: LoraPair; scale: number; u: Float32Array } | null {
  if (ctx.adapter === null || u === undefined) return null;
  const pair = ctx.adapter.params.get(key);
  if (pair === undefined) return null;
  return { pair, scale: ctx.loraScale, u };
}

function loraBackward(ctx: PassContext, key: string, u: Float32Array | undefined, du: Float32Array):
  { pair: LoraPair; grad: LoraPair; scale: number; u: Float32Array; du: Float32Array } | null {
  const fwd = loraForward(ctx, key, u);
  if (fwd === null) return null;
  const grad = ctx.adapter!.grads?.get(key);
  if (grad === undefined) throw new Error(`adapter has no gradient buffer for ${key}`);
  return { ...fwd, grad, du };
}

// ---------------------------------------------------------------------------------------------
// Embedding

function embedForward(ctx: PassContext, tokens: Int32Array, x: Float32Array): void {
  ctx.k.embeddingForward(ctx.w.embed, tokens, x, ctx.cfg.hiddenSize);
}
// (No embedding backward: the table is frozen and token ids have no gradient.)

// ---------------------------------------------------------------------------------------------
// Attention half of a block

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

// ---------------------------------------------------------------------------------------------
// MLP half of a block

/** out = xMid + down(silu(gate(RMSNorm(xMid))) * up(RMSNorm(xMid))). */
export function mlpHalfForward(ctx: PassContext, layer: number, a: BlockActivations, out: Float32Array): void {
  const { k, cfg, rows: T } = ctx;
  const lw = ctx.w.layers[layer];
  const d = cfg.hiddenSize;
  const ff = cfg.intermediateSize;
  k.rmsNormForward(a.xMid, lw.postAttnNorm, a.xnMlp, a.rstdMlp, T, d, cfg.rmsNormEps);
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

// ---------------------------------------------------------------------------------------------
// Head: final norm → logits (+LoRA) → target logprobs, in row chunks

function headWeight(w: ModelWeights): Float32Array {
  return w.lmHead ?? w.embed;
}

/** Logits of `rowCount` normalised rows starting at `row0` into `logits` [rowCount, V]. */
function headLogits(ctx: PassContext, xnF: Float32Array, row0: number, rowCount: number, logits: Float32Array, uHead: Float32Array | null): void {
  const d = ctx.cfg.hiddenSize;
  const V = ctx.cfg.vocabSize;
  const lora = uHead === null ? null : loraForward(ctx, LM_HEAD_KEY, uHead.subarray(row0 * ctx.rank, (row0 + rowCount) * ctx.rank));
  linearForward(ctx.k, xnF.subarray(row0 * d, (row0 + rowCount) * d), rowCount, headWeight(ctx.w), d, V, logits, false, lora);
}

// ---------------------------------------------------------------------------------------------
// Training pass

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

export function makeContext(k: Kernels, model: LoadedModel, adapter: AdapterView | null, positions: Int32Array, maxPosition: number): PassContext {
  return {
    k, cfg: model.config, w: model.weights, adapter,
    loraScale: adapter === null ? 0 : loraScale(adapter.settings),
    rank: adapter === null ? 0 : adapter.settings.rank,
    rows: positions.length, positions,
    rope: ropeTablesFor(model.config, maxPosition + 1),
  };
}

/**
 * Runs the model over a packed batch and returns the target logprobs [T * K]. With
 * `options.lossGradient` it also back-propagates and accumulates LoRA gradients into
 * `adapter.grads` (which must exist).
 */
export function runTrainingPass(k: Kernels, model: LoadedModel, adapter: AdapterView | null, batch: PackedBatch,
  options: TrainingPassOptions = {}): Float32Array {
  const cfg = model.config;
  const T = batch.tokens.length;
  const K = batch.K;
  const d = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const logprobs = new Float32Array(T * K);
  if (T === 0) return logprobs;
  const training = options.lossGradient !== undefined;
  if (training && (adapter === null || adapter.grads === undefined)) throw new Error('a training pass needs an adapter with gradient buffers');
  let maxPos = 0;
  for (let i = 0; i < T; i++) maxPos = Math.max(maxPos, batch.positions[i]);
  const ctx = makeContext(k, model, adapter, batch.positions, maxPos);
  const L = cfg.numLayers;
  const hd = cfg.headDim;
  const attnScale = 1 / Math.sqrt(hd);
  const packedAttention: AttentionCore = (q, kk, v, out, lse) =>
    k.attentionForward(q, kk, v, out, lse, batch.seqStarts, cfg.numHeads, cfg.numKvHeads, hd, attnScale);

  // Forward through the blocks. Training keeps every layer's activations; forward-only reuses one set.
  const residuals: Float32Array[] = [new Float32Array(T * d)];
  let spare: Float32Array | null = training ? null : new Float32Array(T * d);
  embedForward(ctx, batch.tokens, residuals[0]);
  const acts: BlockActivations[] = [];
  const sharedH = new Float32Array(T * cfg.intermediateSize);
  let x: Float32Array = residuals[0];
  for (let l = 0; l < L; l++) {
    const a = training || acts.length === 0 ? allocBlock(ctx, l, T, sharedH) : reuseBlock(ctx, acts[0], l, T);
    if (training || acts.length === 0) acts.push(a);
    const out = spare ?? new Float32Array(T * d);
    attentionHalfForward(ctx, l, x, a, packedAttention);
    mlpHalfForward(ctx, l, a, out);
    if (training) residuals.push(out);
    else spare = x;
    x = out;
  }
  const xLast = x;
  const rstdF = new Float32Array(T);
  const xnF = new Float32Array(T * d);
  k.rmsNormForward(xLast, model.weights.finalNorm, xnF, rstdF, T, d, cfg.rmsNormEps);

  // Head in row chunks; in training each chunk's logits turn into dlogits right away.
  const headLora = adapter !== null && adapter.params.has(LM_HEAD_KEY);
  const uHead = headLora ? new Float32Array(T * ctx.rank) : null;
  const chunkRows = Math.max(1, Math.min(T, options.headChunkRows ?? defaultHeadChunkRows(V)));
  const logits = new Float32Array(chunkRows * V);
  const lse = new Float32Array(chunkRows);
  const dlogprobs = training ? new Float32Array(chunkRows * K) : null;
  const dxnF = training ? new Float32Array(T * d) : null;
  const duHead = headLora && training ? new Float32Array(chunkRows * ctx.rank) : null;
  for (let r0 = 0; r0 < T; r0 += chunkRows) {
    const R = Math.min(chunkRows, T - r0);
    headLogits(ctx, xnF, r0, R, logits, uHead);
    const targets = batch.targets.subarray(r0 * K, (r0 + R) * K);
    const lp = logprobs.subarray(r0 * K, (r0 + R) * K);
    k.targetLogprobs(logits, R, V, targets, K, lp, lse);
    if (!training) continue;
    const g = dlogprobs!.subarray(0, R * K);
    g.fill(0);
    options.lossGradient!(r0, R, lp, g);
    k.targetLogprobsBackward(logits, R, V, targets, K, g, lse);
    const lora = uHead === null ? null
      : loraBackward(ctx, LM_HEAD_KEY, uHead.subarray(r0 * ctx.rank, (r0 + R) * ctx.rank), duHead!);
    linearBackward(k, logits, xnF.subarray(r0 * d, (r0 + R) * d), R, headWeight(model.weights), d, V,
      dxnF!.subarray(r0 * d, (r0 + R) * d), false, lora);
  }
  if (!training) return logprobs;

  // Backward: final norm, then the blocks in reverse.
  const s = allocScratch(ctx);
  k.rmsNormBackward(dxnF!, xLast, model.weights.finalNorm, rstdF, s.dRes, null, T, d);
  for (let l = L - 1; l >= 0; l--) {
    mlpHalfBackward(ctx, l, acts[l], s);
    // The embedding is frozen, so layer 0 needs no gradient w.r.t. its input.
    attentionHalfBackward(ctx, l, residuals[l], acts[l], batch.seqStarts, s, l > 0);
  }
  return logprobs;
}

/** Forward-only passes reuse one activation set; only the LoRA u buffers differ per layer (same shape). */
function reuseBlock(ctx: PassContext, a: BlockActivations, layer: number, rows: number, arrays: Float32Source = freshArrays): BlockActivations {
  for (const kind of LAYER_KINDS) {
    if (ctx.adapter !== null && ctx.adapter.params.has(loraKey(layer, kind)) && a.u[kind] === undefined) {
      a.u[kind] = arrays(`block.u.${kind}`, rows * ctx.rank);
    }
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Cached path for sampling

export interface KvCache {
  nSeq: number;
  capacity: number;
  k: Float32Array[]; // per layer [nSeq, capacity, KVH, hd]
  v: Float32Array[];
  lengths: Int32Array;
}

export function createKvCache(cfg: ModelConfig, nSeq: number, capacity: number): KvCache {
  if (!Number.isInteger(nSeq) || nSeq < 1) throw new RangeError(`KV cache needs at least one sequence, got ${nSeq}`);
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`KV cache capacity must be a positive integer, got ${capacity}`);
  if (capacity > cfg.maxPositionEmbeddings) {
    throw new EngineUserError(`KV cache capacity ${capacity} exceeds the model's ${cfg.maxPositionEmbeddings} positions`);
  }
  const size = nSeq * capacity * cfg.numKvHeads * cfg.headDim;
  const k: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    k.push(new Float32Array(size));
    v.push(new Float32Array(size));
  }
  return { nSeq, capacity, k, v, lengths: new Int32Array(nSeq) };
}

/** Copies sequence `from`'s cached prefix into slot `to` (forking one prompt into several samples). */
export function copyKvSequence(cache: KvCache, from: number, to: number): void {
  if (from === to) return;
  for (const s of [from, to]) {
    if (!Number.isInteger(s) || s < 0 || s >= cache.nSeq) throw new RangeError(`KV cache has no sequence ${s}`);
  }
  const per = cache.k[0] === undefined ? 0 : cache.k[0].length / (cache.nSeq * cache.capacity);
  const n = cache.lengths[from] * per;
  for (let l = 0; l < cache.k.length; l++) {
    const src = from * cache.capacity * per;
    const dst = to * cache.capacity * per;
    cache.k[l].copyWithin(dst, src, src + n);
    cache.v[l].copyWithin(dst, src, src + n);
  }
  cache.lengths[to] = cache.lengths[from];
}

/**
 * A one-sequence cache sharing sequence `s`'s storage: running forwardWithCache on it advances only
 * that sequence (e.g. prefill a prompt once, then copyKvSequence it into the other slots).
 */
export function kvCacheSequenceView(cache: KvCache, s: number): KvCache {
  if (!Number.isInteger(s) || s < 0 || s >= cache.nSeq) throw new RangeError(`KV cache has no sequence ${s}`);
  const per = cache.k.length === 0 ? 0 : cache.k[0].length / cache.nSeq;
  return {
    nSeq: 1,
    capacity: cache.capacity,
    k: cache.k.map((buf) => buf.subarray(s * per, (s + 1) * per)),
    v: cache.v.map((buf) => buf.subarray(s * per, (s + 1) * per)),
    lengths: cache.lengths.subarray(s, s + 1),
  };
}

/**
 * Runs nNew new tokens per sequence (tokens laid out [nSeq, nNew]) through the model at positions
 * lengths[s].., appending to the cache. logits === 'last': returns [nSeq, V] logits of each
 * sequence's last new row. Otherwise streams the logits of all nSeq*nNew rows in row chunks to the
 * callback (chunk = [rowCount, V], row index counts from 0 over the call's rows) and returns null.
 * With a workspace, the buffers (returned logits included) are the workspace's, reused by its next call.
 */
export function forwardWithCache(k: Kernels, model: LoadedModel, adapter: { params: LoraParams; settings: LoraSettings } | null,
  cache: KvCache, tokens: Int32Array, nNew: number,
  logits: 'last' | ((rowStart: number, rowCount: number, chunk: Float32Array) => void), workspace?: DecodeWorkspace): Float32Array | null {
  const arrays = workspace?.f32 ?? freshArrays;
  const cfg = model.config;
  const nSeq = cache.nSeq;
  const T = nSeq * nNew;
  const d = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const KVH = cfg.numKvHeads;
  const hd = cfg.headDim;
  if (!Number.isInteger(nNew) || nNew < 1) throw new RangeError(`nNew must be a positive integer, got ${nNew}`);
  if (tokens.length !== T) throw new RangeError(`expected ${T} tokens ([${nSeq}, ${nNew}]), got ${tokens.length}`);
  const positions = new Int32Array(T);
  let maxPos = 0;
  for (let s = 0; s < nSeq; s++) {
    if (cache.lengths[s] + nNew > cache.capacity) {
      throw new EngineUserError(`sequence ${s}: ${cache.lengths[s]} cached + ${nNew} new tokens exceed the KV cache capacity ${cache.capacity}`);
    }
    for (let i = 0; i < nNew; i++) {
      checkTokenId(cfg, tokens[s * nNew + i], `sequence ${s} token ${i}`);
      positions[s * nNew + i] = cache.lengths[s] + i;
    }
    maxPos = Math.max(maxPos, cache.lengths[s] + nNew - 1);
  }
  const ctx = makeContext(k, model, adapter, positions, maxPos);
  const kvRow = KVH * hd;
  const past = cache.lengths.slice();
  let layer = 0;
  const cachedAttention: AttentionCore = (q, kk, v, out) => {
    const kc = cache.k[layer];
    const vc = cache.v[layer];
    for (let s = 0; s < nSeq; s++) {
      const dst = (s * cache.capacity + past[s]) * kvRow;
      kc.set(kk.subarray(s * nNew * kvRow, (s + 1) * nNew * kvRow), dst);
      vc.set(v.subarray(s * nNew * kvRow, (s + 1) * nNew * kvRow), dst);
    }
    k.attentionWithCache(q, kc, vc, out, past, nSeq, nNew, cache.capacity, cfg.numHeads, KVH, hd, 1 / Math.sqrt(hd));
  };

  let x = arrays('x', T * d);
  let next = arrays('next', T * d);
  embedForward(ctx, tokens, x);
  const a = allocBlock(ctx, 0, T, undefined, arrays);
  for (layer = 0; layer < cfg.numLayers; layer++) {
    reuseBlock(ctx, a, layer, T, arrays);
    attentionHalfForward(ctx, layer, x, a, cachedAttention);
    mlpHalfForward(ctx, layer, a, next);
    [x, next] = [next, x];
  }
  for (let s = 0; s < nSeq; s++) cache.lengths[s] += nNew;

  const headLora = adapter !== null && adapter.params.has(LM_HEAD_KEY);
  if (logits === 'last') {
    // Only each sequence's last row needs the head; RMSNorm is per row, so gather first.
    const xLast = arrays('head.xLast', nSeq * d);
    for (let s = 0; s < nSeq; s++) xLast.set(x.subarray((s * nNew + nNew - 1) * d, (s * nNew + nNew) * d), s * d);
    const xn = arrays('head.xn', nSeq * d);
    k.rmsNormForward(xLast, model.weights.finalNorm, xn, arrays('head.rstd', nSeq), nSeq, d, cfg.rmsNormEps);
    const out = arrays('head.logits', nSeq * V);
    const headCtx = { ...ctx, rows: nSeq };
    headLogits(headCtx, xn, 0, nSeq, out, headLora ? arrays('head.u', nSeq * ctx.rank) : null);
    return out;
  }
  const xn = new Float32Array(T * d);
  k.rmsNormForward(x, model.weights.finalNorm, xn, new Float32Array(T), T, d, cfg.rmsNormEps);
  const chunkRows = Math.min(T, defaultHeadChunkRows(V));
  const chunk = new Float32Array(chunkRows * V);
  const uHead = headLora ? new Float32Array(T * ctx.rank) : null;
  for (let r0 = 0; r0 < T; r0 += chunkRows) {
    const R = Math.min(chunkRows, T - r0);
    headLogits(ctx, xn, r0, R, chunk, uHead);
    logits(r0, R, chunk.subarray(0, R * V));
  }
  return null;
}
