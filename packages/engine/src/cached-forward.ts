// The sampler's path through the decoder's stages: new tokens of every sequence against the KV
// cache (prefill and decode steps), then the head for the last rows or for all of them.
import type { Kernels } from './kernels.js';
import type { LoadedModel, LoraParams, LoraSettings } from './model-types.js';
import type { FrozenWeight } from './weight-dtype.js';
import { LM_HEAD_KEY } from './lora.js';
import { EngineUserError } from './errors.js';
import { freshArrays, type DecodeWorkspace } from './decode-workspace.js';
import type { KvCache } from './kv-cache.js';
import { checkTokenId } from './packed-batch.js';
import { attentionHalfForward, type AttentionCore } from './layers/attention.js';
import { allocBlock, reuseBlock } from './layers/block-activations.js';
import { defaultHeadChunkRows, embedForward, headLogits } from './layers/embed-head.js';
import { mlpHalfForward } from './layers/mlp.js';
import { makeContext } from './layers/pass-context.js';

/**
 * Runs nNew new tokens per sequence (tokens laid out [nSeq, nNew]) through the model at positions
 * lengths[s].., appending to the cache. logits === 'last': returns [nSeq, V] logits of each
 * sequence's last new row. Otherwise streams the logits of all nSeq*nNew rows in row chunks to the
 * callback (chunk = [rowCount, V], row index counts from 0 over the call's rows) and returns null.
 * With a workspace, the buffers (returned logits included) are the workspace's, reused by its next call.
 * headFromRow (streaming only): rows before it get no head, and the callback sees none of them.
 */
export function forwardWithCache(k: Kernels, model: LoadedModel<FrozenWeight>, adapter: { params: LoraParams; settings: LoraSettings } | null,
  cache: KvCache, tokens: Int32Array, nNew: number,
  logits: 'last' | ((rowStart: number, rowCount: number, chunk: Float32Array) => void), workspace?: DecodeWorkspace,
  headFromRow = 0): Float32Array | null {
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
  for (let r0 = Math.max(0, headFromRow); r0 < T; r0 += chunkRows) {
    const R = Math.min(chunkRows, T - r0);
    headLogits(ctx, xn, r0, R, chunk, uHead);
    logits(r0, R, chunk.subarray(0, R * V));
  }
  return null;
}
