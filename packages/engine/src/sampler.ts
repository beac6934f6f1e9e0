/**
 * Sampling with a KV cache. The prompt is prefilled once (streaming its logits when prompt
 * logprobs are wanted, so [T, V] never exists at once), its cache is forked into one slot per
 * sample, and the samples then decode together as one batch; finished samples are dropped
 * from the batch. Reported logprobs are those of the untempered model distribution, i.e. the
 * same numbers a forward pass gives for the sampled tokens.
 *
 * Stop semantics follow hosted Tinker: the token that triggers a stop (EOS, a stop token id,
 * or the token whose text completes a stop string) is the last token returned.
 */
import { randomInt } from 'node:crypto';
import { EngineUserError } from './errors.js';
import type { Kernels } from './kernels.js';
import { DecodeWorkspace } from './decode-workspace.js';
import { forwardWithCache } from './cached-forward.js';
import { createKvCache, type KvCache } from './kv-cache.js';
import type { LoadedModel, LoraParams, LoraSettings } from './model-types.js';
import type { FrozenWeight } from './weight-dtype.js';
import { Prng } from './prng.js';
import { AltTokenDrawer } from './prompt-alt-tokens.js';

export interface SamplerParams {
  /** null: up to the context limit. */
  maxTokens: number | null;
  /** 0 = greedy. */
  temperature: number;
  /** -1 (or 0) = no top-k filter. */
  topK: number;
  /** 1 = no nucleus filter. */
  topP: number;
  /** null: a fresh random seed. */
  seed: number | null;
  stopTokenIds: number[];
  stopStrings: string[];
}

export interface SampleJob {
  prompt: number[];
  numSamples: number;
  params: SamplerParams;
  promptLogprobs: boolean;
  /** 0 = off. */
  topkPromptLogprobs: number;
  /** For each sampled token, the k most likely tokens of the distribution it was drawn from (0 = off). */
  topkSampleLogprobs?: number;
  /** Prompt logprobs (plain and top-k) only at the last n prompt positions; null = all. */
  promptLogprobsLastN?: number | null;
  /**
   * Token ids to score inside the prompt: cell c asks for the logprob of ids[c] in logits row
   * rows[c] (row i predicts prompt token i + 1). Rows must not decrease from cell to cell.
   */
  promptTargets?: { rows: readonly number[]; ids: readonly number[] } | null;
  /** Draws per prompt position after the first from the (tempered) next-token distribution; 0 = off. */
  promptAltTokensK?: number;
}

export interface SampledSequence {
  tokens: number[];
  logprobs: number[];
  /** With topkSampleLogprobs: one best-first [tokenId, logprob] list per sampled token. */
  topkLogprobs?: [number, number][][];
  stopReason: 'stop' | 'length';
}

export interface SampleResult {
  sequences: SampledSequence[];
  /** One entry per prompt token; the first is null (nothing predicts it). */
  promptLogprobs: (number | null)[] | null;
  topkPromptLogprobs: ([number, number][] | null)[] | null;
  /** With promptTargets: the logprob of each cell, in the cells' order. */
  targetPromptLogprobs?: number[];
  /** With promptAltTokensK = k: [T - 1, k] row-major draws and their untempered logprobs. */
  promptAltTokens?: { tokens: number[]; logprobs: number[] };
}

export interface SamplerContext {
  kernels: Kernels;
  model: LoadedModel<FrozenWeight>;
  adapter: { params: LoraParams; settings: LoraSettings } | null;
  maxContextLength: number;
  /** Detokenizer for stop strings; required only when stop strings are given. */
  decode: ((ids: number[]) => string) | null;
  /** KV positions first reserved beyond the prompt (default 256); the cache doubles when more are needed. */
  initialDecodeCapacity?: number;
}

const INITIAL_DECODE_CAPACITY = 256;

export function validateSampleJob(job: SampleJob, maxContextLength: number, vocabSize: number): void {
  const p = job.params;
  if (!Array.isArray(job.prompt) || job.prompt.length === 0) throw new EngineUserError('prompt must contain at least one token');
  for (const [i, t] of job.prompt.entries()) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new EngineUserError(`prompt token ${i} (${t}) is outside the vocabulary [0, ${vocabSize})`);
  }
  if (!Number.isInteger(job.numSamples) || job.numSamples < 1) throw new EngineUserError(`num_samples must be a positive integer, got ${job.numSamples}`);
  if (p.maxTokens !== null && (!Number.isInteger(p.maxTokens) || p.maxTokens < 0)) throw new EngineUserError(`max_tokens must be a non-negative integer, got ${p.maxTokens}`);
  if (!Number.isFinite(p.temperature) || p.temperature < 0) throw new EngineUserError(`temperature must be >= 0, got ${p.temperature}`);
  if (!Number.isInteger(p.topK) || p.topK < -1) throw new EngineUserError(`top_k must be -1 (off) or a positive integer, got ${p.topK}`);
  if (!(p.topP > 0 && p.topP <= 1)) throw new EngineUserError(`top_p must be in (0, 1], got ${p.topP}`);
  if (p.seed !== null && !Number.isFinite(p.seed)) throw new EngineUserError(`seed must be a number, got ${p.seed}`);
  for (const t of p.stopTokenIds) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new EngineUserError(`stop token ${t} is outside the vocabulary [0, ${vocabSize})`);
  }
  if (p.stopStrings.some((s) => typeof s !== 'string' || s.length === 0)) throw new EngineUserError('stop strings must be non-empty strings');
  if (!Number.isInteger(job.topkPromptLogprobs) || job.topkPromptLogprobs < 0) {
    throw new EngineUserError(`topk_prompt_logprobs must be a non-negative integer, got ${job.topkPromptLogprobs}`);
  }
  const topkSample = job.topkSampleLogprobs ?? 0;
  if (!Number.isInteger(topkSample) || topkSample < 0) {
    throw new EngineUserError(`topk_sample_logprobs must be a non-negative integer, got ${topkSample}`);
  }
  const T = job.prompt.length;
  const lastN = job.promptLogprobsLastN ?? null;
  if (lastN !== null && (!Number.isInteger(lastN) || lastN < 1 || lastN > T - 1)) {
    throw new EngineUserError(`prompt_logprobs_last_n must be an integer in [1, len(prompt) - 1 = ${T - 1}], got ${lastN}`);
  }
  const altK = job.promptAltTokensK ?? 0;
  if (!Number.isInteger(altK) || altK < 0) throw new EngineUserError(`prompt_alt_tokens_k must be a non-negative integer, got ${altK}`);
  if (job.promptTargets) {
    const { rows, ids } = job.promptTargets;
    if (rows.length !== ids.length) throw new EngineUserError(`prompt targets: ${rows.length} rows for ${ids.length} ids`);
    for (let c = 0; c < ids.length; c++) {
      const row = rows[c]!;
      if (!Number.isInteger(row) || row < 0 || row > T - 2 || (c > 0 && row < rows[c - 1]!)) {
        throw new EngineUserError(`prompt target ${c}: row ${row} is not a prompt row in order (rows 0..${T - 2}, non-decreasing)`);
      }
      const id = ids[c]!;
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new EngineUserError(`target_prompt_logprobs: token id ${id} is outside the vocabulary [0, ${vocabSize})`);
      }
    }
  }
  const budget = job.prompt.length + (p.maxTokens ?? 0);
  if (job.prompt.length > maxContextLength || budget > maxContextLength) {
    throw new EngineUserError(`prompt (${job.prompt.length} tokens) + max_tokens (${p.maxTokens ?? 0}) exceeds the model's context length ${maxContextLength}`);
  }
}

export function runSampling(ctx: SamplerContext, job: SampleJob): SampleResult {
  const { kernels: k, model } = ctx;
  const V = model.config.vocabSize;
  validateSampleJob(job, ctx.maxContextLength, V);
  const p = job.params;
  if (p.stopStrings.length > 0 && ctx.decode === null) throw new EngineUserError('stop strings need a tokenizer, and this model has none');
  const T = job.prompt.length;
  const maxTokens = p.maxTokens ?? ctx.maxContextLength - T;
  const n = job.numSamples;

  // Prefill the prompt once (one sequence), keeping the last row's distribution.
  let cache = createKvCache(model.config, 1, Math.min(ctx.maxContextLength, T + Math.min(maxTokens, ctx.initialDecodeCapacity ?? INITIAL_DECODE_CAPACITY)));
  const promptTokens = Int32Array.from(job.prompt);
  // Positions outside the last n (and the first, which nothing predicts) stay null.
  const promptLogprobs: (number | null)[] | null = job.promptLogprobs ? new Array(T).fill(null) : null;
  const topk: ([number, number][] | null)[] | null = job.topkPromptLogprobs > 0 ? new Array(T).fill(null) : null;
  const scoredFrom = T - 1 - (job.promptLogprobsLastN ?? T - 1); // first row whose prompt logprobs are reported
  const targets = job.promptTargets && job.promptTargets.ids.length > 0 ? job.promptTargets : null;
  const targetLogprobs: number[] | null = targets ? new Array(targets.ids.length) : null;
  const altK = job.promptAltTokensK ?? 0;
  const alt = altK > 0 ? { tokens: new Array<number>((T - 1) * altK), logprobs: new Array<number>((T - 1) * altK) } : null;
  const baseSeed = p.seed ?? randomInt(0, 2 ** 48 - 1);
  const altRng = alt ? new Prng(baseSeed, 'prompt_alt_tokens') : null;
  const drawer = alt ? new AltTokenDrawer(V, p.temperature, altK) : null;
  // The head runs only from the first row something is reported for (the last row always).
  let headFrom = T - 1;
  if (promptLogprobs || topk) headFrom = Math.min(headFrom, scoredFrom);
  if (targets) headFrom = Math.min(headFrom, targets.rows[0]!);
  if (alt) headFrom = 0;
  let nextCell = 0;
  const lastRow = new Float32Array(V);
  if (headFrom < T - 1) {
    forwardWithCache(k, model, ctx.adapter, cache, promptTokens, T, (rowStart, rowCount, chunk) => {
      k.logSoftmaxRows(chunk, rowCount, V);
      for (let r = 0; r < rowCount; r++) {
        const row = rowStart + r; // predicts prompt[row + 1]
        const lp = chunk.subarray(r * V, (r + 1) * V);
        if (row + 1 < T) {
          if (row >= scoredFrom) {
            if (promptLogprobs) promptLogprobs[row + 1] = lp[job.prompt[row + 1]];
            if (topk) topk[row + 1] = topKOf(lp, job.topkPromptLogprobs);
          }
          while (targets && nextCell < targets.ids.length && targets.rows[nextCell] === row) {
            targetLogprobs![nextCell] = lp[targets.ids[nextCell]!]!;
            nextCell++;
          }
          if (alt) drawer!.draw(lp, altRng!, alt.tokens, alt.logprobs, row * altK);
        } else {
          lastRow.set(lp);
        }
      }
    }, undefined, headFrom);
  } else {
    lastRow.set(forwardWithCache(k, model, ctx.adapter, cache, promptTokens, T, 'last')!);
    k.logSoftmaxRows(lastRow, 1, V);
  }

  const topkSample = job.topkSampleLogprobs ?? 0;
  const sequences: SampledSequence[] = Array.from({ length: n }, () => ({
    tokens: [],
    logprobs: [],
    ...(topkSample > 0 ? { topkLogprobs: [] } : {}),
    stopReason: 'length' as const,
  }));
  const extras: Pick<SampleResult, 'targetPromptLogprobs' | 'promptAltTokens'> = {
    ...(targetLogprobs ? { targetPromptLogprobs: targetLogprobs } : {}),
    ...(alt ? { promptAltTokens: alt } : {}),
  };
  if (maxTokens === 0) return { sequences, promptLogprobs, topkPromptLogprobs: topk, ...extras };

  const rngs = Array.from({ length: n }, (_, i) => new Prng(baseSeed, `sample.${i}`));
  const stopIds = new Set([...model.config.eosTokenIds, ...p.stopTokenIds]);
  const stops = new StopStringMatcher(p.stopStrings, ctx.decode);
  const picker = new TokenPicker(V, p.temperature, p.topK, p.topP);

  // Fork the prompt's cache into one slot per sample.
  let active = Array.from({ length: n }, (_, i) => i); // sample index of each cache slot
  cache = reshapeCache(cache, model.config.numLayers, new Array(n).fill(0), cache.capacity);
  let dist: Float32Array = new Float32Array(n * V);
  for (let s = 0; s < n; s++) dist.set(lastRow, s * V);

  // Unfiltered sampling draws every row in one kernel call, from the same uniforms the picker
  // would take (one per sample per step), so seeded outputs do not depend on the path.
  const drawnByKernel = p.temperature > 0 && !(p.topK > 0 && p.topK < V) && p.topP >= 1;
  const workspace = new DecodeWorkspace();
  for (let step = 0; ; step++) {
    const next = new Int32Array(active.length);
    const finished: number[] = [];
    if (drawnByKernel) {
      const uniforms = Float64Array.from(active, (sample) => rngs[sample].uniform());
      k.drawTokens(dist, active.length, V, p.temperature, uniforms, next);
    }
    active.forEach((sample, slot) => {
      const lp = dist.subarray(slot * V, (slot + 1) * V);
      const tok = drawnByKernel ? next[slot] : picker.pick(lp, rngs[sample]);
      const seq = sequences[sample];
      seq.tokens.push(tok);
      seq.logprobs.push(lp[tok]);
      seq.topkLogprobs?.push(topKOf(lp, topkSample));
      next[slot] = tok;
      if (stopIds.has(tok) || stops.matches(seq.tokens)) {
        seq.stopReason = 'stop';
        finished.push(slot);
      } else if (seq.tokens.length >= maxTokens) {
        finished.push(slot);
      }
    });
    if (finished.length === active.length) break;
    let tokens = next;
    if (finished.length > 0) {
      const keep = active.map((_, slot) => slot).filter((slot) => !finished.includes(slot));
      tokens = Int32Array.from(keep, (slot) => next[slot]);
      cache = reshapeCache(cache, model.config.numLayers, keep, cache.capacity);
      active = keep.map((slot) => active[slot]);
    }
    const needed = T + step + 1; // cache length once this step's token is fed
    if (needed > cache.capacity) {
      const grown = Math.min(ctx.maxContextLength, T + maxTokens, Math.max(needed, 2 * cache.capacity));
      cache = reshapeCache(cache, model.config.numLayers, active.map((_, slot) => slot), grown);
    }
    dist = forwardWithCache(k, model, ctx.adapter, cache, tokens, 1, 'last', workspace)!;
    k.logSoftmaxRows(dist, active.length, V);
  }
  return { sequences, promptLogprobs, topkPromptLogprobs: topk, ...extras };
}

/** A new cache holding the given slots of `src` (in that order) with the given capacity. */
function reshapeCache(src: KvCache, numLayers: number, slots: number[], capacity: number): KvCache {
  const per = src.k[0].length / (src.nSeq * src.capacity);
  const dst: KvCache = {
    nSeq: slots.length, capacity,
    k: [], v: [],
    lengths: Int32Array.from(slots, (s) => src.lengths[s]),
  };
  for (let l = 0; l < numLayers; l++) {
    const kd = new Float32Array(slots.length * capacity * per);
    const vd = new Float32Array(slots.length * capacity * per);
    slots.forEach((s, i) => {
      const from = s * src.capacity * per;
      const len = src.lengths[s] * per;
      kd.set(src.k[l].subarray(from, from + len), i * capacity * per);
      vd.set(src.v[l].subarray(from, from + len), i * capacity * per);
    });
    dst.k.push(kd);
    dst.v.push(vd);
  }
  return dst;
}

/** The k highest [tokenId, logprob] pairs of a row, best first (ties: lower id first). */
export function topKOf(row: Float32Array, kCount: number): [number, number][] {
  const k = Math.min(kCount, row.length);
  const ids: number[] = [];
  let floor = -Infinity; // smallest value currently kept once the list is full
  for (let i = 0; i < row.length; i++) {
    const x = row[i];
    if (ids.length === k && !(x > floor)) continue;
    let pos = ids.length;
    while (pos > 0 && row[ids[pos - 1]] < x) pos--;
    ids.splice(pos, 0, i);
    if (ids.length > k) ids.pop();
    if (ids.length === k) floor = row[ids[k - 1]];
  }
  return ids.map((i) => [i, row[i]]);
}

/**
 * Draws a token from a log-probability row: temperature, then top-k, then top-p (vLLM's order),
 * by inverse-CDF sampling over the kept tokens.
 */
export class TokenPicker {
  private readonly weights: Float64Array;

  constructor(private readonly vocab: number, private readonly temperature: number, private readonly topK: number, private readonly topP: number) {
    this.weights = new Float64Array(vocab);
  }

  pick(logprobs: Float32Array, rng: Prng): number {
    if (this.temperature === 0) return argmax(logprobs);
    const V = this.vocab;
    const invT = 1 / this.temperature;
    const topKOn = this.topK > 0 && this.topK < V;
    if (this.temperature === 1 && !topKOn && this.topP >= 1) {
      // Rows are normalised log-probabilities: walk the CDF directly, one exp per visited token.
      const u = rng.uniform();
      let cum = 0;
      for (let i = 0; i < V; i++) {
        cum += Math.exp(logprobs[i]);
        if (u < cum) return i;
      }
      // Rounding left the total a hair under u: the draw belongs to the last token with mass.
      for (let i = V - 1; i > 0; i--) if (logprobs[i] > -Infinity) return i;
      return 0;
    }
    let candidates: number[] | null = null;
    if (topKOn) candidates = topKOf(logprobs, this.topK).map(([i]) => i);
    // Unnormalised tempered weights exp((lp - max)/T) of the candidates.
    const max = logprobs[candidates ? candidates[0] : argmax(logprobs)];
    const w = this.weights;
    let total = 0;
    if (candidates) {
      for (const i of candidates) total += (w[i] = Math.exp((logprobs[i] - max) * invT));
    } else {
      for (let i = 0; i < V; i++) total += (w[i] = Math.exp((logprobs[i] - max) * invT));
    }
    if (this.topP < 1) {
      candidates = nucleus(w, total, this.topP, candidates);
      total = 0;
      for (const i of candidates) total += w[i];
    }
    let u = rng.uniform() * total;
    if (candidates) {
      for (const i of candidates) {
        u -= w[i];
        if (u < 0) return i;
      }
      return candidates[candidates.length - 1];
    }
    for (let i = 0; i < V; i++) {
      u -= w[i];
      if (u < 0) return i;
    }
    return argmax(logprobs);
  }
}

/**
 * Smallest highest-weight set whose mass reaches `topP` of `total` (at least one token), in
 * descending order. Only tokens above a threshold are sorted; the threshold is lowered until
 * the sorted set alone reaches the mass, which makes the result exact.
 */
function nucleus(w: Float64Array, total: number, topP: number, among: number[] | null): number[] {
  const target = topP * total;
  let wmax = 0;
  const all = among ?? null;
  const each = (fn: (i: number) => void) => {
    if (all) for (const i of all) fn(i);
    else for (let i = 0; i < w.length; i++) fn(i);
  };
  each((i) => { if (w[i] > wmax) wmax = w[i]; });
  for (let threshold = wmax * 1e-3; ; threshold *= 1e-3) {
    const cand: number[] = [];
    let mass = 0;
    each((i) => {
      if (w[i] >= threshold) {
        cand.push(i);
        mass += w[i];
      }
    });
    if (mass >= target || threshold < 1e-300) {
      cand.sort((a, b) => w[b] - w[a] || a - b);
      const kept: number[] = [];
      let cum = 0;
      for (const i of cand) {
        kept.push(i);
        cum += w[i];
        if (cum >= target) break;
      }
      return kept;
    }
  }
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/**
 * Checks whether the generated text contains a stop string. Only a window of recent tokens
 * is decoded each step (wide enough for the longest stop string even when characters span
 * several byte tokens), so the check costs the same at every length.
 */
class StopStringMatcher {
  private readonly window: number;

  constructor(private readonly stops: string[], private readonly decode: ((ids: number[]) => string) | null) {
    this.window = 4 * Math.max(0, ...stops.map((s) => s.length)) + 8;
  }

  matches(tokens: number[]): boolean {
    if (this.stops.length === 0 || this.decode === null) return false;
    const text = this.decode(tokens.slice(-this.window));
    return this.stops.some((s) => text.includes(s));
  }
}
