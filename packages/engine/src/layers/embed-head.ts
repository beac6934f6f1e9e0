// The two ends of the decoder: the token embedding (frozen: it has no backward, and token ids no
// gradient) and the head, which turns normalised rows into logits (+LoRA) in row chunks.
import type { ModelWeights } from '../model-types.js';
import { linearForward, LM_HEAD_KEY } from '../lora.js';
import { loraForward, type PassContext } from './pass-context.js';
import { isBf16, type FrozenWeight } from '../weight-dtype.js';

export function embedForward(ctx: PassContext, tokens: Int32Array, x: Float32Array): void {
  const table = ctx.w.embed;
  if (isBf16(table)) embedBf16(table, tokens, x, ctx.cfg.hiddenSize, ctx.cfg.vocabSize);
  else ctx.k.embeddingForward(table, tokens, x, ctx.cfg.hiddenSize);
}

/** The gather from a bf16 table: each row widened exactly (T·d bit shifts, no GEMM). */
function embedBf16(table: Uint16Array, ids: Int32Array, out: Float32Array, dim: number, vocab: number): void {
  if (out.length < ids.length * dim) throw new RangeError(`out has ${out.length} elements but ${ids.length * dim} are needed`);
  const bits = new Uint32Array(out.buffer, out.byteOffset, ids.length * dim);
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r];
    if (!(id >= 0 && id < vocab)) throw new RangeError(`token id ${id} is outside the vocabulary of ${vocab}`);
    const src = id * dim, dst = r * dim;
    for (let i = 0; i < dim; i++) bits[dst + i] = table[src + i] << 16;
  }
}


/**
 * Rows per head chunk: a chunk of logits stays around 8M floats (32 MB) but has at least 128
 * rows, because every chunk streams the whole head weight (622 MB for a 152k vocabulary) and
 * fewer rows make the GEMM thin (measured: 128-row chunks make a 0.6B-model step ~9% faster than 55-row ones).
 */
export function defaultHeadChunkRows(vocabSize: number): number {
  return Math.max(128, Math.min(1024, Math.floor((1 << 23) / vocabSize)));
}

export function headWeight(w: ModelWeights<FrozenWeight>): FrozenWeight {
  return w.lmHead ?? w.embed;
}

/** Logits of `rowCount` normalised rows starting at `row0` into `logits` [rowCount, V]. */
export function headLogits(ctx: PassContext, xnF: Float32Array, row0: number, rowCount: number, logits: Float32Array, uHead: Float32Array | null): void {
  const d = ctx.cfg.hiddenSize;
  const V = ctx.cfg.vocabSize;
  const lora = uHead === null ? null : loraForward(ctx, LM_HEAD_KEY, uHead.subarray(row0 * ctx.rank, (row0 + rowCount) * ctx.rank));
  linearForward(ctx.k, xnF.subarray(row0 * d, (row0 + rowCount) * d), rowCount, headWeight(ctx.w), d, V, logits, false, lora);
}

