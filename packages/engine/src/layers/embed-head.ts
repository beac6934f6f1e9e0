// The two ends of the decoder: the token embedding (frozen: it has no backward, and token ids no
// gradient) and the head, which turns normalised rows into logits (+LoRA) in row chunks.
import type { ModelWeights } from '../model-types.js';
import { linearForward, LM_HEAD_KEY } from '../lora.js';
import { loraForward, type PassContext } from './pass-context.js';

export function embedForward(ctx: PassContext, tokens: Int32Array, x: Float32Array): void {
  ctx.k.embeddingForward(ctx.w.embed, tokens, x, ctx.cfg.hiddenSize);
}


/**
 * Rows per head chunk: a chunk of logits stays around 8M floats (32 MB) but has at least 128
 * rows, because every chunk streams the whole head weight (622 MB for a 152k vocabulary) and
 * fewer rows make the GEMM thin (measured: 128-row chunks make a 0.6B-model step ~9% faster than 55-row ones).
 */
export function defaultHeadChunkRows(vocabSize: number): number {
  return Math.max(128, Math.min(1024, Math.floor((1 << 23) / vocabSize)));
}

export function headWeight(w: ModelWeights): Float32Array {
  return w.lmHead ?? w.embed;
}

/** Logits of `rowCount` normalised rows starting at `row0` into `logits` [rowCount, V]. */
export function headLogits(ctx: PassContext, xnF: Float32Array, row0: number, rowCount: number, logits: Float32Array, uHead: Float32Array | null): void {
  const d = ctx.cfg.hiddenSize;
  const V = ctx.cfg.vocabSize;
  const lora = uHead === null ? null : loraForward(ctx, LM_HEAD_KEY, uHead.subarray(row0 * ctx.rank, (row0 + rowCount) * ctx.rank));
  linearForward(ctx.k, xnF.subarray(row0 * d, (row0 + rowCount) * d), rowCount, headWeight(ctx.w), d, V, logits, false, lora);
}

