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
 * The stages live in layers/ (pass context, block buffers, attention, MLP, embedding and head);
 * `forwardWithCache` (cached-forward.ts) is the sampler's path through the same stages with a KV cache.
 */
import type { Kernels } from './kernels.js';
import type { LoadedModel } from './model-types.js';
import type { FrozenWeight } from './weight-dtype.js';
import { linearBackward, LM_HEAD_KEY } from './lora.js';
import type { PackedBatch } from './packed-batch.js';
import { attentionHalfBackward, attentionHalfForward, type AttentionCore } from './layers/attention.js';
import { allocBlock, allocScratch, reuseBlock, type BlockActivations } from './layers/block-activations.js';
import { defaultHeadChunkRows, embedForward, headLogits, headWeight } from './layers/embed-head.js';
import { mlpHalfBackward, mlpHalfForward } from './layers/mlp.js';
import { loraBackward, makeContext, type AdapterView } from './layers/pass-context.js';
import type { RouterLoad } from './router-load.js';

/**
 * Called once per head row chunk during training with the chunk's target logprobs
 * (rowCount * K, row index counting from 0 over the batch); must fill dlogprobs = dL/dlogprobs.
 */
export type LossGradientFn = (rowStart: number, rowCount: number, logprobs: Float32Array, dlogprobs: Float32Array) => void;

/** Called once with every target logprob of the batch [T * K]; must fill dlogprobs = dL/dlogprobs. */
export type BatchLossGradientFn = (logprobs: Float32Array, dlogprobs: Float32Array) => void;

export interface TrainingPassOptions {
  /** Absent (and no batchLossGradient): forward only (no activations kept, no gradients). */
  lossGradient?: LossGradientFn;
  /** For a loss that couples rows (a custom loss over whole sequences): used instead of lossGradient. */
  batchLossGradient?: BatchLossGradientFn;
  /** Rows per head chunk; the default keeps a chunk's logits around 8M floats. */
  headChunkRows?: number;
  /** Collects the router load of sparse (MoE) layers. */
  routerLoad?: RouterLoad;
}

/**
 * Runs the model over a packed batch and returns the target logprobs [T * K]. With
 * `options.lossGradient` it also back-propagates and accumulates LoRA gradients into
 * `adapter.grads` (which must exist).
 */
export function runTrainingPass(k: Kernels, model: LoadedModel<FrozenWeight>, adapter: AdapterView | null, batch: PackedBatch,
  options: TrainingPassOptions = {}): Float32Array {
  const cfg = model.config;
  const T = batch.tokens.length;
  const K = batch.K;
  const d = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const logprobs = new Float32Array(T * K);
  if (T === 0) return logprobs;
  const coupled = options.batchLossGradient;
  const training = options.lossGradient !== undefined || coupled !== undefined;
  if (training && (adapter === null || adapter.grads === undefined)) throw new Error('a training pass needs an adapter with gradient buffers');
  let maxPos = 0;
  for (let i = 0; i < T; i++) maxPos = Math.max(maxPos, batch.positions[i]);
  const ctx = makeContext(k, model, adapter, batch.positions, maxPos);
  ctx.routerLoad = options.routerLoad ?? null;
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
  // A coupled loss needs every logprob before any gradient: with several head chunks, one extra
  // sweep computes them all (the loop below recomputes each chunk's logits for its backward).
  const batchGrad = coupled ? new Float32Array(T * K) : null;
  let batchGradReady = false;
  const takeBatchGradient = () => {
    coupled!(logprobs, batchGrad!);
    batchGradReady = true;
  };
  if (coupled && chunkRows < T) {
    for (let r0 = 0; r0 < T; r0 += chunkRows) {
      const R = Math.min(chunkRows, T - r0);
      headLogits(ctx, xnF, r0, R, logits, uHead);
      k.targetLogprobs(logits, R, V, batch.targets.subarray(r0 * K, (r0 + R) * K), K, logprobs.subarray(r0 * K, (r0 + R) * K), lse);
    }
    takeBatchGradient();
  }
  for (let r0 = 0; r0 < T; r0 += chunkRows) {
    const R = Math.min(chunkRows, T - r0);
    headLogits(ctx, xnF, r0, R, logits, uHead);
    const targets = batch.targets.subarray(r0 * K, (r0 + R) * K);
    const lp = logprobs.subarray(r0 * K, (r0 + R) * K);
    k.targetLogprobs(logits, R, V, targets, K, lp, lse);
    if (!training) continue;
    const g = dlogprobs!.subarray(0, R * K);
    g.fill(0);
    if (coupled) {
      if (!batchGradReady) takeBatchGradient(); // one chunk: every logprob is known now
      g.set(batchGrad!.subarray(r0 * K, (r0 + R) * K));
    } else {
      options.lossGradient!(r0, R, lp, g);
    }
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

